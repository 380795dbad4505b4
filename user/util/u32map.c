// SPDX-License-Identifier: MIT
#include "util/u32map.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(uint32_t key, size_t cap)
{
	return (size_t)(key * 2654435761u) & (cap - 1);
}

void *u32map_get(const struct u32map *m, uint32_t key)
{
	if (!m->cap || !key)
		return NULL;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (!m->keys[i])
			return NULL;
	}
}

static int grow(struct u32map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint32_t *keys = calloc(cap, sizeof(*keys));
	void **vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = slot_of(m->keys[i], cap);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int u32map_put(struct u32map *m, uint32_t key, void *val)
{
	if (!key) {
		errno = EINVAL;
		return -1;
	}
	if ((m->len + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	size_t i = slot_of(key, m->cap);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

void *u32map_remove(struct u32map *m, uint32_t key)
{
	if (!m->cap || !key)
		return NULL;
	size_t i = slot_of(key, m->cap);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		return NULL;
	void *val = m->vals[i];
	m->keys[i] = 0;
	m->vals[i] = NULL;
	m->len--;
	/* re-insert the rest of the cluster so lookups never stop early */
	for (size_t j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
		uint32_t k = m->keys[j];
		void *v = m->vals[j];
		m->keys[j] = 0;
		m->vals[j] = NULL;
		m->len--;
		u32map_put(m, k, v);
	}
	return val;
}

void u32map_free(struct u32map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->len = 0;
}
