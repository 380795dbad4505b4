/* SPDX-License-Identifier: MIT */
/*
 * Names a frame, whatever its source, through one call: a kernel address
 * (kallsyms), a user address in a process (its ELF file's symbols, debug
 * file or MiniDebugInfo, the vDSO, a stripped CPython's method tables, or
 * the start of its function's FDE), or a Python frame record (the code
 * object's names and line table). Each source's reader lives in its layer
 * (sym/, python/, native/); this is where they meet. Normalization (which
 * file and build-id an address is in) is separate: sym/normalize.h.
 */
#ifndef BPFSPY_SYMBOLIZE_SYMBOLIZER_H
#define BPFSPY_SYMBOLIZE_SYMBOLIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfspy_events.h"
#include "profile/profile.h"
#include "sym/native_symbols.h"
#include "process/target_process.h"

enum symbol_source {
	SYMBOL_SOURCE_KERNEL = 0, /* a kernel text address */
	SYMBOL_SOURCE_USER,       /* a user address in the process (sampled ip, or a return address) */
	SYMBOL_SOURCE_PYTHON,     /* a Python frame record the BPF walker sent */
};

struct symbol_query {
	enum symbol_source source;
	uint64_t addr;            /* KERNEL, USER */
	bool is_return;           /* USER: a return address (the call is at addr - 1) */
	const struct py_frame_rec *py; /* PYTHON */
};

/* How Python lines are shown: py-spy's --function and --nolineno. */
struct symbolizer_options {
	bool function_only; /* a frame's line is its function's first */
	bool no_lineno;     /* no lines */
};

struct native_mode;
struct symbolizer;

/* elf: the ELF cache; native: --native's unwinder (names stripped functions by their FDE), or NULL. */
struct symbolizer *symbolizer_new(const struct symbolizer_options *o, struct elf_cache *elf,
				  struct native_mode *native);
void symbolizer_free(struct symbolizer *s);

/*
 * Names q in process p (NULL when the process could not be read; ignored for
 * kernel addresses) into out, whose strings stay valid until the next call.
 * A user address outside p's maps snapshot may re-read the maps (the
 * stale-maps policy). Returns false when the source had no name: out still
 * holds a placeholder ("<unknown>", an address).
 */
bool symbolizer_name(struct symbolizer *s, struct target_process *p, const struct symbol_query *q,
		     struct frame_desc *out);

#endif
