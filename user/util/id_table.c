// SPDX-License-Identifier: MIT
#include "util/id_table.h"

#include <string.h>

/* What a lookup hands hash_map_find: the caller's match and its arguments. */
struct id_probe {
	id_table_match_fn match;
	const void *ctx, *key;
};

static bool id_matches(const void *stored_key, const void *probe, const void *unused)
{
	const struct id_probe *p = probe;
	uint32_t id;

	(void)unused;
	memcpy(&id, stored_key, sizeof(id));
	return p->match(p->ctx, id, p->key);
}

/* The id kept in slot's key or value, or ID_NONE when the lookup found no slot. */
static uint32_t id_in_slot(const struct hash_map *m, size_t slot, bool in_value)
{
	uint32_t id;

	if (slot == HASH_MAP_NONE)
		return ID_NONE;
	memcpy(&id, in_value ? hash_map_val(m, slot) : hash_map_key(m, slot), sizeof(id));
	return id;
}

void id_table_free(struct id_table *t)
{
	hash_map_free(&t->map);
}

uint32_t id_table_find(const struct id_table *t, uint64_t hash, id_table_match_fn match, const void *ctx,
		       const void *key)
{
	struct id_probe probe = { .match = match, .ctx = ctx, .key = key };
	return id_in_slot(&t->map, hash_map_find(&t->map, hash, &probe, id_matches, NULL), false);
}

int id_table_insert(struct id_table *t, uint64_t hash, uint32_t id)
{
	/* a zero-initialised index has not been told its sizes yet */
	t->map.key_size = sizeof(id);
	t->map.val_size = 0;
	return hash_map_insert(&t->map, hash, &id, NULL) == HASH_MAP_NONE ? -1 : 0;
}

void id_map_free(struct id_map *m)
{
	hash_map_free(&m->map);
}

uint32_t id_map_get(const struct id_map *m, uint64_t key)
{
	return id_in_slot(&m->map, hash_map_find(&m->map, hash_u64(key), &key, NULL, NULL), true);
}

int id_map_put(struct id_map *m, uint64_t key, uint32_t id)
{
	m->map.key_size = sizeof(key);
	m->map.val_size = sizeof(id);
	return hash_map_insert(&m->map, hash_u64(key), &key, &id) == HASH_MAP_NONE ? -1 : 0;
}
