/* SPDX-License-Identifier: MIT */
/* Hash map from a non-zero u32 (pid, tid) to a pointer: a typed view of util/hash_map. */
#ifndef BPFSPY_U32MAP_H
#define BPFSPY_U32MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/hash_map.h"

/*
 * The first fields of the generic table, seen with their types: keys are
 * u32 (0 in an empty slot), values pointers. Zero-initialised is empty.
 */
struct u32map {
	union {
		struct {
			uint32_t *keys; /* 0 = empty */
			void **vals;
			size_t cap, len;
		};
		struct hash_map map;
	};
};

void *u32map_get(const struct u32map *m, uint32_t key);
int u32map_put(struct u32map *m, uint32_t key, void *val); /* 0 or -1 (ENOMEM); key must be != 0 */
void *u32map_remove(struct u32map *m, uint32_t key);
void u32map_free(struct u32map *m);
/* Calls free_value on every value (e.g. free), then u32map_free. */
void u32map_free_with(struct u32map *m, void (*free_value)(void *));

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->keys && m->keys[i]) ... */

#endif
