/* SPDX-License-Identifier: MIT */
/*
 * The one hash table: open addressing with linear probing, keys and values
 * of caller-given sizes stored in the table, and the caller's 64-bit hash
 * stored next to each key. Storing the hash means growth never hashes a key
 * again and a probe compares a number before it compares keys, so a key can
 * also stand for something kept elsewhere (an id into the caller's array),
 * compared through the caller's equal() with a probe of any type.
 *
 * Lookups allocate nothing; the load factor stays at or under 1/2. Slot
 * indices and key/value pointers are valid until the next insert or remove.
 */
#ifndef BPFSPY_UTIL_HASH_MAP_H
#define BPFSPY_UTIL_HASH_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_MAP_NONE SIZE_MAX

struct hash_map {
	void *keys;       /* cap keys of key_size bytes; all-zero in an empty slot */
	void *vals;       /* cap values of val_size bytes; NULL when val_size is 0 */
	size_t cap, len;  /* cap is 0 or a power of two */
	uint64_t *hashes; /* each slot's hash, never 0; 0 marks an empty slot */
	size_t key_size, val_size;
};

/* A static initializer: the same as hash_map_init. */
#define HASH_MAP_INIT(key_size_, val_size_) { .key_size = (key_size_), .val_size = (val_size_) }

/* An empty table; val_size may be 0 (a set, or an index whose keys are ids). */
void hash_map_init(struct hash_map *m, size_t key_size, size_t val_size);
/* Frees the slots; the table stays usable (empty) with the same sizes. */
void hash_map_free(struct hash_map *m);
/* Empties the table but keeps its slots. */
void hash_map_clear(struct hash_map *m);

/*
 * Whether the key in a slot matches the probe a lookup was given. NULL in
 * hash_map_find: the probe is a key, compared byte for byte.
 */
typedef bool (*hash_map_equal_fn)(const void *stored_key, const void *probe, const void *ctx);

/* The slot of the entry with this hash whose key matches probe, or HASH_MAP_NONE. */
size_t hash_map_find(const struct hash_map *m, uint64_t hash, const void *probe, hash_map_equal_fn equal,
		     const void *ctx);

/*
 * Adds key with this hash and a copy of *val (zeroes when val is NULL); the
 * caller knows the key is absent. Returns its slot, or HASH_MAP_NONE (ENOMEM).
 */
size_t hash_map_insert(struct hash_map *m, uint64_t hash, const void *key, const void *val);

/* Makes room for entries in all without growing again (one allocation for a table whose size is known). */
int hash_map_reserve(struct hash_map *m, size_t entries);

/* Removes the entry in slot; entries after it in its probe run move back. */
void hash_map_remove_at(struct hash_map *m, size_t slot);

static inline bool hash_map_slot_used(const struct hash_map *m, size_t slot)
{
	return m->hashes[slot] != 0;
}

static inline void *hash_map_key(const struct hash_map *m, size_t slot)
{
	return (char *)m->keys + slot * m->key_size;
}

static inline void *hash_map_val(const struct hash_map *m, size_t slot)
{
	return (char *)m->vals + slot * m->val_size;
}

/* ---- hash functions for the keys bpfspy has ---- */

/* splitmix64's finalizer: a bijection whose every input bit reaches the low bits a table masks with. */
uint64_t hash_u64(uint64_t x);

/* Two 64-bit words (a pair of addresses, a device and an inode). */
uint64_t hash_u64_pair(uint64_t a, uint64_t b);

/* FNV-1a over bytes, continuing from h (start with HASH_SEED). */
#define HASH_SEED 0xcbf29ce484222325ULL
uint64_t hash_bytes(uint64_t h, const void *data, size_t len);

/* A NUL-terminated string (without its NUL). */
uint64_t hash_string(const char *s);

#endif
