// SPDX-License-Identifier: MIT
#include "util/u32map.h"

#include <errno.h>
#include <stddef.h>

/* the typed view must lie exactly over the generic table's fields */
_Static_assert(offsetof(struct u32map, keys) == offsetof(struct hash_map, keys), "keys");
_Static_assert(offsetof(struct u32map, vals) == offsetof(struct hash_map, vals), "vals");
_Static_assert(offsetof(struct u32map, cap) == offsetof(struct hash_map, cap), "cap");
_Static_assert(offsetof(struct u32map, len) == offsetof(struct hash_map, len), "len");

static size_t slot_of(const struct u32map *m, uint32_t key)
{
	return hash_map_find(&m->map, hash_u64(key), &key, NULL, NULL);
}

void *u32map_get(const struct u32map *m, uint32_t key)
{
	size_t slot = key ? slot_of(m, key) : HASH_MAP_NONE;

	return slot == HASH_MAP_NONE ? NULL : m->vals[slot];
}

int u32map_put(struct u32map *m, uint32_t key, void *val)
{
	if (!key) {
		errno = EINVAL;
		return -1;
	}
	size_t slot = slot_of(m, key);

	if (slot != HASH_MAP_NONE) {
		m->vals[slot] = val;
		return 0;
	}
	/* a zero-initialised map has not been told its sizes yet */
	m->map.key_size = sizeof(key);
	m->map.val_size = sizeof(val);
	return hash_map_insert(&m->map, hash_u64(key), &key, &val) == HASH_MAP_NONE ? -1 : 0;
}

void *u32map_remove(struct u32map *m, uint32_t key)
{
	size_t slot = key ? slot_of(m, key) : HASH_MAP_NONE;

	if (slot == HASH_MAP_NONE)
		return NULL;
	void *val = m->vals[slot];

	hash_map_remove_at(&m->map, slot);
	return val;
}

void u32map_free(struct u32map *m)
{
	hash_map_free(&m->map);
}

void u32map_free_with(struct u32map *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			free_value(m->vals[i]);
	u32map_free(m);
}
