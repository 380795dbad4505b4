/* SPDX-License-Identifier: MIT */
/*
 * Every thread's Python stack of a process, over /proc/PID/mem: interpreters
 * and their thread states are enumerated here, and each thread's frames are
 * read by the BPF walker itself (py_bpf_walker.h), so what dump shows and
 * what a sample records come from one walker.
 *
 * The consistent walk (bpfspy dump) reads a running process without pausing
 * it: a thread's frames are walked once, then all of them are read again in
 * one gathered read and walked again from those bytes; every frame must still
 * be alive, hold the same code and point at the same caller. A chain that
 * passes was a real stack when the second read ran; one that keeps failing
 * is reported as changing, never as a stack.
 */
#include "python/py_bpf_walker.h"
#include "python/py_layout.h"
#include "python/py_memory.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bounds a corrupt or racing list can't exceed. */
#define MAX_INTERPRETERS 64
#define MAX_THREADS 4096
/*
 * Pause between two attempts at a changing stack: a CPU-bound thread rewrites
 * its top frames every few hundred nanoseconds, so back-to-back attempts keep
 * meeting it mid-call; spread out, one lands while it is between calls or off
 * the CPU. 40 attempts stay within about 4 ms.
 */
#define ATTEMPT_PAUSE_NS 75000

/*
 * The walker reads a few fields of each frame and code object, one read
 * each: served from blocks read whole, a walk costs a system call or two per
 * frame instead of six, and each frame's fields come from one moment.
 */
#define READ_BLOCK 512
#define READ_BLOCKS 4

struct read_block {
	uint64_t addr;
	bool valid;
	uint8_t bytes[READ_BLOCK];
};

struct walk {
	struct py_mem mem;
	struct read_block blocks[READ_BLOCKS];
	unsigned next_block;
	const struct py_proc *proc;
	const struct py_offsets *o;
	uint16_t frame_state;  /* py_object_layout.frame_state, or PY_OFF_NONE: no running check */
	size_t max_frames;
	unsigned max_reads;    /* 0: one walk, no check (the BPF walker's view) */
	struct py_frame_rec *frames, *again;
	uint64_t *addrs, *again_addrs;
	/*
	 * The consistent walk's gathered reads: the thread's top frame pointer
	 * (3.11/3.12: in its current cframe), then each frame's first
	 * header_len bytes.
	 */
	size_t header_len;
	uint8_t *headers;
	struct py_mem_span *spans; /* max_frames + 1 */
	size_t nspans;
	size_t cursor;	       /* the span the last read hit: the walker reads frames in order */
	uint64_t top_ptr;
};

static size_t max_size(size_t a, uint16_t off, size_t width)
{
	return off != PY_OFF_NONE && off + width > a ? off + width : a;
}

/* The bytes of a frame the walker reads, and the running check (ob_refcnt, f_executing/f_state). */
static size_t frame_header_len(const struct py_offsets *o, uint16_t frame_state)
{
	size_t n = o->frame_model == PY_FRAMES_OBJECT ? 8 : 0; /* ob_refcnt */

	n = max_size(n, frame_state, 1);
	n = max_size(n, o->frame_previous, 8);
	n = max_size(n, o->frame_code, 8);
	n = max_size(n, o->frame_instr, o->frame_model == PY_FRAMES_OBJECT ? 4 : 8);
	n = max_size(n, o->frame_owner, 1);
	return max_size(n, o->frame_is_entry, 1);
}

static void forget_blocks(struct walk *w)
{
	for (unsigned i = 0; i < READ_BLOCKS; i++)
		w->blocks[i].valid = false;
}

static int live_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct walk *w = ctx;
	struct read_block *b;

	if (len > READ_BLOCK / 2)
		return py_mem_read(&w->mem, addr, buf, len);
	for (unsigned i = 0; i < READ_BLOCKS; i++) {
		b = &w->blocks[i];
		if (b->valid && addr >= b->addr && addr - b->addr <= READ_BLOCK - len) {
			memcpy(buf, b->bytes + (addr - b->addr), len);
			return 0;
		}
	}
	/* a block from a little before addr (fields at lower offsets of the same object), else exactly what is asked */
	b = &w->blocks[w->next_block];
	b->addr = addr - (addr & 63) >= 64 ? (addr & ~(uint64_t)63) - 64 : addr;
	if (py_mem_read(&w->mem, b->addr, b->bytes, READ_BLOCK) < 0) {
		b->valid = false;
		return py_mem_read(&w->mem, addr, buf, len);
	}
	b->valid = true;
	w->next_block = (w->next_block + 1) % READ_BLOCKS;
	memcpy(buf, b->bytes + (addr - b->addr), len);
	return 0;
}

/* The second walk: the top pointer and the frames from the gathered read, anything else (code objects) live. */
static int gathered_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct walk *w = ctx;

	for (size_t k = 0; k < w->nspans; k++) {
		size_t i = (w->cursor + k) % w->nspans;
		const struct py_mem_span *sp = &w->spans[i];

		if (addr >= sp->addr && len <= sp->len && addr - sp->addr <= sp->len - len) {
			memcpy(buf, (const uint8_t *)sp->buf + (addr - sp->addr), len);
			w->cursor = i;
			return 0;
		}
	}
	return live_read(ctx, addr, buf, len);
}

/*
 * A frame that can be on a thread's stack: a PyFrameObject still referenced
 * (a freed one has refcount 0 and a free-list link for f_back) and running
 * (one being set up from the free list is referenced before its f_back is
 * set). The walker itself refuses frames without code.
 */
static bool plausible(const struct walk *w, const uint8_t *header)
{
	int64_t refcnt;

	if (w->o->frame_model != PY_FRAMES_OBJECT)
		return true;
	memcpy(&refcnt, header, sizeof(refcnt));
	if (refcnt <= 0)
		return false;
	if (w->frame_state != PY_OFF_NONE) {
		int8_t state = (int8_t)header[w->frame_state];

		/* 3.8/3.9 f_executing == 1; 3.10 f_state EXECUTING (0) or UNWINDING (2) */
		return w->o->lasti_kind == PY_LASTI_BYTES ? state == 1 : state == 0 || state == 2;
	}
	return true;
}

/* The consistent walk stops at the first frame that cannot be live, as read now (a free-list cycle ends there). */
static bool live_frame(void *ctx, uint64_t frame_addr)
{
	struct walk *w = ctx;
	uint8_t header[512];

	if (w->frame_state == PY_OFF_NONE || w->header_len > sizeof(header))
		return true;
	return (w->nspans ? gathered_read : live_read)(ctx, frame_addr, header, w->header_len) == 0 &&
	       plausible(w, header);
}

/* One walk of the thread's frames from source read into frames/addrs. Returns 0, or -1 (torn read). */
static int walk_frames_once(struct walk *w, uint64_t ts, int (*read)(void *, uint64_t, void *, size_t),
			    struct py_frame_rec *frames, uint64_t *addrs, struct py_walker_result *res)
{
	struct py_walker_source src = { .read = read, .ctx = w, .frame_ok = live_frame };

	forget_blocks(w);
	py_bpf_walk_tstate(&src, w->proc, ts, w->max_frames, frames, addrs, res);
	return res->flags & SAMPLE_PY_ERROR ? -1 : 0;
}

/* Where the thread state keeps its top frame pointer (3.11/3.12: in the current _PyCFrame), as the walker reads it. */
static int top_frame_slot(struct walk *w, uint64_t ts, uint64_t *slot)
{
	uint64_t cframe;

	if (w->o->frame_model != PY_FRAMES_CFRAME) {
		*slot = ts + w->o->ts_frame;
		return 0;
	}
	if (py_mem_read_u64(&w->mem, ts + w->o->ts_frame, &cframe) < 0 || !cframe)
		return -1;
	*slot = cframe + w->o->cframe_current_frame;
	return 0;
}

/*
 * The first header_len bytes of n frames in one gathered read, with the top
 * pointer (top == 0) or with the top pointer taken as top: the next walk
 * with gathered_read sees them as of that moment.
 */
static int gather(struct walk *w, uint64_t ts, const uint64_t *addrs, size_t n, uint64_t top)
{
	uint64_t slot;

	w->nspans = 0;
	if (top_frame_slot(w, ts, &slot) < 0)
		return -1;
	w->top_ptr = top;
	w->spans[0] = (struct py_mem_span){ slot, &w->top_ptr, sizeof(w->top_ptr) };
	for (size_t i = 0; i < n; i++)
		w->spans[i + 1] = (struct py_mem_span){ addrs[i], w->headers + i * w->header_len, w->header_len };
	if (py_mem_read_spans(&w->mem, top ? w->spans + 1 : w->spans, top ? n : n + 1) < 0)
		return -1;
	w->nspans = n + 1;
	w->cursor = 0;
	return 0;
}

/*
 * The second read, all frames at once, walked again from the same top frame:
 * every frame still plausible, with the same code and the same caller as the
 * first walk saw, so the chain was a real stack when this read ran (the
 * thread may have called deeper since). The instruction offsets are taken
 * from this read.
 */
static bool confirm_walk(struct walk *w, uint64_t ts, const struct py_walker_result *first)
{
	struct py_walker_result res;

	if (first->n == 0)
		return true;
	if (gather(w, ts, w->addrs, first->n, w->addrs[0]) < 0)
		return false;
	for (size_t i = 0; i < first->n; i++)
		if (!plausible(w, w->headers + i * w->header_len))
			return false;
	int rc = walk_frames_once(w, ts, gathered_read, w->again, w->again_addrs, &res);
	w->nspans = 0;
	if (rc < 0 || res.n != first->n || (res.flags & SAMPLE_PY_TRUNCATED) != (first->flags & SAMPLE_PY_TRUNCATED))
		return false;
	for (size_t i = 0; i < res.n; i++)
		if (w->again_addrs[i] != w->addrs[i] || w->again[i].code != w->frames[i].code ||
		    w->again[i].flags != w->frames[i].flags)
			return false;
	memcpy(w->frames, w->again, res.n * sizeof(*w->frames));
	return true;
}

/*
 * The first walk of an attempt: from the frames the previous attempt met,
 * gathered at once with the top pointer, so a chain made of known frames is
 * read at (nearly) one moment; frames not met before are read as met.
 */
static int first_walk(struct walk *w, uint64_t ts, size_t known, struct py_walker_result *res)
{
	int rc;

	if (known && gather(w, ts, w->addrs, known, 0) == 0)
		rc = walk_frames_once(w, ts, gathered_read, w->frames, w->addrs, res);
	else
		rc = walk_frames_once(w, ts, live_read, w->frames, w->addrs, res);
	w->nspans = 0;
	return rc;
}

static int walk_thread(struct walk *w, uint64_t ts, struct py_thread_stack *st)
{
	struct py_walker_result res;

	memset(st, 0, sizeof(*st));
	st->tstate = ts;
	st->frames = w->frames;
	st->frame_addrs = w->addrs;
	if (py_mem_read_u64(&w->mem, ts + w->o->ts_thread_id, &st->thread_id) < 0)
		return -1;
	if (w->o->ts_native_thread_id != PY_OFF_NONE) {
		uint32_t tid; /* unsigned long, but a kernel TID fits in 32 bits */

		if (py_mem_read(&w->mem, ts + w->o->ts_native_thread_id, &tid, sizeof(tid)) < 0)
			return -1;
		st->native_thread_id = tid;
	}
	if (!w->max_reads) {
		if (walk_frames_once(w, ts, live_read, w->frames, w->addrs, &res) < 0)
			return -1;
		st->n_frames = res.n;
		st->truncated = res.flags & SAMPLE_PY_TRUNCATED;
		return 0;
	}
	/* Each attempt is two reads of the chain. */
	size_t known = 0;
	for (unsigned reads = 0; reads + 2 <= w->max_reads; reads += 2) {
		struct timespec pause = { 0, ATTEMPT_PAUSE_NS };

		if (reads)
			nanosleep(&pause, NULL);
		int rc = first_walk(w, ts, known, &res);
		known = res.n;
		if (rc == 0 && confirm_walk(w, ts, &res)) {
			st->n_frames = res.n;
			st->truncated = res.flags & SAMPLE_PY_TRUNCATED;
			return 0;
		}
	}
	st->n_frames = 0;
	st->truncated = false;
	st->changing = true;
	return 0;
}

static int walk_interpreter(struct walk *w, uint64_t interp, py_thread_stack_cb cb, void *arg)
{
	uint64_t ts, back;

	if (py_mem_read_u64(&w->mem, interp + w->o->interp_threads_head, &ts) < 0)
		return -1;
	for (int n = 0; ts && n < MAX_THREADS; n++) {
		struct py_thread_stack st;
		int r;

		/* A thread state that doesn't point back was freed under us. */
		if (py_mem_read_u64(&w->mem, ts + w->o->ts_interp, &back) < 0 || back != interp)
			return -1;
		if (walk_thread(w, ts, &st) < 0)
			return -1;
		r = cb(&st, arg);
		if (r)
			return r;
		if (py_mem_read_u64(&w->mem, ts + w->o->ts_next, &ts) < 0)
			return -1;
	}
	return 0;
}

static void free_walker(struct walk *w)
{
	free(w->frames);
	free(w->again);
	free(w->addrs);
	free(w->again_addrs);
	free(w->headers);
	free(w->spans);
	free(w);
}

static int walk_all(pid_t pid, const struct py_target *t, size_t max_frames, unsigned max_reads,
		    py_thread_stack_cb cb, void *arg)
{
	struct walk *w;
	uint64_t interp;
	int r = 0;

	if (!t || !cb || max_frames == 0 || max_frames > BPFSPY_MAX_PY_DEPTH)
		return -1;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->max_frames = max_frames;
	w->max_reads = max_reads;
	w->proc = &t->proc;
	w->o = &t->proc.off;
	/* the running check only where a consistent read is asked for */
	w->frame_state = max_reads && t->proc.off.frame_model == PY_FRAMES_OBJECT ? t->obj.frame_state : PY_OFF_NONE;
	w->header_len = frame_header_len(w->o, w->frame_state);
	w->frames = calloc(max_frames, sizeof(*w->frames));
	w->again = calloc(max_frames, sizeof(*w->again));
	w->addrs = calloc(max_frames, sizeof(*w->addrs));
	w->again_addrs = calloc(max_frames, sizeof(*w->again_addrs));
	w->headers = malloc(max_frames * w->header_len);
	w->spans = malloc((max_frames + 1) * sizeof(*w->spans));
	if (!w->frames || !w->again || !w->addrs || !w->again_addrs || !w->headers || !w->spans) {
		free_walker(w);
		return -1;
	}
	py_mem_open(&w->mem, pid);
	if (py_mem_read_u64(&w->mem, t->proc.runtime_addr + w->o->rt_interpreters_head, &interp) < 0)
		r = -1;
	for (int n = 0; r == 0 && interp && n < MAX_INTERPRETERS; n++) {
		r = walk_interpreter(w, interp, cb, arg);
		if (r == 0 && py_mem_read_u64(&w->mem, interp + w->o->interp_next, &interp) < 0)
			r = -1;
	}
	py_mem_close(&w->mem);
	free_walker(w);
	return r;
}

int py_walk_thread_stacks(pid_t pid, const struct py_target *t, size_t max_frames,
			  py_thread_stack_cb cb, void *arg)
{
	return walk_all(pid, t, max_frames, 0, cb, arg);
}

int py_walk_thread_stacks_consistent(pid_t pid, const struct py_target *t, size_t max_frames,
				     unsigned max_reads, py_thread_stack_cb cb, void *arg)
{
	return walk_all(pid, t, max_frames, max_reads < 2 ? 2 : max_reads, cb, arg);
}
