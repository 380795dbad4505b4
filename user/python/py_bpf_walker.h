/* SPDX-License-Identifier: MIT */
/*
 * The BPF Python walker (bpf/pystack.bpf.h) compiled as plain C: the one
 * frame walker, run by the kernel on a sample and by userspace on a memory
 * source of its choosing — a live process (bpfspy dump) or memory recorded
 * from one (the replay tests, the way OTel's profiler tests its interpreter
 * support on core dumps). Not thread-safe: one walk at a time in bpfspy.
 */
#ifndef BPFSPY_PY_BPF_WALKER_H
#define BPFSPY_PY_BPF_WALKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfspy_events.h"
#include "pyoffsets.h"

/* Where the walker's reads of the target go. */
struct py_walker_source {
	/* len bytes at addr into buf: 0, or -1 (the walker sees a failed bpf_probe_read_user) */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
	/* code objects met for the first time in this walk, as the EV_CODE events BPF sends; NULL: none captured */
	void (*code_event)(void *ctx, const struct bpfspy_code_event *e, size_t size);
	/* each frame before it is read: false ends the walk as torn (SAMPLE_PY_ERROR); NULL: all taken */
	bool (*frame_ok)(void *ctx, uint64_t frame_addr);
};

struct py_walker_result {
	size_t n;	  /* frames written */
	uint32_t flags;	  /* SAMPLE_PY_* */
	uint64_t tstate;  /* the thread state walked (0: none found) */
};

/*
 * Walks the frames of thread state tstate of process proc into frames[] and
 * their addresses into addrs[] (may be NULL), at most max (<=
 * BPFSPY_MAX_PY_DEPTH), innermost first, exactly as the BPF walker does.
 */
void py_bpf_walk_tstate(const struct py_walker_source *src, const struct py_proc *proc, uint64_t tstate,
			size_t max, struct py_frame_rec *frames, uint64_t *addrs, struct py_walker_result *res);

/* The same for the thread whose fs_base is fsbase, found as a sample finds it (SAMPLE_PY_NO_TSTATE if not). */
void py_bpf_walk_thread(const struct py_walker_source *src, const struct py_proc *proc, uint32_t tid,
			uint64_t fsbase, size_t max, struct py_frame_rec *frames, uint64_t *addrs,
			struct py_walker_result *res);

#endif
