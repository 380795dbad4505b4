/* SPDX-License-Identifier: MIT */
/*
 * An index of objects the caller keeps in its own array: a 64-bit hash the
 * caller computes -> the object's uint32 id. Only ids are stored; a lookup
 * compares candidates through the caller's match(), so one index serves
 * frames, interned strings and rows without copying keys. When the key is
 * an integer (a pid, a packed pair of ids), struct id_map stores it and
 * needs no callback. Both are typed uses of util/hash_map; zero-initialised
 * is empty.
 */
#ifndef BPFSPY_UTIL_ID_TABLE_H
#define BPFSPY_UTIL_ID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash_map.h"

#define ID_NONE UINT32_MAX

struct id_table {
	struct hash_map map;
};

/* Returns true when the object with this id equals the key being looked up. */
typedef bool (*id_table_match_fn)(const void *ctx, uint32_t id, const void *key);

void id_table_free(struct id_table *t);

/* The id of the entry with this hash that match() accepts, or ID_NONE. */
uint32_t id_table_find(const struct id_table *t, uint64_t hash, id_table_match_fn match, const void *ctx,
		       const void *key);

/* Adds an entry the caller knows is absent. Returns 0, or -1 (ENOMEM). */
int id_table_insert(struct id_table *t, uint64_t hash, uint32_t id);

/* An integer key -> id. */
struct id_map {
	struct hash_map map;
};

void id_map_free(struct id_map *m);
/* The id stored for key, or ID_NONE. */
uint32_t id_map_get(const struct id_map *m, uint64_t key);
/* Adds key, which the caller knows is absent. Returns 0, or -1 (ENOMEM). */
int id_map_put(struct id_map *m, uint64_t key, uint32_t id);

#endif
