/* SPDX-License-Identifier: MIT */
/*
 * The BPF walker's algorithm in userspace, over /proc/PID/mem: interpreters
 * -> thread states -> frames, following only struct py_offsets, so a test of
 * this walk is a test of the offsets the BPF side gets.
 */
#include "python/py_layout.h"
#include "python/py_memory.h"

#include <stdlib.h>
#include <string.h>

/* Bounds a corrupt or racing list can't exceed. */
#define MAX_INTERPRETERS 64
#define MAX_THREADS 4096

struct walk {
	struct py_mem mem;
	const struct py_offsets *o;
	struct py_frame_rec *frames;
	size_t max_frames;
};

static int read_u8(const struct py_mem *m, uint64_t addr, uint8_t *out)
{
	return py_mem_read(m, addr, out, 1);
}

static int top_frame(const struct walk *w, uint64_t ts, uint64_t *frame)
{
	uint64_t cframe;

	if (w->o->frame_model != PY_FRAMES_CFRAME)
		return py_mem_read_u64(&w->mem, ts + w->o->ts_frame, frame);
	if (py_mem_read_u64(&w->mem, ts + w->o->ts_frame, &cframe) < 0)
		return -1;
	*frame = 0;
	return cframe ? py_mem_read_u64(&w->mem, cframe + w->o->cframe_current_frame, frame) : 0;
}

static int read_lasti(const struct walk *w, uint64_t frame, uint64_t code, uint32_t *lasti)
{
	uint64_t instr;
	int32_t f_lasti;

	if (w->o->frame_model == PY_FRAMES_OBJECT) {
		if (py_mem_read(&w->mem, frame + w->o->frame_instr, &f_lasti, sizeof(f_lasti)) < 0)
			return -1;
		*lasti = (uint32_t)f_lasti;
		return 0;
	}
	if (py_mem_read_u64(&w->mem, frame + w->o->frame_instr, &instr) < 0)
		return -1;
	*lasti = (uint32_t)((int64_t)(instr - (code + w->o->code_adaptive)) / 2);
	return 0;
}

/* One frame as the BPF walker would report it. Returns -1 on an unreadable frame. */
static int read_frame(const struct walk *w, uint64_t frame, struct py_frame_rec *rec)
{
	const struct py_offsets *o = w->o;
	uint64_t names[2], code;
	uint8_t owner = 0, is_entry = 0;

	memset(rec, 0, sizeof(*rec));
	if (o->frame_owner != PY_OFF_NONE && read_u8(&w->mem, frame + o->frame_owner, &owner) < 0)
		return -1;
	if (o->owner_shim_min && owner >= o->owner_shim_min) {
		rec->flags = PYF_SHIM;
		return 0;
	}
	if (o->frame_is_entry != PY_OFF_NONE && read_u8(&w->mem, frame + o->frame_is_entry, &is_entry) < 0)
		return -1;
	if (py_mem_read_u64(&w->mem, frame + o->frame_code, &code) < 0)
		return -1;
	rec->code = code & ~(uint64_t)o->code_tag_mask;
	if (py_mem_read(&w->mem, rec->code + o->code_filename, names, sizeof(names)) < 0)
		return -1;
	rec->sig = names[0] ^ names[1];
	rec->flags = is_entry ? PYF_ENTRY : 0;
	return read_lasti(w, frame, rec->code, &rec->lasti);
}

static int walk_thread(const struct walk *w, uint64_t ts, struct py_thread_stack *st)
{
	uint64_t frame;

	memset(st, 0, sizeof(*st));
	st->tstate = ts;
	st->frames = w->frames;
	if (py_mem_read_u64(&w->mem, ts + w->o->ts_thread_id, &st->thread_id) < 0)
		return -1;
	if (w->o->ts_native_thread_id != PY_OFF_NONE) {
		uint32_t tid; /* unsigned long, but a kernel TID fits in 32 bits */

		if (py_mem_read(&w->mem, ts + w->o->ts_native_thread_id, &tid, sizeof(tid)) < 0)
			return -1;
		st->native_thread_id = tid;
	}
	if (top_frame(w, ts, &frame) < 0)
		return -1;
	while (frame) {
		if (st->n_frames == w->max_frames) {
			st->truncated = true;
			break;
		}
		if (read_frame(w, frame, &w->frames[st->n_frames]) < 0)
			return -1;
		st->n_frames++;
		if (py_mem_read_u64(&w->mem, frame + w->o->frame_previous, &frame) < 0)
			return -1;
	}
	return 0;
}

static int walk_interpreter(const struct walk *w, uint64_t interp, py_thread_stack_cb cb, void *arg)
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

int py_walk_thread_stacks(pid_t pid, const struct py_target *t, size_t max_frames,
			  py_thread_stack_cb cb, void *arg)
{
	struct walk w = { .max_frames = max_frames };
	uint64_t interp;
	int r = 0;

	if (!t || !cb || max_frames == 0 || max_frames > BPFSPY_MAX_PY_DEPTH)
		return -1;
	w.o = &t->proc.off;
	w.frames = calloc(max_frames, sizeof(*w.frames));
	if (!w.frames)
		return -1;
	py_mem_open(&w.mem, pid);
	if (py_mem_read_u64(&w.mem, t->proc.runtime_addr + w.o->rt_interpreters_head, &interp) < 0)
		r = -1;
	for (int n = 0; r == 0 && interp && n < MAX_INTERPRETERS; n++) {
		r = walk_interpreter(&w, interp, cb, arg);
		if (r == 0 && py_mem_read_u64(&w.mem, interp + w.o->interp_next, &interp) < 0)
			r = -1;
	}
	py_mem_close(&w.mem);
	free(w.frames);
	return r;
}
