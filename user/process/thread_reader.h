/* SPDX-License-Identifier: MIT */
/*
 * What a blocked thread of another process looks like, read from user space:
 * the Python stacks of its process's thread states (as the BPF walker reports
 * them), its user stack bytes and its frame-pointer chain. The recorder uses
 * it for threads BPF could not sample when they left the CPU: blocked since
 * before the attach, or before Python was detected in their process.
 */
#ifndef BPFSPY_THREAD_READER_H
#define BPFSPY_THREAD_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/python.h"

struct py_thread_frames {
	uint64_t thread_id; /* pthread_self(): the thread's fs_base, as BPF matches it */
	uint64_t tstate, native_thread_id;
	struct py_frame_rec *frames; /* innermost first */
	uint64_t *addrs;             /* where each frame is */
	size_t n;
	bool truncated, changing;
};

struct py_thread_set {
	struct py_thread_frames *threads;
	size_t n, cap;
};

/*
 * Walks every thread state of pid (retrying torn reads of running threads).
 * Returns 0, or -1 if no walk succeeded (out is then empty).
 */
int py_thread_set_read(pid_t pid, const struct py_target *t, size_t max_frames, struct py_thread_set *out);
/*
 * A py_walk callback (arg: a struct py_thread_set) that keeps a copy of each
 * thread's stack, for walkers other than py_thread_set_read's.
 */
int py_thread_set_keep(const struct py_thread_stack *st, void *arg);
const struct py_thread_frames *py_thread_set_find(const struct py_thread_set *s, uint64_t thread_id);
void py_thread_set_clear(struct py_thread_set *s);

/* Copies up to len bytes of pid's stack from sp, page by page; returns the bytes read. */
size_t thread_read_user_stack(pid_t pid, uint64_t sp, uint8_t *buf, size_t len);

/* ip, then the return addresses of the frame-pointer chain from bp; returns how many (<= max). */
size_t thread_walk_frame_pointers(pid_t pid, uint64_t ip, uint64_t bp, uint64_t sp, uint64_t *ips, size_t max);

#endif
