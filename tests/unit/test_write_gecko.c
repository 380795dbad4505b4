// SPDX-License-Identifier: MIT
/*
 * Gecko (Firefox Profiler) writer: the file is parsed back with cJSON and
 * every thread's samples are replayed through its own stack, frame and
 * string tables against the samples the fixture added, in order and at
 * their times; plus gaps, off-CPU and process markers.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "test_write_fixture.h"

static cJSON *write_and_parse(const struct profile *p)
{
	cJSON *doc = fix_write_json(p, write_gecko, NULL);

	assert_non_null(doc);
	return doc;
}

static const cJSON *at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		fprintf(stderr, "missing member \"%s\"\n", key);
	assert_non_null(v);
	return v;
}

static const cJSON *data_of(const cJSON *thread, const char *table)
{
	return at(at(thread, table), "data");
}

/* A fixture frame's location string, as the writer documents it. */
static void location_text(int i, char *buf, size_t len)
{
	const struct fix_frame *f = &FIX_FRAMES[i];

	switch (f->kind) {
	case FRAME_PYTHON:
		if (f->line > 0)
			snprintf(buf, len, "%s (%s:%d)", f->name, f->file, f->line);
		else
			snprintf(buf, len, "%s (%s)", f->name, f->file);
		break;
	case FRAME_NATIVE:
		snprintf(buf, len, "%s (%s)", f->name, f->file ? f->file : "native");
		break;
	case FRAME_KERNEL:
		snprintf(buf, len, "%s (kernel)", f->name);
		break;
	default:
		snprintf(buf, len, "%s (bpfspy)", f->name);
	}
}

/* The location strings of a sample's stack, root first, into out; returns the depth. */
static int replay_stack(const cJSON *thread, int stack, const char **out, int cap)
{
	const cJSON *stacks = data_of(thread, "stackTable"), *frames = data_of(thread, "frameTable");
	const cJSON *strings = at(thread, "stringTable");
	int n = 0;

	while (stack >= 0) {
		const cJSON *row = cJSON_GetArrayItem(stacks, stack);
		const cJSON *prefix = cJSON_GetArrayItem(row, 0);
		int frame = cJSON_GetArrayItem(row, 1)->valueint;
		int string = cJSON_GetArrayItem(cJSON_GetArrayItem(frames, frame), 0)->valueint;

		assert_non_null(row);
		assert_true(n < cap);
		out[n++] = cJSON_GetArrayItem(strings, string)->valuestring;
		if (cJSON_IsNull(prefix))
			break;
		/* a prefix precedes its stacks */
		assert_true(prefix->valueint < stack);
		stack = prefix->valueint;
	}
	for (int i = 0; i < n / 2; i++) {
		const char *t = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

static const cJSON *thread_by_tid(const cJSON *threads, uint32_t tid)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, threads)
		if (at(t, "tid")->valueint == (int)tid)
			return t;
	return NULL;
}

static void test_samples_replay_the_fixture_in_order(void **state)
{
	static struct fixture fx;

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	cJSON *doc = write_and_parse(fx.p);
	const cJSON *profile = at(doc, "profile"), *threads = at(profile, "threads");

	assert_string_equal(at(at(doc, "systemHost"), "name")->valuestring, "Firefox");
	assert_int_equal(at(at(profile, "meta"), "version")->valueint, 36);
	assert_true(fabs(at(at(profile, "meta"), "interval")->valuedouble - 1000.0 / FIX_RATE_HZ) < 1e-3);
	assert_int_equal(cJSON_GetArraySize(threads), FIX_NTHREADS);

	for (size_t t = 0; t < FIX_NTHREADS; t++) {
		const struct fix_thread *ft = &FIX_THREADS[t];
		const cJSON *th = thread_by_tid(threads, ft->tid);
		char want_process[128];

		assert_non_null(th);
		snprintf(want_process, sizeof(want_process), "%s (pid %u)", ft->comm, ft->pid);
		assert_string_equal(at(th, "processName")->valuestring, want_process);
		assert_int_equal(at(th, "pid")->valueint, (int)ft->pid);
		/* the process's main thread (or its only one) is GeckoMain */
		if (ft->tid == ft->pid || ft->pid == 300)
			assert_string_equal(at(th, "name")->valuestring, "GeckoMain");
		else if (ft->name)
			assert_string_equal(at(th, "name")->valuestring, ft->name);
		else
			assert_string_equal(at(th, "name")->valuestring, "tid 101");

		const cJSON *samples = data_of(th, "samples"), *s;
		int next = 0;
		double last_time = -1;

		cJSON_ArrayForEach(s, samples) {
			const cJSON *stack = cJSON_GetArrayItem(s, 0);
			double time = cJSON_GetArrayItem(s, 1)->valuedouble;
			const char *got[16];
			char want[256];

			assert_true(time >= last_time);
			last_time = time;
			if (cJSON_IsNull(stack))
				continue; /* where the thread was not seen */
			while (next < FIX_NSAMPLES && fx.samples[next].thread != (int)t)
				next++;
			assert_true(next < FIX_NSAMPLES);
			const struct fix_sample *fs = &fx.samples[next++];
			int depth = replay_stack(th, stack->valueint, got, 16);
			const struct fix_stack *fst = &FIX_STACKS[fs->stack];

			/* times: ms since the start, which is 0 here */
			assert_true(fabs(time - (double)fs->ts_ns / 1e6) < 1e-3);
			if (fst->n == 0) {
				assert_int_equal(depth, 1);
				assert_string_equal(got[0], "[unknown] (bpfspy)");
				continue;
			}
			assert_int_equal(depth, fst->n);
			for (int k = 0; k < fst->n; k++) {
				location_text(fst->frames[k], want, sizeof(want));
				assert_string_equal(got[k], want);
			}
		}
		/* every sample of the thread was there */
		for (; next < FIX_NSAMPLES; next++)
			assert_int_not_equal(fx.samples[next].thread, (int)t);
	}
	cJSON_Delete(doc);
	profile_free(fx.p);
}

static uint32_t intern(struct profile *p, const char *name, const char *file, int line, enum frame_kind kind)
{
	struct frame_desc d = { name, file, line, kind };

	return profile_intern_frame(p, &d);
}

/* Gaps get a sample without a stack; off-CPU intervals and process events are markers. */
static void test_gaps_offcpu_and_process_markers(void **state)
{
	struct profile_meta meta = { .rate_hz = 100, .unit = PROFILE_UNIT_NANOSECONDS, .start_ns = 1000000 };
	struct profile *p = profile_new(&meta);
	uint32_t mod = intern(p, "<module>", "/x.py", 1, FRAME_PYTHON);
	uint32_t sleep = intern(p, "[sleep]", NULL, 0, FRAME_MARKER);
	uint32_t busy[] = { mod }, idle[] = { mod, sleep };
	const uint64_t period = 10000000;

	/* 2 samples from 1 ms, a 100 ms sleep, 1 sample, not seen for 300 ms, 1 sample */
	for (int i = 0; i < 2; i++)
		assert_int_equal(profile_add_sample(p, 5, 5, busy, 1, period, 1000000 + i * period), 0);
	assert_int_equal(profile_add_sample(p, 5, 5, idle, 2, 100000000, 21000000), 0);
	assert_int_equal(profile_add_sample(p, 5, 5, busy, 1, period, 121000000), 0);
	assert_int_equal(profile_add_sample(p, 5, 5, busy, 1, period, 431000000), 0);
	assert_int_equal(profile_add_process_event(p, 5, PROCESS_EVENT_EXEC, 500000, "x"), 0);
	assert_int_equal(profile_add_process_event(p, 5, PROCESS_EVENT_EXIT, 442000000, "x"), 0);

	cJSON *doc = write_and_parse(p);
	const cJSON *th = cJSON_GetArrayItem(at(at(doc, "profile"), "threads"), 0);
	const cJSON *samples = data_of(th, "samples"), *markers = data_of(th, "markers");
	const cJSON *strings = at(th, "stringTable"), *s, *m;
	int nulls = 0, sleeping = 0;

	cJSON_ArrayForEach(s, samples) {
		const cJSON *stack = cJSON_GetArrayItem(s, 0);
		double time = cJSON_GetArrayItem(s, 1)->valuedouble;
		const char *frames[4];

		if (cJSON_IsNull(stack)) {
			nulls++;
			/* the gap starts where the thread was last seen; the thread's end */
			assert_true(fabs(time - 130.0) < 1e-6 || fabs(time - 440.0) < 1e-6);
			continue;
		}
		if (replay_stack(th, stack->valueint, frames, 4) == 2) {
			assert_string_equal(frames[1], "[sleep] (bpfspy)");
			sleeping++;
		}
	}
	/* times are relative to the origin: the exec at 0.5 ms, before the start */
	assert_int_equal(nulls, 2);
	assert_int_equal(sleeping, 10); /* one per period over 100 ms */

	int offcpu = 0, exec = 0, exit_ = 0;

	cJSON_ArrayForEach(m, markers) {
		const char *name = cJSON_GetArrayItem(strings, cJSON_GetArrayItem(m, 0)->valueint)->valuestring;
		double start = cJSON_GetArrayItem(m, 1)->valuedouble;
		int phase = cJSON_GetArrayItem(m, 3)->valueint;

		if (!strcmp(name, "[sleep] (bpfspy)")) {
			offcpu++;
			assert_int_equal(phase, 1);
			assert_true(fabs(start - 20.0) < 1e-6);
			assert_true(fabs(cJSON_GetArrayItem(m, 2)->valuedouble - 120.0) < 1e-6);
		} else if (!strcmp(name, "exec")) {
			exec++;
			assert_int_equal(phase, 0);
			assert_true(fabs(start) < 1e-6);
		} else if (!strcmp(name, "exit")) {
			exit_++;
			assert_true(fabs(start - 441.0) < 1e-6);
		}
	}
	assert_int_equal(offcpu, 1);
	assert_int_equal(exec, 1);
	assert_int_equal(exit_, 1);
	assert_true(fabs(at(th, "unregisterTime")->valuedouble - 441.0) < 1e-6);
	cJSON_Delete(doc);
	profile_free(p);
}

/* Samples never go back in time, even where runs overlap by jitter; none after the exit. */
static void test_sample_times_are_monotonic_and_end_at_exit(void **state)
{
	struct profile_meta meta = { .rate_hz = 100, .unit = PROFILE_UNIT_NANOSECONDS };
	struct profile *p = profile_new(&meta);
	uint32_t mod = intern(p, "<module>", "/x.py", 1, FRAME_PYTHON);
	uint32_t pre = intern(p, "[preempted]", NULL, 0, FRAME_MARKER);
	uint32_t busy[] = { mod }, off[] = { mod, pre };

	/* on-CPU samples of 10 ms each; the thread is preempted 3 ms after the last one */
	assert_int_equal(profile_add_sample(p, 9, 9, busy, 1, 10000000, 0), 0);
	assert_int_equal(profile_add_sample(p, 9, 9, busy, 1, 10000000, 10000000), 0);
	assert_int_equal(profile_add_sample(p, 9, 9, off, 2, 2000000, 13000000), 0);
	assert_int_equal(profile_add_sample(p, 9, 9, busy, 1, 10000000, 15000000), 0);
	assert_int_equal(profile_add_process_event(p, 9, PROCESS_EVENT_EXIT, 18000000, "x"), 0);

	cJSON *doc = write_and_parse(p);
	const cJSON *th = cJSON_GetArrayItem(at(at(doc, "profile"), "threads"), 0), *s;
	double last = -1;

	cJSON_ArrayForEach(s, data_of(th, "samples")) {
		double t = cJSON_GetArrayItem(s, 1)->valuedouble;

		assert_true(t >= last);
		assert_true(t <= 18.0);
		last = t;
	}
	cJSON_Delete(doc);
	profile_free(p);
}

static void test_empty_profile_is_valid_json(void **state)
{
	struct profile_meta meta = { .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	cJSON *doc = write_and_parse(p);

	assert_int_equal(cJSON_GetArraySize(at(at(doc, "profile"), "threads")), 0);
	cJSON_Delete(doc);
	profile_free(p);
}

/* With BPFSPY_WRITE_DEMO_DIR set: the file the browser check loads. */
static void test_write_demo_file(void **state)
{
	int rc = fix_write_demo("demo.gecko.json", write_gecko);

	if (rc > 0)
		skip();
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_replay_the_fixture_in_order),
		cmocka_unit_test(test_gaps_offcpu_and_process_markers),
		cmocka_unit_test(test_sample_times_are_monotonic_and_end_at_exit),
		cmocka_unit_test(test_empty_profile_is_valid_json),
		cmocka_unit_test(test_write_demo_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
