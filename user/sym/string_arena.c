// SPDX-License-Identifier: MIT
#include "sym/string_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int string_arena_add(struct string_arena *a, const char *s, size_t len, uint32_t *offset)
{
	if (len >= UINT32_MAX || a->len > UINT32_MAX - len - 1) {
		errno = EOVERFLOW;
		return -1;
	}
	size_t need = a->len + len + 1;
	if (need > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *data = realloc(a->data, cap);
		if (!data)
			return -1;
		a->data = data;
		a->cap = cap;
	}
	memcpy(a->data + a->len, s, len);
	a->data[a->len + len] = '\0';
	*offset = (uint32_t)a->len;
	a->len = need;
	return 0;
}

void string_arena_shrink(struct string_arena *a)
{
	if (a->len == 0 || a->len == a->cap)
		return;
	char *data = realloc(a->data, a->len);
	if (data) {
		a->data = data;
		a->cap = a->len;
	}
}

void string_arena_free(struct string_arena *a)
{
	free(a->data);
	a->data = NULL;
	a->len = a->cap = 0;
}
