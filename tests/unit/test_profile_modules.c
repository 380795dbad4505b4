// SPDX-License-Identifier: MIT
/*
 * The profile's module table: filled as native frames are interned without
 * multiplying frames, and carried through a speedscope file and back (what
 * `bpfspy convert` relies on to write build-ids of files that are gone).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output/speedscope_read.h"
#include "profile/profile.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define GONE "/opt/app/bin/gone (a file that never existed)"
#define LIBC_ID "93ac61ec5a8eb1396f9fbd350e3169a558528a40"
#define GONE_ID "0123456789abcdef0123456789abcdef01234567"

static struct profile *new_profile(void)
{
	struct profile_meta meta = { .command = "modules", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);

	assert_non_null(p);
	return p;
}

/* What a normalizer would have found a moment ago: the build-id passed as the lookup's context. */
static const char *normalized_just_now(void *ctx, const char *path)
{
	(void)path;
	return ctx;
}

static uint32_t native(struct profile *p, const char *name, const char *file, const char *build_id)
{
	struct frame_desc d = { .name = name, .file = file, .kind = FRAME_NATIVE };
	uint32_t id = profile_intern_frame_normalized(p, &d, normalized_just_now, (void *)build_id);

	assert_int_not_equal(id, UINT32_MAX);
	return id;
}

static void test_table(void **state)
{
	struct profile *p = new_profile();

	assert_int_equal(profile_module_count(p), 0);
	assert_null(profile_find_module(p, LIBC));
	assert_null(profile_module_at(p, 0));
	assert_int_equal(profile_add_module(p, LIBC, ""), 0);
	assert_string_equal(profile_find_module(p, LIBC)->build_id, "");
	/* a known build-id replaces none; a later different one does not replace it */
	assert_int_equal(profile_add_module(p, LIBC, LIBC_ID), 0);
	assert_int_equal(profile_add_module(p, LIBC, GONE_ID), 0);
	assert_int_equal(profile_add_module(p, LIBC, ""), 0);
	assert_int_equal(profile_module_count(p), 1);
	assert_string_equal(profile_module_at(p, 0)->path, LIBC);
	assert_string_equal(profile_module_at(p, 0)->build_id, LIBC_ID);
	assert_int_equal(profile_add_module(p, NULL, LIBC_ID), -1);
	assert_int_equal(profile_add_module(p, GONE, NULL), -1);
	assert_int_equal(profile_module_count(p), 1);
	profile_free(p);
}

static void test_interning_files_build_ids(void **state)
{
	struct profile *p = new_profile();
	uint32_t a = native(p, "malloc", LIBC, LIBC_ID);

	/* the build-id is no part of a frame's identity */
	assert_int_equal(native(p, "malloc", LIBC, ""), a);
	assert_int_equal(native(p, "malloc", LIBC, NULL), a);
	assert_int_equal(native(p, "malloc", LIBC, GONE_ID), a);
	assert_int_equal(profile_intern_frame(p, &(struct frame_desc){ .name = "malloc", .file = LIBC,
								 .kind = FRAME_NATIVE }), a);
	uint32_t b = native(p, "free", LIBC, LIBC_ID);
	uint32_t g = native(p, "main", GONE, GONE_ID);
	uint32_t u = native(p, "0x1234", NULL, "");
	uint32_t n = native(p, "0x5678 (jit)", "[anon:jit]", NULL); /* nothing normalized there */
	struct frame_desc py = { .name = "run", .file = "/app/main.py", .line = 3, .kind = FRAME_PYTHON };
	uint32_t pyid = profile_intern_frame_normalized(p, &py, normalized_just_now, GONE_ID);

	assert_int_equal(profile_frame_count(p), 6);
	assert_int_equal(profile_module_count(p), 2);
	assert_string_equal(profile_frame_module(p, a)->build_id, LIBC_ID);
	assert_ptr_equal(profile_frame_module(p, a), profile_frame_module(p, b));
	assert_string_equal(profile_frame_module(p, g)->path, GONE);
	assert_string_equal(profile_frame_module(p, g)->build_id, GONE_ID);
	assert_null(profile_frame_module(p, u));
	assert_null(profile_frame_module(p, n));
	assert_null(profile_frame_module(p, pyid));
	assert_null(profile_frame_module(p, 999));
	profile_free(p);
}

static char *write_to_memory(const struct profile *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(write_speedscope(p, f, NULL), 0);
	fclose(f);
	return buf;
}

static void test_speedscope_round_trip(void **state)
{
	struct profile *p = new_profile();
	uint32_t stack[3] = { native(p, "main", GONE, GONE_ID), native(p, "malloc", LIBC, LIBC_ID),
			      native(p, "0x7f00", "[anon:jit]", "") };

	assert_int_equal(profile_add_sample(p, 10, 10, stack, 3, 1, 1000), 0);
	assert_int_equal(profile_add_sample(p, 10, 10, stack, 2, 1, 2000), 0);
	size_t len;
	char *json = write_to_memory(p, &len), err[256] = "";
	struct profile *back = profile_read_speedscope(json, len, err, sizeof(err));

	if (!back)
		fail_msg("speedscope_read: %s", err);
	assert_int_equal(profile_frame_count(back), profile_frame_count(p));
	assert_int_equal(profile_module_count(back), profile_module_count(p));
	for (size_t i = 0; i < profile_module_count(p); i++) {
		const struct profile_module *want = profile_module_at(p, i);
		const struct profile_module *got = profile_find_module(back, want->path);

		assert_non_null(got);
		assert_string_equal(got->build_id, want->build_id);
	}
	for (uint32_t id = 0; id < profile_frame_count(back); id++)
		if (profile_frame(back, id)->file && !strcmp(profile_frame(back, id)->file, GONE))
			assert_string_equal(profile_frame_module(back, id)->build_id, GONE_ID);

	/* written again from what was read: the same module table */
	size_t len2;
	char *json2 = write_to_memory(back, &len2);
	const char *modules = strstr(json, "\"modules\":["), *modules2 = strstr(json2, "\"modules\":[");

	assert_non_null(modules);
	assert_non_null(modules2);
	assert_string_equal(modules2, modules);
	free(json);
	free(json2);
	profile_free(back);
	profile_free(p);
}

static void test_bad_module_entries_are_skipped(void **state)
{
	static const char json[] =
		"{\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"/bin/app\"}]},"
		"\"profiles\":[{\"type\":\"sampled\",\"name\":\"app\",\"unit\":\"none\",\"startValue\":0,"
		"\"endValue\":1,\"samples\":[[0]],\"weights\":[1]}],"
		"\"bpfspy\":{\"version\":1,\"frame_kinds\":\"N\",\"modules\":[7,{\"path\":1,\"build_id\":\"ab\"},"
		"{\"path\":\"/bin/app\",\"build_id\":\"not hex\"},{\"path\":\"/bin/app\",\"build_id\":\"abc\"},"
		"{\"path\":\"\",\"build_id\":\"ab\"},{\"path\":\"/bin/app\"},{\"path\":\"/bin/app\",\"build_id\":\"beef\"}]}}";
	char err[256] = "";
	struct profile *p = profile_read_speedscope(json, strlen(json), err, sizeof(err));

	if (!p)
		fail_msg("speedscope_read: %s", err);
	assert_int_equal(profile_module_count(p), 1);
	assert_string_equal(profile_frame_module(p, 0)->build_id, "beef");
	profile_free(p);

	/* "modules" that is no array is ignored, as a file without it */
	static const char no_array[] =
		"{\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"/bin/app\"}]},"
		"\"profiles\":[{\"type\":\"sampled\",\"name\":\"app\",\"unit\":\"none\",\"startValue\":0,"
		"\"endValue\":1,\"samples\":[[0]],\"weights\":[1]}],\"bpfspy\":{\"modules\":\"x\"}}";
	p = profile_read_speedscope(no_array, strlen(no_array), err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(profile_module_count(p), 0);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_interning_files_build_ids),
		cmocka_unit_test(test_speedscope_round_trip),
		cmocka_unit_test(test_bad_module_entries_are_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
