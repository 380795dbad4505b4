// SPDX-License-Identifier: MIT
/*
 * bpf/pystack.bpf.h compiled as plain C. The helpers it calls are defined
 * here: reads go to the walk's memory source, map lookups return this file's
 * buffers (the thread-state and code caches are always empty, so every walk
 * finds its thread state and meets its code objects afresh), ring-buffer
 * output goes to the source's code_event callback.
 */
#include "python/py_bpf_walker.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <string.h>

/* libbpf's map-definition macros: in C they declare harmless pointer members */
#define SEC(name)
#define __uint(name, val) int(*name)[val]
#define __type(name, val) __typeof__(val) *name
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#define BPF_SUBPROG static /* verified alone in BPF; here a plain function of this file */

/*
 * The helpers, and the walker's maps and settings, stay inside this file:
 * libbpf's own bpf_map_lookup_elem(fd, ...) must keep its name in bpfspy.
 */
#define bpf_probe_read_user walker_probe_read_user
#define bpf_map_lookup_elem walker_map_lookup_elem
#define bpf_loop walker_loop
#define bpf_ringbuf_output walker_ringbuf_output
#define bpf_ringbuf_query walker_ringbuf_query
#define bpf_get_smp_processor_id walker_smp_processor_id
static long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr);
static void *bpf_map_lookup_elem(void *map, const void *key);
static long bpf_loop(__u32 nr_loops, void *callback_fn, void *ctx, __u64 flags);
static long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags);
static __u64 bpf_ringbuf_query(void *ringbuf, __u64 flags);
static __u32 bpf_get_smp_processor_id(void);

#define follow_all walker_follow_all
#define follow_children walker_follow_children
#define collect_kernel walker_collect_kernel
#define py_max_depth walker_py_max_depth
#define self_tgid walker_self_tgid
#define wakeup_bytes walker_wakeup_bytes
#define stack_snapshot_bytes walker_stack_snapshot_bytes
#define new_code_snapshot_bytes walker_new_code_snapshot_bytes
#define native_merge walker_native_merge
#define offcpu walker_offcpu
#define kernel_unwind walker_kernel_unwind
#define unwind_compare walker_unwind_compare
#define native_max_frames walker_native_max_frames
#define pending_py_procs walker_pending_py_procs
#define followed walker_followed
#define py_procs walker_py_procs
#define py_pending walker_py_pending
#define tstate_cache walker_tstate_cache
#define events walker_events
#define scratch walker_scratch
#define offcpu_since walker_offcpu_since
#define code_seen walker_code_seen
#define code_seen_mask walker_code_seen_mask
#define tstate_cache_mask walker_tstate_cache_mask
#define code_scratch walker_code_scratch
#define stats walker_stats_map
#define py_walks walker_py_walks

static bool frame_ok(__u32 index, __u64 frame_addr);
#define PYSTACK_FRAME_OK(index, frame_addr) frame_ok((index), (frame_addr))
struct code_key;
static struct code_key *code_seen_slot(void);
#define PYSTACK_CODE_SEEN_SLOT(tgid, code, sig) code_seen_slot()

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../bpf/pystack.bpf.h"
#pragma GCC diagnostic pop

#define WALK_TGID 1 /* any: the maps here hold one process, the one being walked */

static const struct py_walker_source *walk_source;
static uint64_t *walk_addrs; /* each frame's address, or NULL */
static struct py_proc walk_proc;
static struct sample_buf walk_sample;
static struct code_buf walk_code;
static struct py_walk_state walk_state;
static __u64 walk_stats[STAT_MAX];

static long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr)
{
	if (walk_source && walk_source->read(walk_source->ctx, (uint64_t)(uintptr_t)unsafe_ptr, dst, size) == 0)
		return 0;
	memset(dst, 0, size);
	return -EFAULT;
}

static void *bpf_map_lookup_elem(void *map, const void *key)
{
	if (map == (void *)&py_procs)
		return *(const __u32 *)key == WALK_TGID ? &walk_proc : NULL;
	if (map == (void *)&scratch)
		return *(const __u32 *)key == SAMPLE_BUF_ONCPU ? &walk_sample : NULL;
	if (map == (void *)&code_scratch)
		return &walk_code;
	if (map == (void *)&py_walks)
		return *(const __u32 *)key == SAMPLE_BUF_ONCPU ? &walk_state : NULL;
	if (map == (void *)&stats)
		return *(const __u32 *)key < STAT_MAX ? &walk_stats[*(const __u32 *)key] : NULL;
	return NULL; /* tstate_cache: empty */
}

/* Without a consumer every code object counts as already sent (no slot); with one, none does. */
static struct code_key *code_seen_slot(void)
{
	static struct code_key never_sent;

	if (!walk_source || !walk_source->code_event)
		return NULL;
	memset(&never_sent, 0, sizeof(never_sent));
	return &never_sent;
}

static long bpf_loop(__u32 nr_loops, void *callback_fn, void *ctx, __u64 flags)
{
	long (*step)(__u32, void *) = (long (*)(__u32, void *))callback_fn;
	__u32 i = 0;

	while (i < nr_loops && step(i++, ctx) == 0)
		;
	return i;
}

static long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags)
{
	if (walk_source && walk_source->code_event && size >= sizeof(struct bpfspy_code_event))
		walk_source->code_event(walk_source->ctx, data, size);
	return 0;
}

static __u64 bpf_ringbuf_query(void *ringbuf, __u64 flags) { return 0; }

static __u32 bpf_get_smp_processor_id(void) { return 0; }

static bool frame_ok(__u32 index, __u64 frame_addr)
{
	if (walk_addrs)
		walk_addrs[index] = frame_addr;
	return !walk_source || !walk_source->frame_ok || walk_source->frame_ok(walk_source->ctx, frame_addr);
}

static void finish(size_t n, __u32 flags, uint64_t tstate, struct py_frame_rec *frames,
		   struct py_walker_result *res)
{
	memcpy(frames, walk_sample.data, n * sizeof(*frames));
	*res = (struct py_walker_result){ .n = n, .flags = flags, .tstate = tstate };
	walk_source = NULL;
	walk_addrs = NULL;
}

static void start(const struct py_walker_source *src, const struct py_proc *proc, uint64_t *addrs)
{
	walk_source = src;
	walk_proc = *proc;
	walk_addrs = addrs;
}

void py_bpf_walk_tstate(const struct py_walker_source *src, const struct py_proc *proc, uint64_t tstate,
			size_t max, struct py_frame_rec *frames, uint64_t *addrs, struct py_walker_result *res)
{
	__u32 flags = 0, n;

	start(src, proc, addrs);
	n = walk_frames(SAMPLE_BUF_ONCPU, WALK_TGID, tstate, &walk_proc, 0, (__u32)max, &flags);
	finish(n, flags, tstate, frames, res);
}

void py_bpf_walk_thread(const struct py_walker_source *src, const struct py_proc *proc, uint32_t tid,
			uint64_t fsbase, size_t max, struct py_frame_rec *frames, uint64_t *addrs,
			struct py_walker_result *res)
{
	struct py_walk_request r = { .buf = SAMPLE_BUF_ONCPU, .tgid = WALK_TGID, .tid = tid, .max = (__u32)max,
				     .fsbase = fsbase };

	start(src, proc, addrs);
	__u32 n = walk_python(&r, &walk_proc);
	finish(n, r.flags, r.tstate, frames, res);
}
