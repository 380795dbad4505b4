// SPDX-License-Identifier: MIT
#include "sym/path_build_ids.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash_map.h"

/* copied path (char *) -> build-id (const char *, not owned) */
struct path_build_ids {
	struct hash_map paths;
};

static bool same_path(const void *stored_key, const void *probe, const void *ctx)
{
	return strcmp(*(char *const *)stored_key, probe) == 0;
}

static size_t find(const struct path_build_ids *t, const char *path, uint64_t *hash)
{
	*hash = hash_string(path);
	return hash_map_find(&t->paths, *hash, path, same_path, NULL);
}

struct path_build_ids *path_build_ids_new(void)
{
	struct path_build_ids *t = malloc(sizeof(*t));
	if (t)
		hash_map_init(&t->paths, sizeof(char *), sizeof(const char *));
	return t;
}

void path_build_ids_free(struct path_build_ids *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->paths.cap; i++)
		if (hash_map_slot_used(&t->paths, i))
			free(*(char **)hash_map_key(&t->paths, i));
	hash_map_free(&t->paths);
	free(t);
}

int path_build_ids_set(struct path_build_ids *t, const char *path, const char *build_id)
{
	uint64_t hash;
	size_t slot = find(t, path, &hash);
	if (slot != HASH_MAP_NONE) {
		*(const char **)hash_map_val(&t->paths, slot) = build_id;
		return 0;
	}
	char *copy = strdup(path);
	if (!copy || hash_map_insert(&t->paths, hash, &copy, &build_id) == HASH_MAP_NONE) {
		free(copy);
		return -1;
	}
	return 0;
}

const char *path_build_ids_get(const struct path_build_ids *t, const char *path)
{
	if (!t || !path)
		return NULL;
	uint64_t hash;
	size_t slot = find(t, path, &hash);
	return slot == HASH_MAP_NONE ? NULL : *(const char **)hash_map_val(&t->paths, slot);
}
