// SPDX-License-Identifier: MIT
/* The module table: native file path -> build-id recorded with it. */
#include "profile/profile_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t path_hash(const char *path)
{
	return hash_bytes(HASH_SEED, path, strlen(path));
}

static bool module_matches(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const struct module_table *)ctx)->modules[id].path, key) == 0;
}

static uint32_t find_module(const struct module_table *t, const char *path)
{
	return id_table_find(&t->index, path_hash(path), module_matches, t, path);
}

void module_table_free(struct module_table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free((char *)t->modules[i].path);
		free((char *)t->modules[i].build_id);
	}
	free(t->modules);
	id_table_free(&t->index);
	memset(t, 0, sizeof(*t));
}

int profile_add_module(struct profile *p, const char *path, const char *build_id)
{
	struct module_table *t = &p->modules;

	if (!path || !build_id) {
		errno = EINVAL;
		return -1;
	}
	uint32_t id = find_module(t, path);

	if (id != ID_NONE) {
		struct profile_module *m = &t->modules[id];

		if (m->build_id[0] || !build_id[0])
			return 0;
		char *copy = strdup(build_id);

		if (!copy)
			return -1;
		free((char *)m->build_id);
		m->build_id = copy;
		return 0;
	}
	if (t->count >= ID_NONE - 1 || array_reserve((void **)&t->modules, &t->cap, t->count + 1, sizeof(*t->modules)) < 0)
		return -1;
	char *path_copy = strdup(path), *id_copy = strdup(build_id);

	if (!path_copy || !id_copy || id_table_insert(&t->index, path_hash(path), (uint32_t)t->count) < 0) {
		free(path_copy);
		free(id_copy);
		errno = ENOMEM;
		return -1;
	}
	t->modules[t->count++] = (struct profile_module){ .path = path_copy, .build_id = id_copy };
	return 0;
}

size_t profile_module_count(const struct profile *p)
{
	return p->modules.count;
}

const struct profile_module *profile_module_at(const struct profile *p, size_t idx)
{
	return idx < p->modules.count ? &p->modules.modules[idx] : NULL;
}

const struct profile_module *profile_find_module(const struct profile *p, const char *path)
{
	uint32_t id = path ? find_module(&p->modules, path) : ID_NONE;

	return id != ID_NONE ? &p->modules.modules[id] : NULL;
}

const struct profile_module *profile_frame_module(const struct profile *p, uint32_t frame_id)
{
	const struct frame_desc *d = profile_frame(p, frame_id);

	return d && d->kind == FRAME_NATIVE ? profile_find_module(p, d->file) : NULL;
}
