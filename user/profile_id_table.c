// SPDX-License-Identifier: MIT
#include "profile_id_table.h"

#include <errno.h>
#include <stdlib.h>

#define ID_TABLE_MIN_CAPACITY 64

void id_table_free(struct id_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

uint64_t id_hash_u64(uint64_t key)
{
	/* splitmix64 finalizer: a bijection, and every input bit affects the low bits we mask with */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return key;
}

uint64_t id_hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint32_t id_table_find(const struct id_table *t, uint64_t hash,
		       id_table_match_fn match, const void *ctx, const void *key)
{
	if (!t->slots)
		return ID_NONE;
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		const struct id_slot *s = &t->slots[i];

		if (s->id == ID_NONE)
			return ID_NONE;
		if (s->hash == hash && (!match || match(ctx, s->id, key)))
			return s->id;
	}
}

static void place(struct id_slot *slots, size_t mask, uint64_t hash, uint32_t id)
{
	size_t i = hash & mask;

	while (slots[i].id != ID_NONE)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].id = id;
}

static int grow(struct id_table *t)
{
	size_t old_cap = t->slots ? t->mask + 1 : 0;
	size_t cap = old_cap ? old_cap * 2 : ID_TABLE_MIN_CAPACITY;
	struct id_slot *slots = malloc(cap * sizeof(*slots));

	if (!slots) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < cap; i++)
		slots[i].id = ID_NONE;
	for (size_t i = 0; i < old_cap; i++)
		if (t->slots[i].id != ID_NONE)
			place(slots, cap - 1, t->slots[i].hash, t->slots[i].id);
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

int id_table_insert(struct id_table *t, uint64_t hash, uint32_t id)
{
	/* keep the load factor under 1/2: linear probing degrades fast above that */
	if (!t->slots || (t->count + 1) * 2 > t->mask + 1)
		if (grow(t) < 0)
			return -1;
	place(t->slots, t->mask, hash, id);
	t->count++;
	return 0;
}
