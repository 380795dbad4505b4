/* SPDX-License-Identifier: MIT */
/* Open-addressing hash map from a non-zero u32 (pid, tid) to a pointer. */
#ifndef BPFSPY_U32MAP_H
#define BPFSPY_U32MAP_H

#include <stddef.h>
#include <stdint.h>

struct u32map {
	uint32_t *keys; /* 0 = empty */
	void **vals;
	size_t cap, len;
};

void *u32map_get(const struct u32map *m, uint32_t key);
int u32map_put(struct u32map *m, uint32_t key, void *val); /* 0 or -1 (ENOMEM); key must be != 0 */
void *u32map_remove(struct u32map *m, uint32_t key);
void u32map_free(struct u32map *m);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->keys && m->keys[i]) ... */

#endif
