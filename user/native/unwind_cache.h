/* SPDX-License-Identifier: MIT */
/*
 * What --native needs to know about each mapped ELF file: its unwind table
 * and where its eval loop is (if it is a Python interpreter). Built once per
 * build-id, so one libpython serves 500 processes, and looked up per mapping
 * by (device, inode).
 */
#ifndef BPFSPY_NATIVE_UNWIND_CACHE_H
#define BPFSPY_NATIVE_UNWIND_CACHE_H

#include <stddef.h>
#include <sys/types.h>

#include "python/py_eval_code.h"
#include "sym/native_symbols.h"
#include "unwind/unwind.h"

struct module_code {
	struct unwind_table *table; /* NULL: the file has no usable CFI */
	struct eval_code eval;	    /* eval.found: the file is python or libpython */
};

struct unwind_cache;

struct unwind_cache *unwind_cache_new(struct elf_cache *elf);
void unwind_cache_free(struct unwind_cache *c);

/* The code of the file behind mapping m of pid; NULL if it cannot be read (failures are cached). */
const struct module_code *unwind_cache_get(struct unwind_cache *c, pid_t pid, const struct proc_map *m);

/*
 * The executable mappings of maps as the snapshot unwinder wants them (sorted,
 * with bias and table), and the module of each in codes[i] (may be NULL).
 * Returns how many were written, at most cap.
 */
size_t unwind_cache_address_space(struct unwind_cache *c, pid_t pid, const struct proc_maps *maps,
				  struct unwind_mapping *out, const struct module_code **codes, size_t cap);

/* Distinct files whose tables were built (for stats and tests). */
size_t unwind_cache_tables_built(const struct unwind_cache *c);

#endif
