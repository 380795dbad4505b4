/* SPDX-License-Identifier: MIT */
/* C++ symbol demangling into a caller's buffer, through libiberty, without allocating. */
#ifndef BPFSPY_SYM_DEMANGLE_H
#define BPFSPY_SYM_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes the demangled form of symbol into out (size > 0), truncated to fit;
 * a symbol that is not a mangled C++ name is copied as is. Returns true if
 * it was demangled.
 */
bool demangle_symbol(const char *symbol, char *out, size_t size);

#endif
