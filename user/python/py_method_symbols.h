/* SPDX-License-Identifier: MIT */
/*
 * Names for the static C functions of a stripped CPython binary, read from
 * the interpreter's own tables: the PyMethodDef arrays of its modules and
 * types (builtin_sum is "builtins.sum", list_sort is "list.sort") and the
 * slots of its static type objects (map_next is "map.__next__"). Function
 * extents come from .eh_frame, so a name covers exactly its function.
 *
 * Binaries with a .symtab or a debug file do not need this: their real
 * names win.
 */
#ifndef BPFSPY_PYTHON_PY_METHOD_SYMBOLS_H
#define BPFSPY_PYTHON_PY_METHOD_SYMBOLS_H

#include <gelf.h>
#include <stdint.h>

#include "sym/native_symbols.h"

/* Called once per named function: [start, start + size). Return nonzero to stop. */
typedef elf_function_fn py_method_symbol_fn;

/*
 * Scans a 64-bit little-endian ELF image. Returns the number of functions
 * named (0 for a file that is not CPython), the callback's nonzero value, or
 * -1 when out of memory.
 */
long py_method_symbols_scan(Elf *elf, py_method_symbol_fn fn, void *ctx);

/*
 * Where the scan may name a function, found at a fraction of its cost: *ranges
 * gets malloc'd [start, end) pairs, sorted, outside which it names nothing.
 * Returns their count (0 for a file that is not CPython), or -1 when that
 * cannot be known cheaply (no .eh_frame_hdr, out of memory).
 */
long py_method_symbols_candidates(Elf *elf, uint64_t **ranges);

/* Both as a source of names for stripped files (sym's elf_cache_new, elf_symbols_load_named). */
extern const struct elf_name_source py_method_names;

#endif
