/* SPDX-License-Identifier: MIT */
/*
 * Walks the CPython frames of the current thread from BPF. Knows no CPython
 * version: everything comes from struct py_proc, filled by userspace.
 *
 * Thread state: matched by tstate->thread_id == task fs_base (pthread_self on
 * x86_64 glibc), which works for every version, static or shared builds, with
 * or without the GIL, and across PID namespaces. The match is cached per tid
 * and re-validated with one read on each use.
 */
#ifndef BPFSPY_PYSTACK_BPF_H
#define BPFSPY_PYSTACK_BPF_H

#include "maps.bpf.h"

#define MAX_TSTATE_STEPS 4096 /* threads over all interpreters */

static __always_inline __u64 read_user_u64(__u64 addr)
{
	__u64 v = 0;
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr))
		return 0;
	return v;
}

struct tstate_walk {
	__u64 fsbase;
	__u64 interp;
	__u64 ts;
	__u64 found;
	__u16 interp_next, threads_head, ts_next, ts_thread_id, ts_interp;
	/* set when a thread's state was looked up, not cached: a thread BPF has not seen before (or an
	 * evicted one); sample_ringbuf_flags consumes it */
	__u8 uncached;
};

struct frame_walk {
	__u32 buf;
	__u32 tgid;
	__u64 frame;
	__u32 base;  /* byte offset of the first py_frame_rec in the scratch buffer */
	__u32 n;     /* frames written */
	__u32 max;
	__u32 error;
	struct py_offsets off;
};

/*
 * The walks' state lives in a map value, not on the stack: the verifier knows
 * every stack slot's value and checks a bpf_loop callback again for each
 * distinct state the previous iteration left there (the thread-state walk 41
 * times, 3,100 instructions), where a map value's bytes are unknown to it and
 * the callback is checked once or twice. Per CPU and sample buffer kind, as
 * the sample buffers: an on-CPU sample may interrupt the scheduler hook's walk.
 */
struct py_walk_state {
	struct tstate_walk tstate;
	struct frame_walk frames;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* enum sample_buffer_kind */
	__type(key, __u32);
	__type(value, struct py_walk_state);
} py_walks SEC(".maps");

static long tstate_walk_step(__u32 i, struct tstate_walk **ctx)
{
	struct tstate_walk *w = *ctx;

	if (w->ts) {
		/* a thread state that does not point back at its interpreter was freed under us: the list is stale */
		if (read_user_u64(w->ts + w->ts_interp) != w->interp)
			return 1;
		if (read_user_u64(w->ts + w->ts_thread_id) == w->fsbase) {
			w->found = w->ts;
			return 1;
		}
		w->ts = read_user_u64(w->ts + w->ts_next);
		return 0;
	}
	if (!w->interp)
		return 1;
	w->interp = read_user_u64(w->interp + w->interp_next);
	if (!w->interp)
		return 1;
	w->ts = read_user_u64(w->interp + w->threads_head);
	return 0;
}

static __always_inline __u64 find_tstate(__u32 buf, __u32 tid, __u64 fsbase, const struct py_proc *py)
{
	const struct py_offsets *o = &py->off;
	__u32 slot = tid & tstate_cache_mask;
	struct tstate_cache_entry *c = bpf_map_lookup_elem(&tstate_cache, &slot);

	if (c && c->tid == tid && c->fsbase == fsbase && c->tstate &&
	    read_user_u64(c->tstate + o->ts_thread_id) == fsbase)
		return c->tstate;

	struct py_walk_state *s = bpf_map_lookup_elem(&py_walks, &buf);
	if (!s)
		return 0;
	struct tstate_walk *w = &s->tstate;
	w->fsbase = fsbase;
	w->interp_next = o->interp_next;
	w->threads_head = o->interp_threads_head;
	w->ts_next = o->ts_next;
	w->ts_thread_id = o->ts_thread_id;
	w->ts_interp = o->ts_interp;
	w->found = 0;
	w->interp = read_user_u64(py->runtime_addr + o->rt_interpreters_head);
	if (!w->interp)
		return 0;
	w->ts = read_user_u64(w->interp + o->interp_threads_head);
	bpf_loop(MAX_TSTATE_STEPS, tstate_walk_step, &w, 0);
	w->uncached = w->found != 0;
	if (w->found && c) {
		c->tid = tid;
		c->fsbase = fsbase;
		c->tstate = w->found;
	}
	return w->found;
}

/*
 * Copies one region of the target into the capture buffer; a string or line
 * table may sit near the end of a mapping, so a shorter read is tried before
 * giving up.
 */
static __always_inline __u32 capture_region(__u8 *dst, __u32 max, __u64 addr)
{
	if (!addr)
		return 0;
	if (!bpf_probe_read_user(dst, max, (const void *)addr))
		return max;
	if (max > 0x60 && !bpf_probe_read_user(dst, 0x60, (const void *)addr))
		return 0x60;
	return 0;
}

static __always_inline __u64 captured_ptr(const __u8 *obj, __u32 off)
{
	if (off > CODE_OBJECT_CAPTURE_MAX - 8)
		return 0;
	return *(const __u64 *)(obj + off);
}

/* Sends the bytes of a code object userspace has not seen yet. Returns 0 when sent. */
BPF_SUBPROG int capture_code(__u32 tgid, __u64 code, __u64 sig)
{
	__u32 zero = 0;
	struct py_proc *py = bpf_map_lookup_elem(&py_procs, &tgid);
	struct code_buf *b = bpf_map_lookup_elem(&code_scratch, &zero);
	if (!py || !b)
		return -1;
	struct bpfspy_code_event *e = (void *)b->data;
	__u8 *data = b->data + sizeof(*e);

	e->type = EV_CODE;
	e->pid = tgid;
	e->code = code;
	e->sig = sig;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	__builtin_memset(e->len, 0, sizeof(e->len));

	__u32 head = py->off.code_capture_len;
	if (head > CODE_OBJECT_CAPTURE_MAX || head < 16)
		head = CODE_OBJECT_CAPTURE_MAX;
	if (bpf_probe_read_user(data, head, (const void *)code))
		return -1;
	e->addr[CODE_REGION_OBJECT] = code;
	e->len[CODE_REGION_OBJECT] = head;

	__u64 filename = captured_ptr(data, py->off.code_filename);
	__u64 name = captured_ptr(data, py->off.code_name);
	__u64 qualname = py->off.code_qualname == PY_OFF_NONE ? 0 : captured_ptr(data, py->off.code_qualname);
	__u64 linetable = captured_ptr(data, py->off.code_linetable);

	e->addr[CODE_REGION_FILENAME] = filename;
	e->len[CODE_REGION_FILENAME] = capture_region(data + CODE_REGION_OFFSET(CODE_REGION_FILENAME),
						     CODE_STRING_CAPTURE_MAX, filename);
	e->addr[CODE_REGION_NAME] = name;
	e->len[CODE_REGION_NAME] = capture_region(data + CODE_REGION_OFFSET(CODE_REGION_NAME),
						 CODE_STRING_CAPTURE_MAX, name);
	e->addr[CODE_REGION_QUALNAME] = qualname;
	e->len[CODE_REGION_QUALNAME] = capture_region(data + CODE_REGION_OFFSET(CODE_REGION_QUALNAME),
						     CODE_STRING_CAPTURE_MAX, qualname);

	__u64 lt_size = 0;
	__u32 lt_len = 0;
	if (linetable && !bpf_probe_read_user(&lt_size, sizeof(lt_size), (const void *)(linetable + py->off.bytes_size))) {
		__u64 want = py->off.bytes_data + lt_size;
		if (want > CODE_LINETABLE_CAPTURE_MAX)
			want = CODE_LINETABLE_CAPTURE_MAX;
		lt_len = (__u32)want & (2 * CODE_LINETABLE_CAPTURE_MAX - 1);
		if (lt_len > CODE_LINETABLE_CAPTURE_MAX)
			lt_len = CODE_LINETABLE_CAPTURE_MAX;
		if (lt_len == 0 || bpf_probe_read_user(data + CODE_REGION_OFFSET(CODE_REGION_LINETABLE), lt_len,
						       (const void *)linetable))
			lt_len = 0;
	}
	e->addr[CODE_REGION_LINETABLE] = lt_len ? linetable : 0;
	e->len[CODE_REGION_LINETABLE] = lt_len;

	__u64 size = sizeof(*e) + CODE_REGION_OFFSET(CODE_REGION_LINETABLE) + lt_len;
	if (size > sizeof(b->data))
		size = sizeof(b->data);
	if (bpf_ringbuf_output(&events, b->data, size, 0)) {
		stat_inc(STAT_CODE_LOST);
		return -1;
	}
	stat_inc(STAT_CODE_CAPTURED);
	return 0;
}

#ifndef PYSTACK_CODE_SEEN_SLOT
/* The cache slot of a (process, code object, sig): a multiplicative hash, mixed so that a process's code
 * objects (16-byte aligned, close together) spread over every slot. */
static __always_inline struct code_key *code_seen_slot(__u32 tgid, __u64 code, __u64 sig)
{
	__u64 h = (code ^ (sig * 0x9e3779b97f4a7c15ULL) ^ ((__u64)tgid << 40)) * 0xff51afd7ed558ccdULL;
	__u32 slot = (__u32)(h >> 32) & code_seen_mask;

	return bpf_map_lookup_elem(&code_seen, &slot);
}
#define PYSTACK_CODE_SEEN_SLOT(tgid, code, sig) code_seen_slot((tgid), (code), (sig))
#endif

static __always_inline void capture_if_new(__u32 tgid, __u64 code, __u64 sig)
{
	struct code_key *seen = PYSTACK_CODE_SEEN_SLOT(tgid, code, sig);

	if (!seen || (seen->tgid == tgid && seen->code == code && seen->sig == sig))
		return;
	if (capture_code(tgid, code, sig) == 0) {
		seen->tgid = tgid;
		seen->code = code;
		seen->sig = sig;
	}
}

/*
 * The user-space build of this walker (user/python/py_bpf_walker.c: bpfspy
 * dump, the replay tests) is shown each frame's address before it is read,
 * and may refuse it (a frame it can tell is not live: a torn read of a
 * running process). BPF reads the current thread, which is not running.
 */
#ifndef PYSTACK_FRAME_OK
#define PYSTACK_FRAME_OK(index, frame_addr) 1
#endif

static __always_inline __u32 frame_lasti(struct frame_walk *w, __u64 f, __u64 code)
{
	const struct py_offsets *o = &w->off;

	if (o->frame_model == PY_FRAMES_OBJECT) {
		__s32 lasti = -1;
		bpf_probe_read_user(&lasti, sizeof(lasti), (const void *)(f + o->frame_instr));
		return (__u32)lasti;
	}
	__u64 instr = read_user_u64(f + o->frame_instr);
	__u64 first = code + o->code_adaptive;
	if (instr < first || instr - first > (1ULL << 31))
		return PY_LASTI_NOT_STARTED;
	return (__u32)((instr - first) / 2);
}

static long frame_walk_step(__u32 i, struct frame_walk **ctx)
{
	struct frame_walk *w = *ctx;
	const struct py_offsets *o = &w->off;
	__u64 f = w->frame;

	if (!f)
		return 1;
	if (w->n >= w->max)
		return 1;
	if (!PYSTACK_FRAME_OK(w->n, f)) {
		w->error = 1;
		return 1;
	}

	struct sample_buf *b = sample_buffer(w->buf);
	if (!b)
		return 1;
	__u32 pos = w->base + w->n * sizeof(struct py_frame_rec);
	if (pos > SAMPLE_BUF_SIZE - sizeof(struct py_frame_rec))
		return 1;
	struct py_frame_rec *r = (void *)(b->data + pos);

	__u64 code = 0;
	if (bpf_probe_read_user(&code, sizeof(code), (const void *)(f + o->frame_code))) {
		w->error = 1;
		return 1;
	}
	__u64 prev = read_user_u64(f + o->frame_previous);

	r->flags = 0;
	if (o->frame_owner != PY_OFF_NONE && o->owner_shim_min) {
		__u8 owner = 0;
		bpf_probe_read_user(&owner, 1, (const void *)(f + o->frame_owner));
		if (owner >= o->owner_shim_min) {
			r->code = 0;
			r->sig = 0;
			r->lasti = 0;
			r->flags = PYF_SHIM;
			w->n++;
			w->frame = prev;
			return 0;
		}
	}
	if (o->frame_is_entry != PY_OFF_NONE) {
		__u8 entry = 0;
		bpf_probe_read_user(&entry, 1, (const void *)(f + o->frame_is_entry));
		if (entry)
			r->flags = PYF_ENTRY;
	}
	code &= ~(__u64)o->code_tag_mask;
	__u64 names[2] = {};
	if (!code || bpf_probe_read_user(names, sizeof(names), (const void *)(code + o->code_filename))) {
		w->error = 1;
		return 1;
	}
	r->code = code;
	r->sig = names[0] ^ names[1];
	r->lasti = frame_lasti(w, f, code);
	capture_if_new(w->tgid, code, names[0] ^ names[1]);
	w->n++;
	w->frame = prev;
	return 0;
}

static __always_inline __u64 top_frame(__u64 tstate, const struct py_offsets *o)
{
	__u64 f = read_user_u64(tstate + o->ts_frame);
	if (o->frame_model == PY_FRAMES_CFRAME && f)
		f = read_user_u64(f + o->cframe_current_frame);
	return f;
}

/*
 * Writes the Python frames of thread state tstate, innermost first, as
 * py_frame_rec at byte offset base of the scratch buffer, at most max.
 * Returns the count and ORs SAMPLE_PY_* into *flags.
 */
static __always_inline __u32 walk_frames(__u32 buf, __u32 tgid, __u64 tstate, const struct py_proc *py, __u32 base,
					 __u32 max, __u32 *flags)
{
	struct py_walk_state *s = bpf_map_lookup_elem(&py_walks, &buf);
	if (!s) {
		*flags |= SAMPLE_PY_ERROR;
		return 0;
	}
	struct frame_walk *w = &s->frames;
	w->buf = buf;
	w->tgid = tgid;
	w->base = base;
	w->n = 0;
	w->max = max > BPFSPY_MAX_PY_DEPTH ? BPFSPY_MAX_PY_DEPTH : max;
	w->error = 0;
	__builtin_memcpy(&w->off, &py->off, sizeof(w->off));
	w->frame = top_frame(tstate, &py->off);
	bpf_loop(BPFSPY_MAX_PY_DEPTH, frame_walk_step, &w, 0);
	if (w->error)
		*flags |= SAMPLE_PY_ERROR;
	else if (w->frame && w->n >= w->max)
		*flags |= SAMPLE_PY_TRUNCATED;
	__u32 n = w->n;
	return n > BPFSPY_MAX_PY_DEPTH ? BPFSPY_MAX_PY_DEPTH : n;
}

/* walk_python's arguments and results: a global function takes at most five arguments. */
struct py_walk_request {
	__u32 buf;    /* sample buffer index */
	__u32 tgid;
	__u32 tid;
	__u32 base;   /* byte offset of the first py_frame_rec in the buffer */
	__u32 max;    /* frames allowed */
	__u32 flags;  /* out: SAMPLE_PY_* ORed in */
	__u64 fsbase; /* the thread's fs_base: finds its thread state */
	__u64 tstate; /* out: the thread state, 0 if none */
};

/* The Python frames of thread r->tid: walk_frames from its thread state. Returns their count. */
BPF_SUBPROG __u32 walk_python(struct py_walk_request *r, const struct py_proc *py)
{
	if (!r || !py)
		return 0;
	__u64 tstate = find_tstate(r->buf, r->tid, r->fsbase, py);
	r->tstate = tstate;
	if (!tstate) {
		r->flags |= SAMPLE_PY_NO_TSTATE;
		return 0;
	}
	return walk_frames(r->buf, r->tgid, tstate, py, r->base, r->max, &r->flags);
}

/*
 * The GIL is held by this thread when locked and last_holder == its tstate.
 * 3.12+ find it through the thread's interpreter at each sample (see
 * struct py_offsets): a process detected before Py_Initialize has no GIL yet.
 */
static __always_inline bool holds_gil(const struct py_proc *py, __u64 tstate)
{
	__u64 gil = py->gil_addr;

	if (!tstate)
		return false;
	if (py->off.interp_gil_ptr != PY_OFF_NONE) {
		__u64 interp = read_user_u64(tstate + py->off.ts_interp);

		gil = interp ? read_user_u64(interp + py->off.interp_gil_ptr) : 0;
	}
	if (!gil)
		return false;
	__s32 locked = 0;
	if (bpf_probe_read_user(&locked, sizeof(locked), (const void *)(gil + py->off.gil_locked)))
		return false;
	return locked && read_user_u64(gil + py->off.gil_last_holder) == tstate;
}

#endif
