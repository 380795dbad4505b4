// SPDX-License-Identifier: MIT
#include "util/hash_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY 64

void hash_map_init(struct hash_map *m, size_t key_size, size_t val_size)
{
	*m = (struct hash_map)HASH_MAP_INIT(key_size, val_size);
}

void hash_map_free(struct hash_map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	hash_map_init(m, m->key_size, m->val_size);
}

void hash_map_clear(struct hash_map *m)
{
	if (!m->cap)
		return;
	memset(m->keys, 0, m->cap * m->key_size);
	if (m->vals)
		memset(m->vals, 0, m->cap * m->val_size);
	memset(m->hashes, 0, m->cap * sizeof(*m->hashes));
	m->len = 0;
}

/* 0 marks an empty slot, so a key hashing to 0 is stored as 1: it only costs a shared probe run. */
static uint64_t stored_hash(uint64_t hash)
{
	return hash ? hash : 1;
}

static bool same_key(const struct hash_map *m, size_t slot, const void *probe, hash_map_equal_fn equal,
		     const void *ctx)
{
	const void *key = hash_map_key(m, slot);

	if (equal)
		return equal(key, probe, ctx);
	/* the common sizes as fixed-size copies, which compile to plain loads instead of a memcmp call */
	if (m->key_size == sizeof(uint32_t)) {
		uint32_t a, b;

		memcpy(&a, key, sizeof(a));
		memcpy(&b, probe, sizeof(b));
		return a == b;
	}
	if (m->key_size == sizeof(uint64_t)) {
		uint64_t a, b;

		memcpy(&a, key, sizeof(a));
		memcpy(&b, probe, sizeof(b));
		return a == b;
	}
	return memcmp(key, probe, m->key_size) == 0;
}

size_t hash_map_find(const struct hash_map *m, uint64_t hash, const void *probe, hash_map_equal_fn equal,
		     const void *ctx)
{
	if (!m->len)
		return HASH_MAP_NONE;
	hash = stored_hash(hash);
	for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->hashes[i])
			return HASH_MAP_NONE;
		if (m->hashes[i] == hash && same_key(m, i, probe, equal, ctx))
			return i;
	}
}

/* The first empty slot of hash's probe run. */
static size_t free_slot(const struct hash_map *m, uint64_t hash)
{
	size_t i = hash & (m->cap - 1);

	while (m->hashes[i])
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void put(struct hash_map *m, size_t slot, uint64_t hash, const void *key, const void *val)
{
	m->hashes[slot] = hash;
	memcpy(hash_map_key(m, slot), key, m->key_size);
	if (m->val_size) {
		if (val)
			memcpy(hash_map_val(m, slot), val, m->val_size);
		else
			memset(hash_map_val(m, slot), 0, m->val_size);
	}
}

static int grow_to(struct hash_map *m, size_t cap)
{
	struct hash_map bigger = *m;

	bigger.cap = cap;
	bigger.keys = calloc(bigger.cap, m->key_size);
	bigger.vals = m->val_size ? calloc(bigger.cap, m->val_size) : NULL;
	bigger.hashes = calloc(bigger.cap, sizeof(*bigger.hashes));
	if (!bigger.keys || (m->val_size && !bigger.vals) || !bigger.hashes) {
		free(bigger.keys);
		free(bigger.vals);
		free(bigger.hashes);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->hashes[i])
			put(&bigger, free_slot(&bigger, m->hashes[i]), m->hashes[i], hash_map_key(m, i),
			    m->val_size ? hash_map_val(m, i) : NULL);
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	*m = bigger;
	return 0;
}

int hash_map_reserve(struct hash_map *m, size_t entries)
{
	size_t cap = m->cap ? m->cap : MIN_CAPACITY;

	if (entries > SIZE_MAX / 4) {
		errno = ENOMEM;
		return -1;
	}
	while (cap < entries * 2)
		cap *= 2;
	return cap > m->cap ? grow_to(m, cap) : 0;
}

size_t hash_map_insert(struct hash_map *m, uint64_t hash, const void *key, const void *val)
{
	/* linear probing degrades fast above a load factor of 1/2 */
	if ((m->len + 1) * 2 > m->cap && grow_to(m, m->cap ? m->cap * 2 : MIN_CAPACITY) < 0)
		return HASH_MAP_NONE;
	hash = stored_hash(hash);
	size_t slot = free_slot(m, hash);

	put(m, slot, hash, key, val);
	m->len++;
	return slot;
}

static void empty_slot(struct hash_map *m, size_t slot)
{
	m->hashes[slot] = 0;
	memset(hash_map_key(m, slot), 0, m->key_size);
	if (m->val_size)
		memset(hash_map_val(m, slot), 0, m->val_size);
}

void hash_map_remove_at(struct hash_map *m, size_t slot)
{
	size_t mask = m->cap - 1, hole = slot;

	/*
	 * Backward-shift deletion: an entry later in the run moves into the hole
	 * unless its home slot lies cyclically after the hole, so no lookup ever
	 * stops early at the hole and no tombstones pile up.
	 */
	for (size_t i = (slot + 1) & mask; m->hashes[i]; i = (i + 1) & mask) {
		size_t home = m->hashes[i] & mask;

		if (((i - home) & mask) < ((i - hole) & mask))
			continue;
		put(m, hole, m->hashes[i], hash_map_key(m, i), m->val_size ? hash_map_val(m, i) : NULL);
		hole = i;
	}
	empty_slot(m, hole);
	m->len--;
}

uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t hash_u64_pair(uint64_t a, uint64_t b)
{
	return hash_u64(a ^ hash_u64(b));
}

uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t hash_string(const char *s)
{
	return hash_bytes(HASH_SEED, s, strlen(s));
}
