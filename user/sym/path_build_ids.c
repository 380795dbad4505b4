// SPDX-License-Identifier: MIT
/* Open addressing with linear probing over copied path strings. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/path_build_ids.h"

struct path_slot {
	char *path; /* NULL: free */
	const char *build_id;
};

struct path_build_ids {
	struct path_slot *slots;
	size_t cap, used; /* cap: a power of two, or 0 */
};

static uint64_t hash_path(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static struct path_slot *slot_for(struct path_slot *slots, size_t cap, const char *path)
{
	size_t i = hash_path(path) & (cap - 1);
	while (slots[i].path && strcmp(slots[i].path, path) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(struct path_build_ids *t)
{
	if ((t->used + 1) * 10 < t->cap * 7)
		return 0;
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct path_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].path)
			*slot_for(slots, cap, t->slots[i].path) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

struct path_build_ids *path_build_ids_new(void)
{
	return calloc(1, sizeof(struct path_build_ids));
}

void path_build_ids_free(struct path_build_ids *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].path);
	free(t->slots);
	free(t);
}

int path_build_ids_set(struct path_build_ids *t, const char *path, const char *build_id)
{
	if (t->cap) {
		struct path_slot *s = slot_for(t->slots, t->cap, path);
		if (s->path) {
			s->build_id = build_id;
			return 0;
		}
	}
	if (grow(t) < 0)
		return -1;
	char *copy = strdup(path);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	*slot_for(t->slots, t->cap, path) = (struct path_slot){ .path = copy, .build_id = build_id };
	t->used++;
	return 0;
}

const char *path_build_ids_get(const struct path_build_ids *t, const char *path)
{
	if (!t || !t->cap || !path)
		return NULL;
	return slot_for(t->slots, t->cap, path)->build_id;
}
