/* SPDX-License-Identifier: MIT */
/* Reading CPython objects (strings, bytes) out of another process. Private to user/python/. */
#ifndef BPFSPY_PY_OBJECTS_H
#define BPFSPY_PY_OBJECTS_H

#include "python/py_layout.h"
#include "python/py_memory.h"

/* Longest string kept, in characters; names past it are truncated. */
#define PY_STRING_MAX_CHARS 4096
/* Largest line table read; a bigger one is treated as unreadable. */
#define PY_LINETABLE_MAX (1u << 20)

/* The str at addr as malloc'd UTF-8, or NULL. */
char *py_read_string(const struct py_mem *mem, const struct py_target *t, uint64_t addr);
/* The bytes object at addr: malloc'd data and its length, or -1. */
int py_read_bytes(const struct py_mem *mem, const struct py_target *t, uint64_t addr, uint8_t **data,
		  size_t *len);

#endif
