// SPDX-License-Identifier: MIT
/*
 * chrometrace writer: the file is parsed back with cJSON and checked against
 * what the fixture added: slices of one thread nest and never overlap
 * otherwise, each thread's time is covered once, the time each stack was the
 * leaf path equals its samples times the period, gaps stay empty, off-CPU
 * intervals keep their length, process events and names are there.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "test_write_fixture.h"

#define PERIOD_NS (1000000000ull / FIX_RATE_HZ)

static cJSON *write_and_parse(const struct profile *p, size_t *len_out)
{
	cJSON *doc = fix_write_json(p, write_chrometrace, len_out);

	assert_non_null(doc);
	return doc;
}

/* Microseconds with three decimals back to nanoseconds, exactly. */
static uint64_t ns_of(const cJSON *v)
{
	assert_true(cJSON_IsNumber(v));
	return (uint64_t)llround(v->valuedouble * 1000.0);
}

/* A fixture frame as a timeline names it: its call, without the line. */
static void function_text(int i, char *buf, size_t len)
{
	const struct fix_frame *f = &FIX_FRAMES[i];

	if (f->kind == FRAME_PYTHON && f->file)
		snprintf(buf, len, "%s (%s)", f->name, f->file);
	else if (f->kind == FRAME_KERNEL)
		snprintf(buf, len, "%s_[k]", f->name);
	else
		snprintf(buf, len, "%s", f->name);
}

struct slice {
	uint64_t start, end;
	const char *name;
	int file_order;
};

static int by_start_then_longest(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return x->file_order - y->file_order;
}

/* The X events of one thread, in file order. */
static size_t thread_slices(const cJSON *events, uint32_t pid, uint32_t tid, struct slice *out, size_t cap)
{
	const cJSON *e;
	size_t n = 0;

	cJSON_ArrayForEach(e, events) {
		if (strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, "X") ||
		    cJSON_GetObjectItem(e, "pid")->valueint != (int)pid ||
		    cJSON_GetObjectItem(e, "tid")->valueint != (int)tid)
			continue;
		assert_true(n < cap);
		uint64_t ts = ns_of(cJSON_GetObjectItem(e, "ts")), dur = ns_of(cJSON_GetObjectItem(e, "dur"));

		assert_true(dur > 0);
		out[n] = (struct slice){ ts, ts + dur, cJSON_GetObjectItem(e, "name")->valuestring, (int)n };
		n++;
	}
	return n;
}

/*
 * Checks that the slices nest (sorted by start, longest first, each lies in
 * the enclosing one or after it) and returns, through self[], each slice's
 * time not covered by its children, and through depth[] its nesting depth.
 */
static void check_nesting(struct slice *s, size_t n, uint64_t *self, size_t *depth)
{
	size_t stack[64], top = 0;

	qsort(s, n, sizeof(*s), by_start_then_longest);
	for (size_t i = 0; i < n; i++) {
		while (top && s[stack[top - 1]].end <= s[i].start)
			top--;
		if (top) {
			struct slice *parent = &s[stack[top - 1]];

			if (s[i].end > parent->end)
				fail_msg("slice %s [%lu,%lu) overlaps %s [%lu,%lu) without nesting", s[i].name,
					 (unsigned long)s[i].start, (unsigned long)s[i].end, parent->name,
					 (unsigned long)parent->start, (unsigned long)parent->end);
			self[stack[top - 1]] -= s[i].end - s[i].start;
		}
		self[i] = s[i].end - s[i].start;
		depth[i] = top;
		assert_true(top < 64);
		stack[top++] = i;
	}
}

static void test_slices_nest_and_cover_each_sample_once(void **state)
{
	static struct fixture fx;
	static struct slice slices[FIX_NSAMPLES * 8];
	static uint64_t self[FIX_NSAMPLES * 8];
	static size_t depth[FIX_NSAMPLES * 8];

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	cJSON *doc = write_and_parse(fx.p, NULL);
	const cJSON *events = cJSON_GetObjectItem(doc, "traceEvents");

	assert_true(cJSON_IsArray(events));
	for (size_t t = 0; t < FIX_NTHREADS; t++) {
		size_t n = thread_slices(events, FIX_THREADS[t].pid, FIX_THREADS[t].tid, slices,
					 sizeof(slices) / sizeof(slices[0]));
		uint64_t expected_leaf[FIX_NSTACKS] = { 0 }, samples = 0;

		assert_true(n > 0);
		/* written as they end: end times never go back within a thread */
		for (size_t i = 1; i < n; i++)
			assert_true(slices[i].end >= slices[i - 1].end);
		check_nesting(slices, n, self, depth);

		/* the root slices cover the thread's samples once, one period each */
		uint64_t covered = 0, roots = 0;

		for (size_t i = 0; i < n; i++)
			if (depth[i] == 0) {
				covered += slices[i].end - slices[i].start;
				roots++;
			}
		for (int i = 0; i < FIX_NSAMPLES; i++)
			if (fx.samples[i].thread == (int)t) {
				samples++;
				expected_leaf[fx.samples[i].stack] += PERIOD_NS;
			}
		/* a frame that replaces another starts 1 ns late (see chrometrace.c) */
		assert_true(covered <= samples * PERIOD_NS && covered + roots >= samples * PERIOD_NS);

		/* self time by leaf name equals the samples whose stack ends there */
		for (size_t s = 0; s < FIX_NSTACKS; s++) {
			char leaf[256];
			uint64_t want = 0, got = 0, slack = 0;
			int leaf_frame = FIX_STACKS[s].n ? FIX_STACKS[s].frames[FIX_STACKS[s].n - 1] : -1;

			if (leaf_frame < 0)
				snprintf(leaf, sizeof(leaf), "[unknown]");
			else
				function_text(leaf_frame, leaf, sizeof(leaf));
			for (size_t k = 0; k < FIX_NSTACKS; k++) {
				int other = FIX_STACKS[k].n ? FIX_STACKS[k].frames[FIX_STACKS[k].n - 1] : -1;

				if (other == leaf_frame)
					want += expected_leaf[k];
			}
			for (size_t i = 0; i < n; i++)
				if (!strcmp(slices[i].name, leaf)) {
					got += self[i];
					slack += 2; /* a ns at each end */
				}
			if (got > want + slack || got + slack < want)
				fail_msg("thread %zu leaf %s: %lu ns of self time, expected %lu", t, leaf,
					 (unsigned long)got, (unsigned long)want);
		}
	}
	cJSON_Delete(doc);
	profile_free(fx.p);
}

static const cJSON *find_event(const cJSON *events, const char *ph, const char *name, uint32_t pid, uint32_t tid)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, events)
		if (!strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, ph) &&
		    !strcmp(cJSON_GetObjectItem(e, "name")->valuestring, name) &&
		    cJSON_GetObjectItem(e, "pid")->valueint == (int)pid &&
		    cJSON_GetObjectItem(e, "tid")->valueint == (int)tid)
			return e;
	return NULL;
}

static void test_names_order_and_process_events(void **state)
{
	static struct fixture fx;

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	profile_meta(fx.p)->start_ns = 500000;
	assert_int_equal(profile_add_process_event(fx.p, 100, PROCESS_EVENT_EXEC, 700000, "python3"), 0);
	assert_int_equal(profile_add_process_event(fx.p, 200, PROCESS_EVENT_EXIT, 2500000000ull, "gcc"), 0);
	assert_int_equal(profile_add_process_event(fx.p, 999, PROCESS_EVENT_START, 800000, "unsampled"), 0);
	cJSON *doc = write_and_parse(fx.p, NULL);
	const cJSON *events = cJSON_GetObjectItem(doc, "traceEvents");
	int sort_index[3];
	const uint32_t pids[3] = { 100, 200, 300 };

	for (size_t i = 0; i < 3; i++) {
		const cJSON *name = find_event(events, "M", "process_name", pids[i], pids[i]);
		const cJSON *sort = find_event(events, "M", "process_sort_index", pids[i], pids[i]);

		assert_non_null(name);
		assert_non_null(sort);
		sort_index[i] = cJSON_GetObjectItem(cJSON_GetObjectItem(sort, "args"), "sort_index")->valueint;
	}
	/* processes in the order they were first sampled: 100, 200, 300 */
	assert_true(sort_index[0] < sort_index[1] && sort_index[1] < sort_index[2]);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(find_event(events, "M", "process_name", 300, 300),
								     "args"),
						"name")
				    ->valuestring,
			    "odd;name");
	const cJSON *tn = find_event(events, "M", "thread_name", 300, 301);

	assert_non_null(tn);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(tn, "args"), "name")->valuestring, "t\"1");
	assert_null(find_event(events, "M", "thread_name", 100, 101)); /* unnamed */

	/* instants: relative to the start, on the process's track; the unsampled pid left out */
	const cJSON *exec = find_event(events, "i", "exec", 100, 100);

	assert_non_null(exec);
	assert_int_equal(ns_of(cJSON_GetObjectItem(exec, "ts")), 200000);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(exec, "args"), "comm")->valuestring, "python3");
	assert_non_null(find_event(events, "i", "exit", 200, 200));
	assert_null(find_event(events, "i", "start", 999, 999));
	cJSON_Delete(doc);
	profile_free(fx.p);
}

static uint32_t intern(struct profile *p, const char *name, const char *file, int line, enum frame_kind kind)
{
	struct frame_desc d = { name, file, line, kind };

	return profile_intern_frame(p, &d);
}

static int process_sort_index(const cJSON *events, uint32_t pid)
{
	const cJSON *sort = find_event(events, "M", "process_sort_index", pid, pid);

	assert_non_null(sort);
	return cJSON_GetObjectItem(cJSON_GetObjectItem(sort, "args"), "sort_index")->valueint;
}

/* Samples are read up to a drain apart: a process read first but sampled later sorts after. */
static void test_processes_sort_by_first_sample_time(void **state)
{
	struct profile_meta meta = { .rate_hz = 100, .unit = PROFILE_UNIT_SAMPLES };
	struct profile *p = profile_new(&meta);
	uint32_t f = intern(p, "work", "/w.py", 1, FRAME_PYTHON);

	assert_int_equal(profile_add_sample(p, 20, 20, &f, 1, 1, 30000000), 0);  /* read first, sampled at 30 ms */
	assert_int_equal(profile_add_sample(p, 10, 10, &f, 1, 1, 14000000), 0);  /* read second, sampled at 14 ms */
	assert_int_equal(profile_add_sample(p, 10, 11, &f, 1, 1, 12000000), 0);  /* its other thread, at 12 ms */
	assert_int_equal(profile_add_sample(p, 30, 30, &f, 1, 1, 20000000), 0);  /* read last, sampled at 20 ms */
	cJSON *doc = write_and_parse(p, NULL);
	const cJSON *events = cJSON_GetObjectItem(doc, "traceEvents");

	assert_int_equal(process_sort_index(events, 10), 0);
	assert_int_equal(process_sort_index(events, 30), 1);
	assert_int_equal(process_sort_index(events, 20), 2);
	cJSON_Delete(doc);
	profile_free(p);
}

/* Calls last through a gap, others end where last seen; off-CPU slices keep their length. */
static void test_calls_span_gaps_and_offcpu_keeps_its_length(void **state)
{
	struct profile_meta meta = { .rate_hz = 100, .unit = PROFILE_UNIT_NANOSECONDS, .start_ns = 1000000 };
	struct profile *p = profile_new(&meta);
	uint32_t mod = intern(p, "<module>", "/x.py", 1, FRAME_PYTHON);
	uint32_t spin = intern(p, "spin", "/x.py", 3, FRAME_PYTHON);
	uint32_t sleep = intern(p, "[sleep]", NULL, 0, FRAME_MARKER);
	uint32_t busy[] = { mod, spin }, idle[] = { mod, sleep };
	const uint64_t period = 10000000;
	static struct slice s[64];
	uint64_t self[64];
	size_t depth[64];

	/* 3 samples from 1 ms, a 200 ms sleep, 2 samples; then not seen for 500 ms; 1 sample */
	for (int i = 0; i < 3; i++)
		assert_int_equal(profile_add_sample(p, 5, 5, busy, 2, period, 1000000 + i * period), 0);
	assert_int_equal(profile_add_sample(p, 5, 5, idle, 2, 200000000, 31000000), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(profile_add_sample(p, 5, 5, busy, 2, period, 231000000 + i * period), 0);
	assert_int_equal(profile_add_sample(p, 5, 5, busy, 2, period, 751000000), 0);

	cJSON *doc = write_and_parse(p, NULL);
	size_t n = thread_slices(cJSON_GetObjectItem(doc, "traceEvents"), 5, 5, s, 64);

	check_nesting(s, n, self, depth);
	/*
	 * <module> once: the call goes on through the sleep and the gap; spin
	 * twice: before the sleep, and after it through the gap (the same
	 * stack on both sides of it).
	 */
	size_t modules = 0, spins = 0, sleeps = 0;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(s[i].name, "<module> (/x.py)")) {
			modules++;
			assert_int_equal(s[i].start, 0);
			assert_int_equal(s[i].end, 760000000);
		} else if (!strcmp(s[i].name, "spin (/x.py)")) {
			spins++;
			assert_true(s[i].end == 30000000 || (s[i].start == 230000001 && s[i].end == 760000000));
		} else if (!strcmp(s[i].name, "[sleep]")) {
			sleeps++;
			assert_int_equal(s[i].end - s[i].start, 200000000 - 1);
			assert_int_equal(s[i].start, 30000000 + 1);
		}
	}
	assert_int_equal(modules, 1);
	assert_int_equal(spins, 2);
	assert_int_equal(sleeps, 1);
	cJSON_Delete(doc);
	profile_free(p);
}

/* A process's calls end at its exec and its exit, not a sampling period later; nothing spans an exec. */
static void test_exec_and_exit_end_calls(void **state)
{
	struct profile_meta meta = { .rate_hz = 100, .unit = PROFILE_UNIT_SAMPLES };
	struct profile *p = profile_new(&meta);
	uint32_t start = intern(p, "_start", "/lib64/ld-linux-x86-64.so.2", 0, FRAME_NATIVE);
	uint32_t bash = intern(p, "main", "/usr/bin/bash", 0, FRAME_NATIVE);
	uint32_t py = intern(p, "Py_BytesMain", "/usr/bin/python3.11", 0, FRAME_NATIVE);
	uint32_t before[] = { start, bash }, after[] = { start, py };
	static struct slice s[16];
	uint64_t self[16];
	size_t depth[16];

	assert_int_equal(profile_add_sample(p, 7, 7, before, 2, 1, 0), 0);
	assert_int_equal(profile_add_sample(p, 7, 7, before, 2, 1, 10000000), 0);
	assert_int_equal(profile_add_process_event(p, 7, PROCESS_EVENT_EXEC, 15000000, "python3"), 0);
	assert_int_equal(profile_add_sample(p, 7, 7, after, 2, 1, 16000000), 0);
	assert_int_equal(profile_add_sample(p, 7, 7, after, 2, 1, 26000000), 0);
	assert_int_equal(profile_add_process_event(p, 7, PROCESS_EVENT_EXIT, 32000000, "python3"), 0);

	cJSON *doc = write_and_parse(p, NULL);
	size_t n = thread_slices(cJSON_GetObjectItem(doc, "traceEvents"), 7, 7, s, 16);

	check_nesting(s, n, self, depth);
	assert_int_equal(n, 4);
	/* sorted by start: _start and main of bash to the exec, then _start and Py_BytesMain to the exit */
	assert_string_equal(s[0].name, "_start");
	assert_int_equal(s[0].start, 0);
	assert_int_equal(s[0].end, 15000000);
	assert_string_equal(s[1].name, "main");
	assert_int_equal(s[1].end, 15000000);
	assert_string_equal(s[2].name, "_start");
	assert_int_equal(s[2].start, 16000000);
	assert_int_equal(s[2].end, 32000000);
	assert_string_equal(s[3].name, "Py_BytesMain");
	assert_int_equal(s[3].end, 32000000);
	cJSON_Delete(doc);
	profile_free(p);
}

static void test_empty_profile_is_valid_json(void **state)
{
	struct profile_meta meta = { .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	cJSON *doc = write_and_parse(p, NULL);

	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "traceEvents")), 0);
	assert_non_null(cJSON_GetObjectItem(doc, "otherData"));
	cJSON_Delete(doc);
	profile_free(p);
}

/*
 * 1 M samples shaped like a real recording (a random walk: half the samples
 * repeat the stack, the others change the leaf or call or return): time and
 * size beside the speedscope file of the same profile. A figure, not an
 * assert: `make bench` holds the goal.
 */
static long file_size_after(const struct profile *p, int (*writer)(const struct profile *, FILE *,
								    const struct write_options *),
			    double *seconds)
{
	FILE *f = tmpfile();
	struct timespec t0, t1;

	assert_non_null(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(writer(p, f, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	long size = ftell(f);

	fclose(f);
	return size;
}

static void test_scale_one_million_samples(void **state)
{
	struct profile_meta meta = { .rate_hz = 1000, .command = "scale" };
	struct profile *p = profile_new(&meta);
	uint32_t frames[200], stack[64];
	size_t depth = 12;
	uint64_t rng = 7;

	for (int i = 0; i < 200; i++) {
		char name[64];

		snprintf(name, sizeof(name), "function_%d", i);
		frames[i] = intern(p, name, "/usr/lib/python3/dist-packages/package/module.py", i + 1,
				   FRAME_PYTHON);
	}
	for (size_t k = 0; k < depth; k++)
		stack[k] = frames[k];
	for (int i = 0; i < 1000000; i++) {
		uint32_t r = fix_rand(&rng) % 10;

		if (r >= 5 && r < 8)
			stack[depth - 1] = frames[fix_rand(&rng) % 200];
		else if (r == 8 && depth < 60)
			stack[depth++] = frames[fix_rand(&rng) % 200];
		else if (r == 9 && depth > 2)
			depth--;
		assert_int_equal(profile_add_sample(p, 1, 1, stack, depth, 1, 1000000ull * (uint64_t)i), 0);
	}
	double trace_s, speedscope_s;
	long trace = file_size_after(p, write_chrometrace, &trace_s);
	long speedscope = file_size_after(p, write_speedscope, &speedscope_s);

	printf("1 M samples: chrometrace %.2f s, %.1f MB; speedscope %.2f s, %.1f MB\n", trace_s, trace / 1e6,
	       speedscope_s, speedscope / 1e6);
	profile_free(p);
}

/* With BPFSPY_WRITE_DEMO_DIR set: the file the browser check loads. */
static void test_write_demo_file(void **state)
{
	int rc = fix_write_demo("demo.trace.json", write_chrometrace);

	if (rc > 0)
		skip();
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slices_nest_and_cover_each_sample_once),
		cmocka_unit_test(test_names_order_and_process_events),
		cmocka_unit_test(test_processes_sort_by_first_sample_time),
		cmocka_unit_test(test_calls_span_gaps_and_offcpu_keeps_its_length),
		cmocka_unit_test(test_exec_and_exit_end_calls),
		cmocka_unit_test(test_empty_profile_is_valid_json),
		cmocka_unit_test(test_scale_one_million_samples),
		cmocka_unit_test(test_write_demo_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
