// SPDX-License-Identifier: MIT
#include "util/string_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

#define MAX_BLOCKS ((size_t)1 << (32 - STRING_ARENA_BLOCK_SHIFT))

/* Adds a block of size bytes at the end of the block list; its index, or -1. */
static int add_block(struct string_arena *a, size_t size, size_t *index)
{
	if (a->nblocks >= MAX_BLOCKS) {
		errno = EOVERFLOW;
		return -1;
	}
	if (array_reserve((void **)&a->blocks, &a->cap_blocks, a->nblocks + 1, sizeof(*a->blocks)) != 0)
		return -1;
	char *block = malloc(size);

	if (!block)
		return -1;
	a->blocks[a->nblocks] = block;
	*index = a->nblocks++;
	return 0;
}

int string_arena_add(struct string_arena *a, const char *s, size_t len, uint32_t *ref)
{
	size_t need = len + 1;
	size_t block, offset;

	if (len >= UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if (need > STRING_ARENA_BLOCK_SIZE) {
		/*
		 * A string larger than a block gets a block of its own at offset 0;
		 * the block being filled stays the one new strings go to.
		 */
		if (add_block(a, need, &block) < 0)
			return -1;
		offset = 0;
	} else {
		if (a->fill_size - a->fill_used < need) {
			if (add_block(a, STRING_ARENA_BLOCK_SIZE, &a->fill) < 0)
				return -1;
			a->fill_used = 0;
			a->fill_size = STRING_ARENA_BLOCK_SIZE;
		}
		block = a->fill;
		offset = a->fill_used;
		a->fill_used += need;
	}
	memcpy(a->blocks[block] + offset, s, len);
	a->blocks[block][offset + len] = '\0';
	*ref = (uint32_t)(block << STRING_ARENA_BLOCK_SHIFT | offset);
	return 0;
}

const char *string_arena_strdup(struct string_arena *a, const char *s)
{
	uint32_t ref;

	if (string_arena_add(a, s, strlen(s), &ref) < 0)
		return NULL;
	return string_arena_get(a, ref);
}

void string_arena_shrink(struct string_arena *a)
{
	if (a->fill_used == a->fill_size)
		return;
	char *block = realloc(a->blocks[a->fill], a->fill_used);

	if (block) {
		a->blocks[a->fill] = block;
		a->fill_size = a->fill_used;
	}
}

void string_arena_free(struct string_arena *a)
{
	for (size_t i = 0; i < a->nblocks; i++)
		free(a->blocks[i]);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}
