// SPDX-License-Identifier: MIT
/* `dump --native`: see dump_native.h. */
#include "dump/dump_native.h"

#include <stdlib.h>
#include <string.h>

#include "native/native_mode.h"
#include "profile/profile.h"
#include "python/py_memory.h"
#include "symbolize/symbolizer.h"
#include "util/array.h"

/* As much stack as `record --unwind snapshot` copies at most. */
#define NATIVE_STACK_BYTES (64 * 1024)
#define NATIVE_STACK_CHUNK 4096

struct build {
	struct dump_frame *frames; /* innermost first, as the merge pushes them */
	size_t n, cap;
	bool failed;
};

static void keep_frame(struct build *b, const struct frame_desc *f)
{
	if (b->failed)
		return;
	if (array_reserve((void **)&b->frames, &b->cap, b->n + 1, sizeof(*b->frames)) != 0) {
		b->failed = true;
		return;
	}
	struct dump_frame *d = &b->frames[b->n];

	*d = (struct dump_frame){
		.name = strdup(f->name), .file = f->file ? strdup(f->file) : NULL, .line = f->line,
		.native = f->kind != FRAME_PYTHON,
	};
	if (!d->name || (f->file && !d->file)) {
		free(d->name);
		free(d->file);
		b->failed = true;
		return;
	}
	b->n++;
}

/* Reads [sp, sp + NATIVE_STACK_BYTES), or as much of it as is mapped. */
static size_t read_stack(pid_t pid, uint64_t sp, uint8_t *buf)
{
	struct py_mem mem;
	size_t got = 0;

	py_mem_open(&mem, pid);
	/* the first chunk ends at a page boundary, the others are whole pages */
	size_t chunk = NATIVE_STACK_CHUNK - (size_t)(sp % NATIVE_STACK_CHUNK);

	while (got < NATIVE_STACK_BYTES) {
		if (chunk > NATIVE_STACK_BYTES - got)
			chunk = NATIVE_STACK_BYTES - got;
		if (py_mem_read(&mem, sp + got, buf + got, chunk) != 0)
			break;
		got += chunk;
		chunk = NATIVE_STACK_CHUNK;
	}
	py_mem_close(&mem);
	return got;
}

static void free_frames(struct dump_frame *frames, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(frames[i].name);
		free(frames[i].file);
		free(frames[i].locals);
	}
	free(frames);
}

/*
 * --locals: the merged stack's Python frames are the walker's frames in the
 * same order; they take over the locals read for them.
 */
static void move_locals(struct dump_frame *from, size_t nfrom, struct dump_frame *to, size_t nto)
{
	size_t python = 0;

	for (size_t i = 0; i < nto; i++)
		python += !to[i].native;
	if (python != nfrom)
		return; /* a merge mismatch: the frames do not pair up, leave the locals out */
	for (size_t i = 0, j = 0; i < nto; i++) {
		if (to[i].native)
			continue;
		to[i].locals = from[j].locals;
		to[i].nlocals = from[j].nlocals;
		to[i].locals_unreadable = from[j].locals_unreadable;
		from[j].locals = NULL;
		j++;
	}
}

int dump_native_stack(struct native_mode *m, struct target_process *p, const struct thread_fsbase *regs,
		      const struct py_frame_rec *py, size_t npy, bool py_truncated, struct dump_thread *out)
{
	uint8_t *stack = malloc(NATIVE_STACK_BYTES);
	struct build b = { 0 };

	if (!stack)
		return -1;
	size_t len = read_stack(p->pid, regs->sp, stack);

	if (!len) {
		free(stack);
		return -1;
	}
	struct native_sample ns = {
		.pid = p->pid,
		.maps = p->maps,
		.ip = regs->ip,
		.sp = regs->sp,
		.bp = regs->bp,
		.stack = stack,
		.stack_len = len,
		.py = py,
		.npy = npy,
		.model = (enum py_frame_model)p->py.proc.off.frame_model,
		.py_truncated = py_truncated,
	};

	struct native_stack st;
	struct symbolizer_options so = { 0 };
	struct symbolizer *names = symbolizer_new(&so, NULL, NULL); /* for the Python records */
	native_mode_build(m, &ns, &st);
	for (size_t i = 0; names && i < st.count; i++) {
		struct frame_desc f;
		struct symbol_query q = { .source = SYMBOL_SOURCE_PYTHON, .py = &py[st.items[i].index] };
		if (!native_stack_frame(&st, i, &f))
			symbolizer_name(names, p, &q, &f);
		keep_frame(&b, &f);
	}
	b.failed |= !names;
	symbolizer_free(names);
	free(stack);
	if (b.failed || !b.n) {
		free_frames(b.frames, b.n);
		return -1;
	}
	/* a traceback lists the innermost frame last */
	for (size_t i = 0; i < b.n / 2; i++) {
		struct dump_frame t = b.frames[i];

		b.frames[i] = b.frames[b.n - 1 - i];
		b.frames[b.n - 1 - i] = t;
	}
	move_locals(out->frames, out->nframes, b.frames, b.n);
	free_frames(out->frames, out->nframes);
	out->frames = b.frames;
	out->nframes = b.n;
	out->native = true;
	return 0;
}
