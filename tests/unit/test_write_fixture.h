/* SPDX-License-Identifier: MIT */
/*
 * A small multi-process profile shared by the profile and writer tests,
 * together with the ground truth each test checks against: the fixture keeps
 * its own list of every sample it added, so expectations are computed from
 * that list, never from what the profile or a writer produced.
 */
#ifndef BPFSPY_TEST_WRITE_FIXTURE_H
#define BPFSPY_TEST_WRITE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "profile/profile.h"

struct fix_frame {
	const char *name, *file;
	int line;
	enum frame_kind kind;
};

static const struct fix_frame FIX_FRAMES[] = {
	{ "<module>", "/usr/lib/python3/dist-packages/pytest/__main__.py", 5, FRAME_PYTHON },
	{ "main", "/usr/lib/python3/dist-packages/_pytest/config/__init__.py", 144, FRAME_PYTHON },
	{ "_find_and_load", "<frozen importlib._bootstrap>", 1360, FRAME_PYTHON },
	{ "exec_module", "<frozen importlib._bootstrap_external>", 999, FRAME_PYTHON },
	{ "PyImport_ImportModuleLevelObject", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", 0, FRAME_NATIVE },
	{ "inflate", "/usr/lib/x86_64-linux-gnu/libz.so.1", 0, FRAME_NATIVE },
	{ "do_syscall_64", NULL, 0, FRAME_KERNEL },
	{ "__x64_sys_read", NULL, 0, FRAME_KERNEL },
	{ "main", "/usr/bin/gcc", 0, FRAME_NATIVE },
	{ "[truncated]", NULL, 0, FRAME_MARKER },
	/* a Python frame without a known line */
	{ "wait", "/usr/lib/python3.11/threading.py", 0, FRAME_PYTHON },
};
#define FIX_NFRAMES (sizeof(FIX_FRAMES) / sizeof(FIX_FRAMES[0]))

struct fix_stack {
	int n;
	int frames[8]; /* indices into FIX_FRAMES, root first */
};

static const struct fix_stack FIX_STACKS[] = {
	{ 2, { 0, 1 } },
	{ 4, { 0, 1, 2, 3 } },
	{ 6, { 0, 1, 2, 3, 4, 5 } },
	{ 5, { 0, 1, 2, 6, 7 } },
	{ 1, { 8 } },
	{ 3, { 8, 6, 7 } },
	{ 0, { 0 } }, /* empty: stored as "[unknown]" */
	{ 2, { 9, 10 } },
	{ 3, { 0, 1, 10 } },
};
#define FIX_NSTACKS (sizeof(FIX_STACKS) / sizeof(FIX_STACKS[0]))

struct fix_thread {
	uint32_t pid, tid;
	const char *comm;   /* process name */
	const char *name;   /* thread name or NULL */
};

static const struct fix_thread FIX_THREADS[] = {
	{ 100, 100, "python3", "MainThread" },
	{ 100, 101, "python3", NULL },
	{ 200, 200, "gcc", NULL },
	{ 100, 103, "python3", "worker" },
	{ 300, 301, "odd;name", "t\"1" },
};
#define FIX_NTHREADS (sizeof(FIX_THREADS) / sizeof(FIX_THREADS[0]))

#define FIX_NSAMPLES 2000
#define FIX_RATE_HZ 97

struct fix_sample {
	int thread; /* index into FIX_THREADS */
	int stack;  /* index into FIX_STACKS */
	uint64_t weight, ts_ns;
};

struct fixture {
	struct profile *p;
	uint32_t frame_id[FIX_NFRAMES];
	struct fix_sample samples[FIX_NSAMPLES];
};

static inline uint32_t fix_rand(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*state >> 33);
}

/*
 * Threads take turns in bursts so each thread sees repeated stacks (runs to
 * merge) and threads of one process interleave with other processes.
 * weight_fn: 1 per sample, or a varying nanosecond weight.
 */
static inline int fixture_build(struct fixture *fx, enum profile_unit unit, size_t nthreads_used)
{
	struct profile_meta meta = {
		.command = "python3 -m pytest --collect-only",
		.rate_hz = FIX_RATE_HZ,
		.unit = unit,
	};
	uint64_t state = 42;
	int last_stack[FIX_NTHREADS];
	uint64_t thread_clock[FIX_NTHREADS];

	memset(fx, 0, sizeof(*fx));
	fx->p = profile_new(&meta);
	if (!fx->p)
		return -1;
	for (size_t i = 0; i < FIX_NFRAMES; i++) {
		struct frame_desc d = { FIX_FRAMES[i].name, FIX_FRAMES[i].file, FIX_FRAMES[i].line,
					FIX_FRAMES[i].kind };

		fx->frame_id[i] = profile_intern_frame(fx->p, &d);
	}
	for (size_t t = 0; t < nthreads_used; t++) {
		profile_set_process_name(fx->p, FIX_THREADS[t].pid, FIX_THREADS[t].comm);
		if (FIX_THREADS[t].name)
			profile_set_thread_name(fx->p, FIX_THREADS[t].pid, FIX_THREADS[t].tid,
						FIX_THREADS[t].name);
		last_stack[t] = -1;
		thread_clock[t] = 1000000ull * (t + 1);
	}
	for (int i = 0; i < FIX_NSAMPLES; i++) {
		struct fix_sample *s = &fx->samples[i];
		uint32_t frames[8];

		s->thread = (int)((i / 7) % nthreads_used);
		/* two times out of three repeat the thread's previous stack */
		if (last_stack[s->thread] >= 0 && fix_rand(&state) % 3)
			s->stack = last_stack[s->thread];
		else
			s->stack = (int)(fix_rand(&state) % FIX_NSTACKS);
		last_stack[s->thread] = s->stack;
		s->weight = unit == PROFILE_UNIT_SAMPLES ? 1 : 1000 + fix_rand(&state) % 5000000;
		/*
		 * Each thread runs on its own clock: a sample follows the
		 * thread's previous one by that one's duration (a sampling
		 * period, or its nanosecond weight), as a thread sampled on a
		 * CPU sees it, so runs merge on the stack alone.
		 */
		s->ts_ns = thread_clock[s->thread];
		thread_clock[s->thread] += unit == PROFILE_UNIT_SAMPLES ? 1000000000ull / FIX_RATE_HZ : s->weight;
		for (int k = 0; k < FIX_STACKS[s->stack].n; k++)
			frames[k] = fx->frame_id[FIX_STACKS[s->stack].frames[k]];
		if (profile_add_sample(fx->p, FIX_THREADS[s->thread].pid, FIX_THREADS[s->thread].tid,
				       frames, (size_t)FIX_STACKS[s->stack].n, s->weight, s->ts_ns))
			return -1;
	}
	return 0;
}

/* The display text of fixture frame i, as documented for collapsed output. */
static inline void fix_frame_text(int i, char *buf, size_t len)
{
	const struct fix_frame *f = &FIX_FRAMES[i];

	if (f->kind == FRAME_PYTHON && f->line > 0)
		snprintf(buf, len, "%s (%s:%d)", f->name, f->file, f->line);
	else if (f->kind == FRAME_PYTHON && f->file)
		snprintf(buf, len, "%s (%s)", f->name, f->file);
	else if (f->kind == FRAME_KERNEL)
		snprintf(buf, len, "%s_[k]", f->name);
	else
		snprintf(buf, len, "%s", f->name);
}

/* Root-first ";"-joined text of fixture stack s. */
static inline void fix_stack_text(int s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (FIX_STACKS[s].n == 0) {
		snprintf(buf, len, "[unknown]");
		return;
	}
	for (int k = 0; k < FIX_STACKS[s].n; k++) {
		char frame[256];

		fix_frame_text(FIX_STACKS[s].frames[k], frame, sizeof(frame));
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ";" : "", frame);
	}
}

typedef int (*fix_writer)(const struct profile *, FILE *, const struct write_options *);

/* Writes p with write into memory and parses it; NULL if either fails (the JSON error is printed). */
static inline cJSON *fix_write_json(const struct profile *p, fix_writer write, size_t *len_out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cJSON *doc = NULL;

	if (!f)
		return NULL;
	int rc = write(p, f, NULL);

	if (fclose(f) == 0 && rc == 0) {
		doc = cJSON_ParseWithLength(buf, len);
		if (!doc)
			fprintf(stderr, "unparsable JSON near: %.80s\n", cJSON_GetErrorPtr());
	}
	free(buf);
	if (len_out)
		*len_out = len;
	return doc;
}

/* With BPFSPY_WRITE_DEMO_DIR set, writes the whole fixture as DIR/name for the browser checks; 1 if not set. */
static inline int fix_write_demo(const char *name, fix_writer write)
{
	const char *dir = getenv("BPFSPY_WRITE_DEMO_DIR");
	static struct fixture fx;
	char path[4096];
	int rc = -1;

	if (!dir)
		return 1;
	if (fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (f) {
		rc = write(fx.p, f, NULL);
		if (fclose(f) != 0)
			rc = -1;
	}
	profile_free(fx.p);
	return rc;
}

/* Reads a whole file into a NUL-terminated heap buffer. */
static inline char *fix_slurp(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

#endif
