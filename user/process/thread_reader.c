// SPDX-License-Identifier: MIT
#include "process/thread_reader.h"

#include <stdlib.h>
#include <string.h>

#include "python/py_memory.h"
#include "util/array.h"

#define WALK_ATTEMPTS 20
#define MAX_SET_THREADS 4096

int py_thread_set_keep(const struct py_thread_stack *st, void *arg)
{
	struct py_thread_set *s = arg;
	if (s->n == MAX_SET_THREADS)
		return 0;
	if (array_reserve((void **)&s->threads, &s->cap, s->n + 1, sizeof(*s->threads)) != 0)
		return -1;
	struct py_thread_frames *t = &s->threads[s->n];
	*t = (struct py_thread_frames){ .thread_id = st->thread_id, .tstate = st->tstate,
					.native_thread_id = st->native_thread_id, .n = st->n_frames,
					.truncated = st->truncated, .changing = st->changing };
	s->n++; /* counted before the copies, so that py_thread_set_clear frees a half-made one */
	if (st->n_frames) {
		t->frames = malloc(st->n_frames * sizeof(*t->frames));
		t->addrs = malloc(st->n_frames * sizeof(*t->addrs));
		if (!t->frames || !t->addrs)
			return -1;
		memcpy(t->frames, st->frames, st->n_frames * sizeof(*t->frames));
		memcpy(t->addrs, st->frame_addrs, st->n_frames * sizeof(*t->addrs));
	}
	return 0;
}

void py_thread_set_clear(struct py_thread_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->threads[i].frames);
		free(s->threads[i].addrs);
	}
	free(s->threads);
	memset(s, 0, sizeof(*s));
}

int py_thread_set_read(pid_t pid, const struct py_target *t, size_t max_frames, struct py_thread_set *out)
{
	memset(out, 0, sizeof(*out));
	for (int attempt = 0; attempt < WALK_ATTEMPTS; attempt++) {
		py_thread_set_clear(out);
		if (py_walk_thread_stacks(pid, t, max_frames, py_thread_set_keep, out) == 0)
			return 0;
	}
	py_thread_set_clear(out);
	return -1;
}

const struct py_thread_frames *py_thread_set_find(const struct py_thread_set *s, uint64_t thread_id)
{
	for (size_t i = 0; thread_id && i < s->n; i++)
		if (s->threads[i].thread_id == thread_id)
			return &s->threads[i];
	return NULL;
}

size_t thread_read_user_stack(pid_t pid, uint64_t sp, uint8_t *buf, size_t len)
{
	struct py_mem mem;
	size_t got = 0;
	py_mem_open(&mem, pid);
	while (got < len) {
		uint64_t addr = sp + got;
		size_t chunk = 4096 - (size_t)(addr & 4095);
		if (chunk > len - got)
			chunk = len - got;
		if (py_mem_read(&mem, addr, buf + got, chunk) != 0)
			break;
		got += chunk;
	}
	py_mem_close(&mem);
	return got;
}

size_t thread_walk_frame_pointers(pid_t pid, uint64_t ip, uint64_t bp, uint64_t sp, uint64_t *ips, size_t max)
{
	struct py_mem mem;
	size_t n = 0;
	if (!max || !ip)
		return 0;
	ips[n++] = ip;
	py_mem_open(&mem, pid);
	/* frames grow towards higher addresses: a chain going down or far away is not one */
	for (uint64_t prev = sp; n < max && bp > prev && bp - prev < (64u << 20) && !(bp & 7);) {
		uint64_t link[2];
		if (py_mem_read(&mem, bp, link, sizeof(link)) != 0 || !link[1])
			break;
		ips[n++] = link[1];
		prev = bp;
		bp = link[0];
	}
	py_mem_close(&mem);
	return n;
}
