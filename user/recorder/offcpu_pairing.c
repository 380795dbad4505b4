// SPDX-License-Identifier: MIT
#include "recorder/offcpu_pairing.h"

#include <stdlib.h>
#include <string.h>

#include "util/u32map.h"

struct offcpu_pairing {
	struct u32map open; /* tid -> struct offcpu_interval */
};

void offcpu_interval_free(struct offcpu_interval *iv)
{
	if (iv) {
		free(iv->raw);
		free(iv->tasks);
	}
	free(iv);
}

struct offcpu_pairing *offcpu_pairing_new(void)
{
	return calloc(1, sizeof(struct offcpu_pairing));
}

void offcpu_pairing_free(struct offcpu_pairing *op)
{
	if (!op)
		return;
	u32map_free_with(&op->open, (void (*)(void *))offcpu_interval_free);
	free(op);
}

void offcpu_pairing_hold(struct offcpu_pairing *op, const struct bpfspy_sample *s, size_t size, bool keep_raw,
			 const uint32_t *frames, size_t n)
{
	struct offcpu_interval *iv = malloc(sizeof(*iv) + n * sizeof(uint32_t));
	if (!iv)
		return;
	iv->pid = s->pid;
	iv->tid = s->tid;
	iv->since_ns = s->ts_ns;
	iv->raw = keep_raw ? malloc(size) : NULL;
	iv->tasks = NULL;
	iv->ntask_stacks = 0;
	if (iv->raw)
		memcpy(iv->raw, s, size);
	iv->n = n;
	memcpy(iv->frames, frames, n * sizeof(uint32_t));
	offcpu_interval_free(u32map_remove(&op->open, s->tid));
	if (u32map_put(&op->open, s->tid, iv) != 0)
		offcpu_interval_free(iv);
}

void offcpu_pairing_attach_tasks(struct offcpu_pairing *op, uint32_t tid, uint64_t since_ns, uint32_t *tasks,
				 size_t ntask_stacks)
{
	struct offcpu_interval *iv = u32map_get(&op->open, tid);
	if (!iv || iv->since_ns != since_ns || !ntask_stacks) {
		free(tasks);
		return;
	}
	free(iv->tasks);
	iv->tasks = tasks;
	iv->ntask_stacks = ntask_stacks;
}

struct offcpu_interval *offcpu_pairing_end(struct offcpu_pairing *op, uint32_t tid, uint64_t since_ns)
{
	struct offcpu_interval *iv = u32map_get(&op->open, tid);
	if (!iv || iv->since_ns != since_ns)
		return NULL;
	return u32map_remove(&op->open, tid);
}

static struct offcpu_interval *find_of(const struct offcpu_pairing *op, uint32_t pid, bool with_raw)
{
	for (size_t i = 0; i < op->open.cap; i++) {
		struct offcpu_interval *iv = op->open.keys[i] ? op->open.vals[i] : NULL;
		if (iv && (!pid || iv->pid == pid) && (!with_raw || iv->raw))
			return iv;
	}
	return NULL;
}

struct offcpu_interval *offcpu_pairing_take(struct offcpu_pairing *op, uint32_t pid)
{
	struct offcpu_interval *iv = find_of(op, pid, false);
	return iv ? u32map_remove(&op->open, iv->tid) : NULL;
}

void *offcpu_pairing_take_raw(struct offcpu_pairing *op, uint32_t pid)
{
	struct offcpu_interval *iv = find_of(op, pid, true);
	if (!iv)
		return NULL;
	void *raw = iv->raw;
	iv->raw = NULL;
	return raw;
}

const struct offcpu_interval *offcpu_pairing_next(const struct offcpu_pairing *op, size_t *cursor)
{
	while (*cursor < op->open.cap) {
		size_t i = (*cursor)++;
		if (op->open.keys[i])
			return op->open.vals[i];
	}
	return NULL;
}
