// SPDX-License-Identifier: MIT
/* Reading speedscope files back: the fixture survives write -> read unchanged; bad files are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output/speedscope_read.h"
#include "profile/profile.h"
#include "test_write_fixture.h"

typedef int (*writer_fn)(const struct profile *, FILE *, const struct write_options *);

static char *write_to_memory(const struct profile *p, writer_fn fn, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(fn(p, f, NULL), 0);
	fclose(f);
	return buf;
}

static struct profile *read_or_fail(const char *json, size_t len)
{
	char err[256] = "";
	struct profile *p = profile_read_speedscope(json, len, err, sizeof(err));

	if (!p)
		fail_msg("speedscope_read: %s", err);
	return p;
}

static struct profile *round_trip(const struct profile *p)
{
	size_t len;
	char *json = write_to_memory(p, write_speedscope, &len);
	struct profile *back = read_or_fail(json, len);

	free(json);
	return back;
}

/*
 * Sample counts survive only for sample profiles: a nanosecond file keeps
 * one weight per run of identical samples, not how many samples it merged.
 */
static void check_same_threads(const struct profile *a, const struct profile *b, bool counts)
{
	struct profile_thread_info ta, tb;

	assert_int_equal(profile_thread_count(a), profile_thread_count(b));
	for (size_t i = 0; profile_thread_at(a, i, &ta); i++) {
		assert_true(profile_thread_at(b, i, &tb));
		assert_int_equal(ta.pid, tb.pid);
		assert_int_equal(ta.tid, tb.tid);
		if (counts)
			assert_int_equal(ta.samples, tb.samples);
		assert_int_equal(ta.total_weight, tb.total_weight);
		assert_string_equal(ta.process_name, tb.process_name);
		if (ta.thread_name)
			assert_string_equal(ta.thread_name, tb.thread_name);
		else
			assert_null(tb.thread_name);
	}
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the newline-terminated lines of text in place. */
static void sort_lines(char *text)
{
	size_t n = 0, len = strlen(text);
	char **lines = calloc(len + 1, sizeof(*lines)), *copy = strdup(text), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), compare_lines);
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(text, lines[i]);
		strcat(text, "\n");
	}
	free(lines);
	free(copy);
}

static void round_trip_fixture(enum profile_unit unit)
{
	struct fixture *fx = malloc(sizeof(*fx));
	size_t la, lb;

	assert_int_equal(fixture_build(fx, unit, FIX_NTHREADS), 0);
	struct profile *back = round_trip(fx->p);
	const struct profile_meta *m = profile_meta_const(back);

	assert_int_equal(m->unit, unit);
	assert_int_equal(m->rate_hz, FIX_RATE_HZ);
	assert_string_equal(m->command, "python3 -m pytest --collect-only");
	if (unit == PROFILE_UNIT_SAMPLES)
		assert_int_equal(profile_sample_count(back), FIX_NSAMPLES);
	assert_int_equal(profile_total_weight(back), profile_total_weight(fx->p));
	check_same_threads(fx->p, back, unit == PROFILE_UNIT_SAMPLES);

	/* the same stacks and weights, frame text (which encodes the kind) included; stack ids may differ */
	char *ca = write_to_memory(fx->p, write_collapsed, &la), *cb = write_to_memory(back, write_collapsed, &lb);
	sort_lines(ca);
	sort_lines(cb);
	assert_string_equal(ca, cb);
	free(ca);
	free(cb);

	/* kinds come back exactly, not guessed */
	for (size_t i = 0; i < FIX_NFRAMES; i++) {
		bool found = false;

		for (uint32_t id = 0; id < profile_frame_count(back); id++) {
			const struct frame_desc *d = profile_frame(back, id);

			if (!strcmp(d->name, FIX_FRAMES[i].name) && d->kind == FIX_FRAMES[i].kind)
				found = true;
		}
		assert_true(found);
	}
	profile_free(back);
	profile_free(fx->p);
	free(fx);
}

static void test_samples_round_trip(void **state)
{
	round_trip_fixture(PROFILE_UNIT_SAMPLES);
}

static void test_nanoseconds_round_trip(void **state)
{
	round_trip_fixture(PROFILE_UNIT_NANOSECONDS);
}

/* A speedscope file from another tool: no "bpfspy" block, weights in milliseconds. */
static void test_foreign_file(void **state)
{
	static const char json[] =
		"{\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"app.py\",\"line\":3},{\"name\":\"[gc]\"}]},"
		"\"profiles\":[{\"type\":\"sampled\",\"name\":\"worker\",\"unit\":\"milliseconds\",\"startValue\":0,"
		"\"endValue\":5,\"samples\":[[0],[0,1]],\"weights\":[2,3]}]}";
	char err[256];
	struct profile *p = profile_read_speedscope(json, strlen(json), err, sizeof(err));
	struct profile_thread_info t;

	assert_non_null(p);
	assert_int_equal(profile_meta_const(p)->unit, PROFILE_UNIT_NANOSECONDS);
	assert_int_equal(profile_total_weight(p), 5000000);
	assert_true(profile_thread_at(p, 0, &t));
	assert_string_equal(t.process_name, "worker");
	assert_int_equal(profile_frame(p, 0)->kind, FRAME_PYTHON);
	assert_int_equal(profile_frame(p, 1)->kind, FRAME_MARKER);
	profile_free(p);
}

/* Of duplicate keys the last wins, as in JSON.parse (speedscope) and Python's json; NaN is a number. */
static void test_duplicate_keys_and_nan(void **state)
{
	static const char json[] =
		"{\"shared\":{\"frames\":[{\"name\":\"x\"}]},"
		"\"shared\":{\"frames\":[{\"name\":\"a\",\"name\":\"b\",\"file\":\"b.py\",\"line\":NaN}]},"
		"\"profiles\":[{\"type\":\"evented\",\"type\":\"sampled\",\"name\":\"w\",\"unit\":\"none\","
		"\"samples\":[[0]],\"weights\":[1],\"weights\":[3]}],"
		"\"bpfspy\":{\"unit\":\"samples\",\"rate_hz\":1},\"bpfspy\":{\"unit\":\"samples\",\"rate_hz\":250}}";
	struct profile *p = read_or_fail(json, strlen(json));

	assert_int_equal(profile_meta_const(p)->rate_hz, 250);
	assert_int_equal(profile_frame_count(p), 1);
	assert_string_equal(profile_frame(p, 0)->name, "b");
	assert_int_equal(profile_frame(p, 0)->line, 0);
	assert_int_equal(profile_sample_count(p), 3);
	profile_free(p);
}

/* Numbers beyond 64 bits are not a crash (a cast would be undefined): a span is dropped, a weight refused. */
static void test_numbers_beyond_64_bits(void **state)
{
	static const char json[] = "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
				   "\"unit\":\"seconds\",\"startValue\":0,\"endValue\":3.17778e+95,"
				   "\"samples\":[[0]],\"weights\":[1]}]}";
	struct profile *p = read_or_fail(json, strlen(json));

	assert_int_equal(profile_meta_const(p)->end_ns, 0);
	profile_free(p);
}

static void expect_refused(const char *json, const char *why)
{
	char err[256] = "";
	struct profile *p = profile_read_speedscope(json, strlen(json), err, sizeof(err));

	assert_null(p);
	if (!strstr(err, why))
		fail_msg("error '%s' does not mention '%s'", err, why);
}

static void test_bad_files_are_refused(void **state)
{
	expect_refused("", "not JSON");
	expect_refused("[1,2]", "not JSON");
	expect_refused("{\"profiles\":[]}", "shared.frames");
	expect_refused("{\"shared\":{\"frames\":[]}}", "profiles");
	expect_refused("{\"shared\":{\"frames\":[{\"file\":\"x\"}]},\"profiles\":[]}", "no name");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"evented\"}]}",
		       "evented");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		       "\"unit\":\"none\",\"samples\":[[5]],\"weights\":[1]}]}",
		       "frame 5");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		       "\"unit\":\"none\",\"samples\":[[0]],\"weights\":[-1]}]}",
		       "weight");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		       "\"unit\":\"none\",\"samples\":[[0]],\"weights\":[]}]}",
		       "same length");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		       "\"unit\":\"none\",\"samples\":[[0]],\"weights\":[1e12]}]}",
		       "more than");
	expect_refused("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		       "\"unit\":\"seconds\",\"samples\":[[0]],\"weights\":[1e300]}]}",
		       "weight");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_round_trip),
		cmocka_unit_test(test_nanoseconds_round_trip),
		cmocka_unit_test(test_foreign_file),
		cmocka_unit_test(test_duplicate_keys_and_nan),
		cmocka_unit_test(test_bad_files_are_refused),
		cmocka_unit_test(test_numbers_beyond_64_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
