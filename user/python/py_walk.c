/* SPDX-License-Identifier: MIT */
/*
 * The BPF walker's algorithm in userspace, over /proc/PID/mem: interpreters
 * -> thread states -> frames, following only struct py_offsets, so a test of
 * this walk is a test of the offsets the BPF side gets.
 *
 * The consistent walk (bpfspy dump) reads a running process without pausing
 * it: a thread's frames are read once, then every frame is read again and
 * must still be alive, hold the same code and point at the same caller.
 * A chain that passes was a real stack when the second read ran; one that
 * keeps failing is reported as changing, never as a stack.
 */
#include "python/py_layout.h"
#include "python/py_memory.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bounds a corrupt or racing list can't exceed. */
#define MAX_INTERPRETERS 64
#define MAX_THREADS 4096
/* The frame fields the walker needs all sit in the first bytes of a frame. */
#define FRAME_HEADER_MAX 0x200
#define CODE_CACHE 64
/* Frames of one thread remembered between reads, all read again in one go. */
#define KNOWN_MAX 256
#define KNOWN_SLOTS 1024
/*
 * Pause between two attempts at a changing stack: a CPU-bound thread rewrites
 * its top frames every few hundred nanoseconds, so back-to-back attempts keep
 * meeting it mid-call; spread out, one lands while it is between calls or off
 * the CPU. 40 attempts stay within about 4 ms.
 */
#define ATTEMPT_PAUSE_NS 75000

struct code_sig {
	uint64_t code, sig;
};

struct walk {
	struct py_mem mem;
	const struct py_offsets *o;
	uint16_t frame_state;  /* py_object_layout.frame_state */
	struct py_frame_rec *frames;
	uint64_t *addrs;
	size_t max_frames;
	size_t header_len;
	uint8_t *headers;   /* max_frames * header_len: the second read */
	unsigned max_reads; /* 0: one read, no check (the BPF walker's view) */
	struct code_sig codes[CODE_CACHE];
	/* the consistent walk: frames met while reading this thread */
	uint64_t known[KNOWN_MAX];
	uint8_t *known_headers;          /* KNOWN_MAX * header_len */
	size_t nknown;
	uint16_t known_slot[KNOWN_SLOTS]; /* open addressing: index + 1 into known, 0 = empty */
	struct py_mem_span *spans;       /* KNOWN_MAX + 1 */
};

/* What one read of a frame's first bytes says. */
struct frame_header {
	int64_t refcnt;  /* PyFrameObject only */
	uint64_t previous, code, instr;
	int32_t lasti;   /* PyFrameObject f_lasti */
	uint8_t owner, is_entry;
	int8_t state;    /* PyFrameObject f_executing (3.8/3.9) or f_state (3.10) */
};

static size_t max_size(size_t a, uint16_t off, size_t width)
{
	return off != PY_OFF_NONE && off + width > a ? off + width : a;
}

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

static void decode_header(const struct walk *w, const uint8_t *buf, struct frame_header *h)
{
	const struct py_offsets *o = w->o;

	memset(h, 0, sizeof(*h));
	if (w->frame_state != PY_OFF_NONE)
		h->state = (int8_t)buf[w->frame_state];
	if (o->frame_model == PY_FRAMES_OBJECT) {
		memcpy(&h->refcnt, buf, 8);
		memcpy(&h->lasti, buf + o->frame_instr, 4);
	} else {
		memcpy(&h->instr, buf + o->frame_instr, 8);
	}
	memcpy(&h->previous, buf + o->frame_previous, 8);
	memcpy(&h->code, buf + o->frame_code, 8);
	h->code &= ~(uint64_t)o->code_tag_mask;
	if (o->frame_owner != PY_OFF_NONE)
		h->owner = buf[o->frame_owner];
	if (o->frame_is_entry != PY_OFF_NONE)
		h->is_entry = buf[o->frame_is_entry];
}

static int read_header(const struct walk *w, uint64_t frame, struct frame_header *h)
{
	uint8_t buf[FRAME_HEADER_MAX];

	if (py_mem_read(&w->mem, frame, buf, w->header_len) < 0)
		return -1;
	decode_header(w, buf, h);
	return 0;
}

static bool is_shim(const struct py_offsets *o, const struct frame_header *h)
{
	return o->owner_shim_min && h->owner >= o->owner_shim_min;
}

/*
 * A frame that can be on a thread's stack: a PyFrameObject still referenced
 * (a freed one has refcount 0 and a free-list link for f_back) and running
 * (one being set up from the free list is referenced before its f_back is
 * set), with code.
 */
static bool plausible(const struct walk *w, const struct frame_header *h)
{
	const struct py_offsets *o = w->o;

	if (o->frame_model == PY_FRAMES_OBJECT && h->refcnt <= 0)
		return false;
	if (w->frame_state != PY_OFF_NONE) {
		/* 3.8/3.9 f_executing == 1; 3.10 f_state EXECUTING (0) or UNWINDING (2) */
		bool running = o->lasti_kind == PY_LASTI_BYTES ? h->state == 1 : h->state == 0 || h->state == 2;

		if (!running)
			return false;
	}
	return is_shim(o, h) || h->code != 0;
}

static uint32_t lasti_of(const struct py_offsets *o, const struct frame_header *h, uint64_t code)
{
	if (o->frame_model == PY_FRAMES_OBJECT)
		return (uint32_t)h->lasti;
	return (uint32_t)((int64_t)(h->instr - (code + o->code_adaptive)) / 2);
}

/* co_filename ^ co_name, as the BPF walker signs a code object; cached per walk. */
static int code_sig(struct walk *w, uint64_t code, __u64 *sig)
{
	struct code_sig *c = &w->codes[(code >> 4) % CODE_CACHE];
	uint64_t names[2];

	if (c->code == code) {
		*sig = c->sig;
		return 0;
	}
	if (py_mem_read(&w->mem, code + w->o->code_filename, names, sizeof(names)) < 0)
		return -1;
	*sig = names[0] ^ names[1];
	c->code = code;
	c->sig = *sig;
	return 0;
}

/* One frame as the BPF walker would report it. Returns -1 on an unreadable frame. */
static int to_record(struct walk *w, const struct frame_header *h, struct py_frame_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (is_shim(w->o, h)) {
		rec->flags = PYF_SHIM;
		return 0;
	}
	rec->code = h->code;
	if (code_sig(w, rec->code, &rec->sig) < 0)
		return -1;
	rec->flags = h->is_entry ? PYF_ENTRY : 0;
	rec->lasti = lasti_of(w->o, h, rec->code);
	return 0;
}

/* Where the thread state keeps its top frame pointer (3.11/3.12: in the current _PyCFrame). */
static int top_frame_slot(const struct walk *w, uint64_t ts, uint64_t *slot)
{
	uint64_t cframe;

	if (w->o->frame_model != PY_FRAMES_CFRAME) {
		*slot = ts + w->o->ts_frame;
		return 0;
	}
	if (py_mem_read_u64(&w->mem, ts + w->o->ts_frame, &cframe) < 0)
		return -1;
	*slot = cframe ? cframe + w->o->cframe_current_frame : 0;
	return 0;
}

static uint16_t *known_slot(struct walk *w, uint64_t frame)
{
	size_t i = (size_t)((frame * 0x9e3779b97f4a7c15ull) >> 40) % KNOWN_SLOTS;

	while (w->known_slot[i] && w->known[w->known_slot[i] - 1] != frame)
		i = (i + 1) % KNOWN_SLOTS;
	return &w->known_slot[i];
}

static void remember_frame(struct walk *w, uint64_t frame)
{
	uint16_t *slot;

	if (w->nknown == KNOWN_MAX)
		return;
	slot = known_slot(w, frame);
	if (*slot)
		return;
	w->known[w->nknown++] = frame;
	*slot = (uint16_t)w->nknown;
}

/*
 * The top frame pointer and every frame an earlier read of this thread met,
 * in one system call: when the chain is made of known frames, all of it is
 * read at (nearly) one moment. Returns 0 with *top set, or -1.
 */
static int read_known(struct walk *w, uint64_t slot, uint64_t *top)
{
	w->spans[0] = (struct py_mem_span){ slot, top, sizeof(*top) };
	for (size_t i = 0; i < w->nknown; i++)
		w->spans[i + 1] = (struct py_mem_span){ w->known[i], w->known_headers + i * w->header_len,
							w->header_len };
	return py_mem_read_spans(&w->mem, w->spans, w->nknown + 1);
}

/* Reads the chain from the thread's top frame. check: refuse frames that cannot be live. */
static int read_chain(struct walk *w, uint64_t ts, struct py_thread_stack *st, bool check)
{
	struct frame_header h;
	uint64_t slot, frame = 0;
	size_t batch = 0;

	st->n_frames = 0;
	st->truncated = false;
	if (top_frame_slot(w, ts, &slot) < 0)
		return -1;
	if (!slot)
		return 0;
	if (check && read_known(w, slot, &frame) == 0)
		batch = w->nknown;
	else if (py_mem_read_u64(&w->mem, slot, &frame) < 0)
		return -1;
	while (frame) {
		size_t i = st->n_frames;
		uint16_t k = check ? *known_slot(w, frame) : 0;

		if (i == w->max_frames) {
			st->truncated = true;
			break;
		}
		if (k && k <= batch)
			decode_header(w, w->known_headers + (k - 1) * w->header_len, &h);
		else if (read_header(w, frame, &h) < 0)
			return -1;
		if ((check && !plausible(w, &h)) || to_record(w, &h, &w->frames[i]) < 0)
			return -1;
		if (check)
			remember_frame(w, frame);
		w->addrs[i] = frame;
		st->n_frames++;
		frame = h.previous;
	}
	return 0;
}

/*
 * The second read, all frames at once: every frame still plausible, with the
 * same code and the same caller as the first read saw. The instruction
 * offsets are taken from this read.
 */
static bool confirm_chain(struct walk *w, struct py_thread_stack *st)
{
	struct frame_header h;

	if (py_mem_read_many(&w->mem, w->addrs, st->n_frames, w->header_len, w->headers) < 0)
		return false;
	for (size_t i = 0; i < st->n_frames; i++) {
		struct py_frame_rec *rec = &w->frames[i];
		bool last = i + 1 == st->n_frames;

		decode_header(w, w->headers + i * w->header_len, &h);
		if (!plausible(w, &h))
			return false;
		if (is_shim(w->o, &h) != !!(rec->flags & PYF_SHIM))
			return false;
		if (!(rec->flags & PYF_SHIM) && h.code != rec->code)
			return false;
		if (last ? (!st->truncated && h.previous != 0) : h.previous != w->addrs[i + 1])
			return false;
		if (!(rec->flags & PYF_SHIM))
			rec->lasti = lasti_of(w->o, &h, rec->code);
	}
	return true;
}

static int walk_thread(struct walk *w, uint64_t ts, struct py_thread_stack *st)
{
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
	if (!w->max_reads)
		return read_chain(w, ts, st, false);
	memset(w->known_slot, 0, sizeof(w->known_slot));
	w->nknown = 0;

	/* Each attempt is two reads of the chain. */
	for (unsigned reads = 0; reads + 2 <= w->max_reads; reads += 2) {
		struct timespec pause = { 0, ATTEMPT_PAUSE_NS };

		if (reads)
			nanosleep(&pause, NULL);
		if (read_chain(w, ts, st, true) == 0 && confirm_chain(w, st))
			return 0;
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
	free(w->addrs);
	free(w->headers);
	free(w->known_headers);
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
	w->o = &t->proc.off;
	/* the running check only where a consistent read is asked for */
	w->frame_state = max_reads && t->proc.off.frame_model == PY_FRAMES_OBJECT ? t->obj.frame_state : PY_OFF_NONE;
	w->header_len = frame_header_len(w->o, w->frame_state);
	w->frames = calloc(max_frames, sizeof(*w->frames));
	w->addrs = calloc(max_frames, sizeof(*w->addrs));
	w->headers = w->header_len <= FRAME_HEADER_MAX ? malloc(max_frames * w->header_len) : NULL;
	w->known_headers = malloc(KNOWN_MAX * w->header_len);
	w->spans = malloc((KNOWN_MAX + 1) * sizeof(*w->spans));
	if (!w->frames || !w->addrs || !w->headers || !w->known_headers || !w->spans) {
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
