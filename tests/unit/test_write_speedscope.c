// SPDX-License-Identifier: MIT
/*
 * speedscope writer: written files are parsed back with cJSON and compared
 * with the samples the fixture added; plus escaping, units and a 1 M sample
 * scale measurement.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <iconv.h>
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/output_file.h"
#include "profile/profile.h"
#include "util/version.h"
#include "test_write_fixture.h"

static char *write_to_memory(const struct profile *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(write_speedscope(p, f, NULL), 0);
	fclose(f);
	return buf;
}

static cJSON *write_and_parse(const struct profile *p)
{
	size_t len;
	char *buf = write_to_memory(p, &len);
	cJSON *doc = cJSON_ParseWithLength(buf, len);

	if (!doc)
		fprintf(stderr, "unparsable JSON near: %.80s\n", cJSON_GetErrorPtr());
	assert_non_null(doc);
	free(buf);
	return doc;
}

static cJSON *member(const cJSON *obj, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		fprintf(stderr, "missing member \"%s\"\n", key);
	assert_non_null(v);
	return v;
}

/* The shared frame at index idx equals fixture frame fi (name, optional file and line). */
static void assert_frame_is(const cJSON *frames, int idx, int fi)
{
	const cJSON *fr = cJSON_GetArrayItem(frames, idx);
	const cJSON *file, *line;

	assert_non_null(fr);
	assert_string_equal(member(fr, "name")->valuestring, FIX_FRAMES[fi].name);
	file = cJSON_GetObjectItemCaseSensitive(fr, "file");
	line = cJSON_GetObjectItemCaseSensitive(fr, "line");
	if (FIX_FRAMES[fi].file)
		assert_string_equal(file->valuestring, FIX_FRAMES[fi].file);
	else
		assert_null(file);
	if (FIX_FRAMES[fi].line > 0)
		assert_int_equal(line->valueint, FIX_FRAMES[fi].line);
	else
		assert_null(line);
}

static void assert_entry_is_stack(const cJSON *frames, const cJSON *entry, int s)
{
	assert_true(cJSON_IsArray(entry));
	if (FIX_STACKS[s].n == 0) {
		assert_int_equal(cJSON_GetArraySize(entry), 1);
		assert_string_equal(member(cJSON_GetArrayItem(frames, cJSON_GetArrayItem(entry, 0)->valueint),
					   "name")->valuestring, "[unknown]");
		return;
	}
	assert_int_equal(cJSON_GetArraySize(entry), FIX_STACKS[s].n);
	for (int k = 0; k < FIX_STACKS[s].n; k++)
		assert_frame_is(frames, cJSON_GetArrayItem(entry, k)->valueint, FIX_STACKS[s].frames[k]);
}

static void expected_profile_name(int t, char *buf, size_t len)
{
	const struct fix_thread *th = &FIX_THREADS[t];

	if (th->name)
		snprintf(buf, len, "%s (pid %u) %s", th->comm, th->pid, th->name);
	else
		snprintf(buf, len, "%s (pid %u) tid %u", th->comm, th->pid, th->tid);
}

/*
 * Walks one profile's samples/weights against the fixture's samples of
 * thread t, in time order: one entry per sample weighing 1/rate seconds; in
 * nanoseconds, each maximal run of one stack as entries of one sampling
 * period (1e9/rate ns) plus one for the remainder, so that tools counting
 * entries (py-spy's users' scripts) count samples.
 */
static void check_profile_against_fixture(const struct fixture *fx, const cJSON *frames,
					  const cJSON *prof, int t, enum profile_unit unit)
{
	const cJSON *samples = member(prof, "samples"), *weights = member(prof, "weights");
	int nentries = cJSON_GetArraySize(samples), next = 0, e = 0;
	double weight_sum = 0, expected_total = 0;
	const uint64_t period = 1000000000ull / FIX_RATE_HZ;

	assert_int_equal(nentries, cJSON_GetArraySize(weights));
	while (e < nentries) {
		uint64_t run_samples = 0, run_weight = 0;
		int s;

		while (next < FIX_NSAMPLES && fx->samples[next].thread != t)
			next++;
		assert_true(next < FIX_NSAMPLES);
		s = fx->samples[next].stack;
		/* consume the fixture's run: all consecutive samples of t on stack s */
		for (; next < FIX_NSAMPLES; next++) {
			if (fx->samples[next].thread != t)
				continue;
			if (fx->samples[next].stack != s)
				break;
			run_samples++;
			run_weight += fx->samples[next].weight;
		}
		uint64_t count = run_samples, left = run_weight;
		if (unit == PROFILE_UNIT_NANOSECONDS)
			count = run_weight > period ? (run_weight + period - 1) / period : 1;
		for (uint64_t i = 0; i < count; i++, e++) {
			assert_true(e < nentries);
			assert_entry_is_stack(frames, cJSON_GetArrayItem(samples, e), s);
			double w = cJSON_GetArrayItem(weights, e)->valuedouble;
			if (unit == PROFILE_UNIT_SAMPLES) {
				assert_true(fabs(w - 1.0 / FIX_RATE_HZ) < 1e-9);
			} else {
				uint64_t want = i + 1 < count ? period : left;
				assert_true(w == (double)want);
				left -= want;
			}
			weight_sum += w;
		}
	}
	/* nothing of this thread left over */
	for (; next < FIX_NSAMPLES; next++)
		assert_int_not_equal(fx->samples[next].thread, t);
	for (int i = 0; i < FIX_NSAMPLES; i++)
		if (fx->samples[i].thread == t)
			expected_total += unit == PROFILE_UNIT_SAMPLES ? 1.0 / FIX_RATE_HZ
								    : (double)fx->samples[i].weight;
	assert_true(fabs(weight_sum - expected_total) < 1e-6 * (expected_total + 1));
	assert_true(member(prof, "startValue")->valuedouble == 0);
	assert_true(fabs(member(prof, "endValue")->valuedouble - expected_total) <
		    1e-6 * (expected_total + 1));
}

static void round_trip(enum profile_unit unit, const char *expected_unit)
{
	static struct fixture fx;
	/* iteration order: pid 100's threads, then 200, then 300 */
	const int order[] = { 0, 1, 3, 2, 4 };
	char name[128];

	assert_int_equal(fixture_build(&fx, unit, FIX_NTHREADS), 0);
	cJSON *doc = write_and_parse(fx.p);

	assert_string_equal(member(doc, "$schema")->valuestring,
			    "https://www.speedscope.app/file-format-schema.json");
	assert_string_equal(member(doc, "exporter")->valuestring, "bpfspy@" BPFSPY_VERSION);
	assert_string_equal(member(doc, "name")->valuestring, "python3 -m pytest --collect-only");
	assert_int_equal(member(doc, "activeProfileIndex")->valueint, 0);

	const cJSON *frames = member(member(doc, "shared"), "frames");
	/* all fixture frames differ in name/file/line, plus the "[unknown]" marker */
	assert_int_equal(cJSON_GetArraySize(frames), FIX_NFRAMES + 1);

	const cJSON *profiles = member(doc, "profiles");

	assert_int_equal(cJSON_GetArraySize(profiles), FIX_NTHREADS);
	for (int i = 0; i < (int)FIX_NTHREADS; i++) {
		const cJSON *prof = cJSON_GetArrayItem(profiles, i);

		expected_profile_name(order[i], name, sizeof(name));
		assert_string_equal(member(prof, "name")->valuestring, name);
		assert_string_equal(member(prof, "type")->valuestring, "sampled");
		assert_string_equal(member(prof, "unit")->valuestring, expected_unit);
		check_profile_against_fixture(&fx, frames, prof, order[i], unit);
	}
	cJSON_Delete(doc);
	profile_free(fx.p);
}

static void test_round_trip_samples_in_seconds(void **state)
{
	round_trip(PROFILE_UNIT_SAMPLES, "seconds");
}

static void test_round_trip_nanoseconds(void **state)
{
	round_trip(PROFILE_UNIT_NANOSECONDS, "nanoseconds");
}

static void test_samples_without_rate_are_counts(void **state)
{
	struct profile_meta meta = { .command = "x", .rate_hz = 0 };
	struct profile *p = profile_new(&meta);
	struct frame_desc d = { "f", NULL, 0, FRAME_NATIVE };
	uint32_t f = profile_intern_frame(p, &d);

	for (int i = 0; i < 5; i++)
		profile_add_sample(p, 1, 1, &f, 1, 1, (uint64_t)i);
	cJSON *doc = write_and_parse(p);
	const cJSON *prof = cJSON_GetArrayItem(member(doc, "profiles"), 0);

	assert_string_equal(member(prof, "unit")->valuestring, "none");
	/* one entry per sample, each counting one */
	assert_int_equal(cJSON_GetArraySize(member(prof, "weights")), 5);
	for (int i = 0; i < 5; i++)
		assert_true(cJSON_GetArrayItem(member(prof, "weights"), i)->valuedouble == 1);
	assert_true(member(prof, "endValue")->valuedouble == 5);
	cJSON_Delete(doc);
	profile_free(p);
}

/* speedscope has no frame kind: a native and a kernel "read" look the same and are one frame. */
static void test_frames_deduplicated_by_shown_fields(void **state)
{
	struct profile_meta meta = { .command = "x", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc native = { "read", NULL, 0, FRAME_NATIVE };
	struct frame_desc kernel = { "read", NULL, 0, FRAME_KERNEL };
	uint32_t fn = profile_intern_frame(p, &native), fk = profile_intern_frame(p, &kernel);
	uint32_t stack[] = { fn, fk };

	assert_int_not_equal(fn, fk);
	profile_add_sample(p, 1, 1, stack, 2, 1, 1);
	cJSON *doc = write_and_parse(p);
	const cJSON *entry = cJSON_GetArrayItem(
		member(cJSON_GetArrayItem(member(doc, "profiles"), 0), "samples"), 0);

	assert_int_equal(cJSON_GetArraySize(member(member(doc, "shared"), "frames")), 1);
	assert_int_equal(cJSON_GetArrayItem(entry, 0)->valueint, cJSON_GetArrayItem(entry, 1)->valueint);
	cJSON_Delete(doc);
	profile_free(p);
}

/* Duplicate thread names within a process get the tid so the profile selector can tell them apart. */
static void test_duplicate_thread_names_get_tid(void **state)
{
	struct profile_meta meta = { .command = "x", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc d = { "f", NULL, 0, FRAME_NATIVE };
	uint32_t f = profile_intern_frame(p, &d);

	profile_set_process_name(p, 10, "srv");
	profile_set_thread_name(p, 10, 11, "pool");
	profile_set_thread_name(p, 10, 12, "pool");
	profile_add_sample(p, 10, 11, &f, 1, 1, 1);
	profile_add_sample(p, 10, 12, &f, 1, 1, 2);
	cJSON *doc = write_and_parse(p);
	const cJSON *profiles = member(doc, "profiles");

	assert_string_equal(member(cJSON_GetArrayItem(profiles, 0), "name")->valuestring,
			    "srv (pid 10) pool tid 11");
	assert_string_equal(member(cJSON_GetArrayItem(profiles, 1), "name")->valuestring,
			    "srv (pid 10) pool tid 12");
	cJSON_Delete(doc);
	profile_free(p);
}

static bool is_valid_utf8_by_iconv(const char *buf, size_t len)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	char *in = (char *)buf, out[4096];
	size_t inleft = len;
	bool ok = true;

	assert_true(cd != (iconv_t)-1);
	while (inleft && ok) {
		char *o = out;
		size_t oleft = sizeof(out);

		if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t)-1 && errno != E2BIG)
			ok = false;
	}
	iconv_close(cd);
	return ok;
}

static void test_json_escaping_of_nasty_names(void **state)
{
	/* quote, backslash, control chars, valid 2- and 4-byte UTF-8, a stray 0xFF,
	 * a truncated 3-byte sequence, an encoded surrogate, DEL */
	const char *nasty = "a\"b\\c\x01" "d\ne\tf\xc3\xa9g\xffh\xe2\x82i\xf0\x9f\x98\x80j\xed\xa0\x80k\x7f/";
	/* each ill-formed byte becomes U+FFFD (EF BF BD) */
	const char *decoded = "a\"b\\c\x01" "d\ne\tf\xc3\xa9g\xef\xbf\xbdh\xef\xbf\xbd\xef\xbf\xbdi"
			      "\xf0\x9f\x98\x80j\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdk\x7f/";
	struct profile_meta meta = { .command = nasty, .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc d = { nasty, nasty, 3, FRAME_PYTHON };
	uint32_t f = profile_intern_frame(p, &d);
	char expected_name[256];
	size_t len;

	profile_set_process_name(p, 1, nasty);
	profile_set_thread_name(p, 1, 2, nasty);
	profile_add_sample(p, 1, 2, &f, 1, 1, 1);

	char *raw = write_to_memory(p, &len);

	/* the bytes on disk: valid UTF-8, no raw control characters except line breaks */
	assert_true(is_valid_utf8_by_iconv(raw, len));
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)raw[i] >= 0x20 || raw[i] == '\n');
	assert_non_null(strstr(raw, "c\\u0001d\\ne\\tf"));

	cJSON *doc = cJSON_ParseWithLength(raw, len);

	assert_non_null(doc);
	const cJSON *frame = cJSON_GetArrayItem(member(member(doc, "shared"), "frames"), 0);

	assert_string_equal(member(frame, "name")->valuestring, decoded);
	assert_string_equal(member(frame, "file")->valuestring, decoded);
	assert_string_equal(member(doc, "name")->valuestring, decoded);
	snprintf(expected_name, sizeof(expected_name), "%s (pid 1) %s", decoded, decoded);
	assert_string_equal(member(cJSON_GetArrayItem(member(doc, "profiles"), 0), "name")->valuestring,
			    expected_name);
	cJSON_Delete(doc);
	free(raw);
	profile_free(p);
}

static void test_empty_profile_is_valid_json(void **state)
{
	struct profile *p = profile_new(NULL);
	cJSON *doc = write_and_parse(p);

	assert_int_equal(cJSON_GetArraySize(member(doc, "profiles")), 0);
	assert_int_equal(cJSON_GetArraySize(member(member(doc, "shared"), "frames")), 0);
	assert_string_equal(member(doc, "name")->valuestring, "bpfspy profile");
	cJSON_Delete(doc);
	profile_free(p);
}

static void test_write_error_is_reported(void **state)
{
	static struct fixture fx;
	FILE *full = fopen("/dev/full", "w");

	if (!full)
		skip();
	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	errno = 0;
	assert_int_equal(write_speedscope(fx.p, full, NULL), -1);
	assert_int_equal(errno, ENOSPC);
	fclose(full);
	profile_free(fx.p);
}

/* ---- scale ---- */

struct byte_counter {
	uint64_t bytes;
};

static ssize_t count_bytes(void *cookie, const char *buf, size_t size)
{
	((struct byte_counter *)cookie)->bytes += size;
	return (ssize_t)size;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define SCALE_SAMPLES 1000000
#define SCALE_STACKS 10000
#define SCALE_DEPTH 30
#define SCALE_THREADS 8

/*
 * 1 M samples over 10 k distinct stacks of depth 30, picked at random so
 * nearly every sample is its own run (the worst case for run merging).
 * Stacks share prefixes like real ones: frame k of stack s depends on s >> k.
 */
static void test_scale_one_million_samples(void **state)
{
	/* a run that only wants the demo files (the e2e test) skips the 180 MB exercise */
	if (getenv("BPFSPY_WRITE_DEMO_DIR"))
		skip();

	struct profile_meta meta = { .command = "scale", .rate_hz = 1000 };
	struct profile *p = profile_new(&meta);
	static uint32_t stacks[SCALE_STACKS][SCALE_DEPTH];
	struct mallinfo2 before = mallinfo2(), after;
	struct timespec t0;
	uint64_t rng = 7;

	for (int s = 0; s < SCALE_STACKS; s++)
		for (int k = 0; k < SCALE_DEPTH; k++) {
			char name[64];
			/* the first 14 levels branch by bits of s; deeper levels hang off the full s */
			int key = k < 14 ? (s >> (13 - k)) : s;
			struct frame_desc d = { name, "/srv/app/module.py", k + 1, FRAME_PYTHON };

			snprintf(name, sizeof(name), "fn_%d_%d", k, key % 2000);
			stacks[s][k] = profile_intern_frame(p, &d);
		}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < SCALE_SAMPLES; i++) {
		int s = (int)(fix_rand(&rng) % SCALE_STACKS);
		uint32_t tid = 1000 + (uint32_t)(i % SCALE_THREADS);

		assert_int_equal(profile_add_sample(p, 1000, tid, stacks[s], SCALE_DEPTH, 1,
						    (uint64_t)i * 1000), 0);
	}
	double add_s = seconds_since(&t0);

	after = mallinfo2();
	double mb = (double)(after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) / 1e6;

	struct byte_counter counter = { 0 };
	cookie_io_functions_t io = { .write = count_bytes };
	FILE *sink = fopencookie(&counter, "w", io);
	static char sink_buf[1 << 20];

	setvbuf(sink, sink_buf, _IOFBF, sizeof(sink_buf));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(write_speedscope(p, sink, NULL), 0);
	double write_s = seconds_since(&t0);

	fclose(sink);

	/* the same through output_file into $TMPDIR, fsync included */
	char path[256], err[256];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(path, sizeof(path), "%s/bpfspy-scale-%d.speedscope.json", tmp, (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct output_file *of = output_file_open(path,
						  err, sizeof(err));

	assert_non_null(of);
	assert_int_equal(write_speedscope(p, output_file_stream(of), NULL), 0);
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	double file_s = seconds_since(&t0);

	unlink(path);

	printf("scale: %d samples, %zu stacks (%zu tree nodes), depth %d, %d threads\n",
	       SCALE_SAMPLES, (size_t)SCALE_STACKS, profile_stack_count(p), SCALE_DEPTH,
	       SCALE_THREADS);
	printf("scale: add %.3f s, profile heap %.1f MB, speedscope %.1f MB formatted in %.3f s, "
	       "written+fsynced to %s in %.3f s\n",
	       add_s, mb, (double)counter.bytes / 1e6, write_s, tmp, file_s);
	assert_int_equal(profile_sample_count(p), SCALE_SAMPLES);
	/* generous bounds: these catch an accidental per-sample copy of the stack or a quadratic loop */
	assert_true(mb < 128);
	/* time is reported, not asserted: speed belongs to make bench */
	profile_free(p);
}

/* Names with every kind of trouble, for speedscope's own parser. */
static void write_nasty_demo(const char *dir)
{
	const char *nasty = "q\"b\\s\x01\n\t\xc3\xa9\xff\xed\xa0\x80\xf0\x9f\x98\x80;end";
	struct profile_meta meta = { .command = nasty, .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc root = { "main", "/usr/bin/python3", 0, FRAME_NATIVE };
	struct frame_desc leaf = { nasty, nasty, 7, FRAME_PYTHON };
	uint32_t stack[] = { profile_intern_frame(p, &root), profile_intern_frame(p, &leaf) };
	char path[512], err[256];

	profile_set_process_name(p, 1, nasty);
	profile_set_thread_name(p, 1, 1, nasty);
	for (int i = 0; i < 10; i++)
		profile_add_sample(p, 1, 1, stack, 1 + (size_t)(i % 2), 1, (uint64_t)i);
	snprintf(path, sizeof(path), "%s/demo-nasty.speedscope.json", dir);
	struct output_file *of = output_file_open(path,
						  err, sizeof(err));

	assert_non_null(of);
	assert_int_equal(write_speedscope(p, output_file_stream(of), NULL), 0);
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	profile_free(p);
}

/* With BPFSPY_WRITE_DEMO_DIR set, writes the fixture as files for speedscope-check (e2e test). */
static void test_write_demo_files(void **state)
{
	const char *dir = getenv("BPFSPY_WRITE_DEMO_DIR");
	static struct fixture fx;
	char path[512], err[256];
	const struct {
		const char *name;
		int (*write)(const struct profile *, FILE *, const struct write_options *);
		enum profile_unit unit;
	} outputs[] = {
		{ "demo.speedscope.json", write_speedscope, PROFILE_UNIT_SAMPLES },
		{ "demo-ns.speedscope.json", write_speedscope, PROFILE_UNIT_NANOSECONDS },
		{ "demo.collapsed.txt", write_collapsed, PROFILE_UNIT_SAMPLES },
	};

	if (!dir)
		skip();
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		assert_int_equal(fixture_build(&fx, outputs[i].unit, FIX_NTHREADS), 0);
		snprintf(path, sizeof(path), "%s/%s", dir, outputs[i].name);
		struct output_file *of = output_file_open(path, err, sizeof(err));

		assert_non_null(of);
		assert_int_equal(outputs[i].write(fx.p, output_file_stream(of), NULL), 0);
		assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
		profile_free(fx.p);
	}
	write_nasty_demo(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_samples_in_seconds),
		cmocka_unit_test(test_round_trip_nanoseconds),
		cmocka_unit_test(test_samples_without_rate_are_counts),
		cmocka_unit_test(test_frames_deduplicated_by_shown_fields),
		cmocka_unit_test(test_duplicate_thread_names_get_tid),
		cmocka_unit_test(test_json_escaping_of_nasty_names),
		cmocka_unit_test(test_empty_profile_is_valid_json),
		cmocka_unit_test(test_write_error_is_reported),
		cmocka_unit_test(test_scale_one_million_samples),
		cmocka_unit_test(test_write_demo_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
