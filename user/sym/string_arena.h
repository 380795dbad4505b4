/* SPDX-License-Identifier: MIT */
/*
 * Append-only store of NUL-terminated strings, addressed by 32-bit offsets so
 * that symbol tables stay compact and survive the store being reallocated.
 */
#ifndef BPFSPY_SYM_STRING_ARENA_H
#define BPFSPY_SYM_STRING_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct string_arena {
	char *data;
	size_t len, cap;
};

/* Appends s[0..len) plus a NUL; returns 0 and its offset, or -1 (ENOMEM/EOVERFLOW). */
int string_arena_add(struct string_arena *a, const char *s, size_t len, uint32_t *offset);
/* Gives back unused capacity once the arena is complete. */
void string_arena_shrink(struct string_arena *a);
void string_arena_free(struct string_arena *a);

static inline const char *string_arena_get(const struct string_arena *a, uint32_t offset)
{
	return a->data + offset;
}

#endif
