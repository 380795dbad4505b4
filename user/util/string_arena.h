/* SPDX-License-Identifier: MIT */
/*
 * Append-only store of NUL-terminated strings that live as long as the
 * arena. Strings are packed into fixed-size blocks that never move, so a
 * string can be kept either as a plain pointer (the profile's frame names)
 * or as a 32-bit reference (symbol tables, where half the size of a pointer
 * keeps millions of entries compact). A zero-initialised arena is empty.
 */
#ifndef BPFSPY_UTIL_STRING_ARENA_H
#define BPFSPY_UTIL_STRING_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* A reference is the block index above these bits and the offset in the block below. */
#define STRING_ARENA_BLOCK_SHIFT 16
#define STRING_ARENA_BLOCK_SIZE ((size_t)1 << STRING_ARENA_BLOCK_SHIFT)

struct string_arena {
	char **blocks;
	size_t nblocks, cap_blocks;
	size_t fill;      /* index of the block new strings go to */
	size_t fill_used; /* bytes taken in it */
	size_t fill_size; /* its size; 0 when there is none to fill */
};

/*
 * Appends s[0..len) plus a NUL; returns 0 and its reference, or -1
 * (ENOMEM, or EOVERFLOW once 2^16 blocks are used).
 */
int string_arena_add(struct string_arena *a, const char *s, size_t len, uint32_t *ref);

/* Copies the NUL-terminated s; returns the copy (valid until string_arena_free) or NULL. */
const char *string_arena_strdup(struct string_arena *a, const char *s);

/*
 * Gives back the unused tail of the block being filled once the arena is
 * complete. References stay valid; pointers taken earlier may not.
 */
void string_arena_shrink(struct string_arena *a);

void string_arena_free(struct string_arena *a);

static inline const char *string_arena_get(const struct string_arena *a, uint32_t ref)
{
	return a->blocks[ref >> STRING_ARENA_BLOCK_SHIFT] + (ref & (STRING_ARENA_BLOCK_SIZE - 1));
}

#endif
