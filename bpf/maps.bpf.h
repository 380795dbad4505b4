/* SPDX-License-Identifier: MIT */
/* Maps and settings shared by the programs of sampler.bpf.c. */
#ifndef BPFSPY_MAPS_BPF_H
#define BPFSPY_MAPS_BPF_H

#include "bpfspy_events.h"
#include "pyoffsets.h"

/*
 * A global added to this file is a global of user/python/py_bpf_walker.c
 * too (the walker built for userspace): give it a rename there.
 */

/*
 * A function the verifier checks once, on its own, from its argument types
 * alone; a static function is checked again at every call, in every state
 * its caller can be in. The walkers' loops are such functions: it cut
 * sample_stack's verification from 47k to 13k instructions (about 45 ms of
 * every bpfspy start). At most five arguments, scalars or pointers to
 * memory (possibly NULL); the result is a scalar the caller must bound.
 * The userspace build of the walker makes them static.
 */
#ifndef BPF_SUBPROG
#define BPF_SUBPROG __attribute__((noinline))
#endif

/* Set by the loader before load. */
const volatile bool follow_all = false;      /* -a: every process */
const volatile bool follow_children = true;  /* new processes of followed ones are followed */
const volatile bool collect_kernel = false;  /* --kernel */
const volatile __u32 py_max_depth = BPFSPY_DEFAULT_PY_DEPTH;
const volatile __u32 self_tgid = 0;          /* bpfspy itself is never sampled */
const volatile __u64 wakeup_bytes = 1 << 20; /* wake the reader once this much is queued */
const volatile __u32 stack_snapshot_bytes = 0; /* --native: copy this much of the user stack */
/* kernel unwinding: the copy when a process with tables meets code mapped since (an import) */
const volatile __u32 new_code_snapshot_bytes = 0;
/* --native: samples with Python frames need their native stack too (default mode: only the others) */
const volatile bool native_merge = false;
const volatile bool offcpu = false;           /* --idle: record off-CPU time from sched_switch */
const volatile bool kernel_unwind = false;    /* unwind user stacks in the kernel where tables are loaded */
const volatile bool unwind_compare = false;   /* --unwind compare: also send the snapshot of CFI samples */
const volatile __u32 native_max_frames = BPFSPY_DEFAULT_NATIVE_FRAMES; /* --max-native-frames */

/* Written by userspace while running. */
__u32 pending_py_procs = 0; /* processes waiting for libpython to be mapped */

#define MAX_FOLLOWED BPFSPY_MAX_FOLLOWED
#define MAX_PY_PROCS 8192
#define MAX_THREADS 65536
#define CODE_SEEN_SLOTS 262144

/*
 * Hash maps that only grow with what is followed are not preallocated:
 * preallocating 65536 entries costs tens of milliseconds of bpfspy's start.
 */

/* tgid -> enum follow_state */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_FOLLOWED);
	__type(key, __u32);
	__type(value, __u8);
} followed SEC(".maps");

/* tgid -> how to walk its Python frames (filled by userspace, copied to a forked child) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_PY_PROCS);
	__type(key, __u32);
	__type(value, struct py_proc);
} py_procs SEC(".maps");

/* tgid -> 1 while userspace waits for its libpython mapping */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} py_pending SEC(".maps");

/*
 * The two caches below are direct-mapped: a slot chosen by hash holds the
 * last key stored there. An LRU hash map would keep more, but the kernel
 * preallocates and links every one of its entries at load (about 0.3 us
 * each: 5 ms of every start for 16384 entries, 80 ms with -a), where an
 * array is one zeroed allocation. A key pushed out costs a walk of the
 * thread list or a code object sent again, never a wrong answer: a thread
 * state is re-validated on use, and a code object is marked only after its
 * bytes reached the ring buffer. The loader sizes both to a power of two.
 */
const volatile __u32 tstate_cache_mask = MAX_THREADS - 1;
const volatile __u32 code_seen_mask = CODE_SEEN_SLOTS - 1;

struct tstate_cache_entry {
	__u32 tid;
	__u32 _pad;
	__u64 fsbase;
	__u64 tstate;
};

/* slot (tid) -> the PyThreadState found for that thread last time (re-validated on use) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct tstate_cache_entry);
} tstate_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20);
} events SEC(".maps");

/* One sample under construction: header + user ips + kernel ips + Python frames + stack snapshot. */
#define SAMPLE_BUF_SIZE                                                                     \
	(sizeof(struct bpfspy_sample) + 8 * (BPFSPY_MAX_USER_FRAMES + BPFSPY_MAX_KERNEL_FRAMES) + \
	 sizeof(struct py_frame_rec) * BPFSPY_MAX_PY_DEPTH + BPFSPY_MAX_STACK_SNAPSHOT)

struct sample_buf {
	__u8 data[SAMPLE_BUF_SIZE];
};

/*
 * Indexed by 2 * CPU + kind: too large for a per-CPU value (32 KiB limit).
 * The loader sizes it to twice the number of possible CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_buf);
} scratch SEC(".maps");

/* Two buffers per CPU: on-CPU samples and scheduler (off-CPU) samples. */
enum sample_buffer_kind { SAMPLE_BUF_ONCPU = 0, SAMPLE_BUF_OFFCPU = 1 };

static __always_inline struct sample_buf *sample_buffer(__u32 kind)
{
	__u32 idx = bpf_get_smp_processor_id() * 2 + kind;
	return bpf_map_lookup_elem(&scratch, &idx);
}


/* tid -> when it left the CPU (also the key of its pending sample) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} offcpu_since SEC(".maps");

struct code_key {
	__u32 tgid;
	__u32 _pad;
	__u64 code;
	__u64 sig;
};

/* slot (hash of the key) -> a (process, code object, sig) already sent to userspace with its bytes */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CODE_SEEN_SLOTS);
	__type(key, __u32);
	__type(value, struct code_key);
} code_seen SEC(".maps");

struct code_buf {
	__u8 data[sizeof(struct bpfspy_code_event) + CODE_CAPTURE_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct code_buf);
} code_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++;
}

static __always_inline bool is_followed(__u32 tgid)
{
	if (tgid == 0 || tgid == self_tgid)
		return false;
	if (follow_all)
		return true;
	__u8 *f = bpf_map_lookup_elem(&followed, &tgid);
	return f && *f == FOLLOW_YES;
}

static __always_inline __u64 ringbuf_flags(void)
{
	/* Batch wakeups: the reader also drains on a short timer. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									       : BPF_RB_NO_WAKEUP;
}

#endif
