/* SPDX-License-Identifier: MIT */
/*
 * Open-addressing hash index from a caller-computed 64-bit hash to a uint32 id.
 * The table stores only (hash, id); the caller owns the keyed objects and
 * compares them through a callback, so one table type serves frames, stack
 * nodes, threads and processes without copying keys.
 */
#ifndef BPFSPY_PROFILE_ID_TABLE_H
#define BPFSPY_PROFILE_ID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_NONE UINT32_MAX

struct id_slot {
	uint64_t hash;
	uint32_t id; /* ID_NONE marks an empty slot */
};

struct id_table {
	struct id_slot *slots;
	size_t mask;  /* capacity - 1; capacity is a power of two, 0 before first insert */
	size_t count;
};

/* Returns true when the object with this id equals the key being looked up. */
typedef bool (*id_table_match_fn)(const void *ctx, uint32_t id, const void *key);

void id_table_free(struct id_table *t);

/*
 * The id of the entry with this hash that match() accepts, or ID_NONE.
 * match may be NULL when the hash is a bijection of the key (id_hash_u64):
 * equal hashes then mean equal keys, and the lookup touches no other memory.
 */
uint32_t id_table_find(const struct id_table *t, uint64_t hash,
		       id_table_match_fn match, const void *ctx, const void *key);

/* Adds an entry the caller knows is absent. Returns 0, or -1 (ENOMEM). */
int id_table_insert(struct id_table *t, uint64_t hash, uint32_t id);

/* A cheap, well-mixing 64-bit hash of an integer key. */
uint64_t id_hash_u64(uint64_t key);

/* FNV-1a over bytes, continuing from h (start with ID_HASH_SEED). */
#define ID_HASH_SEED 0xcbf29ce484222325ULL
uint64_t id_hash_bytes(uint64_t h, const void *data, size_t len);

#endif
