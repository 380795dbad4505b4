/* SPDX-License-Identifier: MIT */
/*
 * What --native needs to know about each mapped ELF file: its unwind table
 * and where its eval loop is (if it is a Python interpreter). Built once per
 * build-id, so one libpython serves 500 processes, and looked up per mapping
 * by (device, inode).
 */
#ifndef BPFSPY_NATIVE_UNWIND_CACHE_H
#define BPFSPY_NATIVE_UNWIND_CACHE_H

#include <stdbool.h>
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

/* The code of the file behind mapping m of pid, built on first use; NULL if it cannot be read (failures are cached). */
const struct module_code *unwind_cache_get(struct unwind_cache *c, pid_t pid, const struct proc_map *m);

/*
 * Tables are built when a walk needs them, not for every file a process maps:
 * a libm or ld.so that no stack goes through costs nothing. A walk that
 * stopped in m's file (the kernel's, which has no stack copy of its own to
 * resolve it) asks for it here; unwind_cache_resolve builds it then.
 */
void unwind_cache_want(struct unwind_cache *c, const struct proc_map *m);

/*
 * The executable mappings of maps, sorted, as the unwinders want them: start
 * and end only, from[i] the proc_map of out[i]. Returns how many, at most cap.
 */
size_t unwind_cache_mappings(const struct proc_maps *maps, struct unwind_mapping *out, const struct proc_map **from,
			     size_t cap);

/*
 * Completes out (table, load bias) from the module of mapping m, which it
 * builds on first use when build, or when it was wanted; otherwise a module
 * not built yet sets *deferred (may be NULL) and out gets no table. Returns
 * the module, or NULL.
 */
const struct module_code *unwind_cache_resolve(struct unwind_cache *c, pid_t pid, const struct proc_map *m,
					       bool build, struct unwind_mapping *out, bool *deferred);

/* Where the tables built from now on keep their rows (NULL: the heap); see struct unwind_row_store. */
void unwind_cache_set_row_store(struct unwind_cache *c, const struct unwind_row_store *store);

/* Distinct files whose tables were built (for stats and tests). */
size_t unwind_cache_tables_built(const struct unwind_cache *c);

#endif
