// SPDX-License-Identifier: MIT
/* `bpfspy top`'s sample sink: each sample counted in the tables as it comes, nothing read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "top/top_feed.h"
#include "top/top_table.h"

struct fixture {
	struct profile *p;
	struct top_table *by_function, *by_line;
	struct top_feed *feed;
	uint32_t main_py, hot_py, hot_py_other_line, libc;
};

static struct fixture setup(bool native, bool native_fallback)
{
	struct profile_meta meta = { .command = "t", .rate_hz = 100 };
	struct fixture f = { .p = profile_new(&meta), .by_function = top_table_new(), .by_line = top_table_new() };
	f.feed = top_feed_new(f.by_function, f.by_line, false, native, native_fallback);
	f.main_py = profile_intern_frame(f.p, &(struct frame_desc){ "main", "/x/app.py", 3, FRAME_PYTHON });
	f.hot_py = profile_intern_frame(f.p, &(struct frame_desc){ "hot", "/x/app.py", 10, FRAME_PYTHON });
	f.hot_py_other_line = profile_intern_frame(f.p, &(struct frame_desc){ "hot", "/x/app.py", 11, FRAME_PYTHON });
	f.libc = profile_intern_frame(f.p, &(struct frame_desc){ "memcpy", "/lib/libc.so.6", 0, FRAME_NATIVE });
	return f;
}

static void teardown(struct fixture *f)
{
	top_feed_free(f->feed);
	top_table_free(f->by_function);
	top_table_free(f->by_line);
	profile_free(f->p);
}

static const struct top_row *find_row(struct top_table *t, const char *label)
{
	const struct top_row *const *rows;
	size_t n = top_table_sorted(t, TOP_SORT_OWN_TIME, &rows);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i]->label, label))
			return rows[i];
	return NULL;
}

static void test_samples_count_per_function_and_per_line(void **state)
{
	(void)state;
	struct fixture f = setup(false, false);
	uint32_t a[] = { f.main_py, f.hot_py }, b[] = { f.main_py, f.hot_py_other_line };
	assert_int_equal(top_feed_add_sample(f.feed, f.p, a, 2, 1), 0);
	assert_int_equal(top_feed_add_sample(f.feed, f.p, a, 2, 1), 0);
	assert_int_equal(top_feed_add_sample(f.feed, f.p, b, 2, 1), 0);
	top_table_end_interval(f.by_function);
	top_table_end_interval(f.by_line);

	const struct top_row *hot = find_row(f.by_function, "hot (app.py)");
	assert_non_null(hot);
	assert_int_equal(hot->own, 3);
	assert_int_equal(find_row(f.by_function, "main (app.py)")->total, 3);
	assert_int_equal(find_row(f.by_line, "hot (app.py:10)")->own, 2);
	assert_int_equal(find_row(f.by_line, "hot (app.py:11)")->own, 1);
	/* the profile keeps no sample: the feed is the only place they went */
	assert_int_equal(profile_sample_count(f.p), 0);
	teardown(&f);
}

static void test_python_stacks_hide_native_frames_unless_native(void **state)
{
	(void)state;
	uint32_t mixed[4];
	for (int native = 0; native <= 1; native++) {
		struct fixture f = setup(native, false);
		mixed[0] = f.main_py;
		mixed[1] = f.hot_py;
		mixed[2] = f.libc;
		assert_int_equal(top_feed_add_sample(f.feed, f.p, mixed, 3, 1), 0);
		top_table_end_interval(f.by_function);
		const struct top_row *libc = find_row(f.by_function, "memcpy (libc.so.6)");
		if (native) {
			assert_non_null(libc);
			assert_int_equal(libc->own, 1);
		} else {
			assert_null(libc);
			assert_int_equal(find_row(f.by_function, "hot (app.py)")->own, 1);
		}
		teardown(&f);
	}
}

static void test_native_only_stack_counts_in_totals_unless_fallback(void **state)
{
	(void)state;
	for (int fallback = 0; fallback <= 1; fallback++) {
		struct fixture f = setup(false, fallback);
		assert_int_equal(top_feed_add_sample(f.feed, f.p, &f.libc, 1, 1), 0);
		top_table_end_interval(f.by_function);
		assert_int_equal(top_table_samples(f.by_function), 1);
		if (fallback)
			assert_non_null(find_row(f.by_function, "memcpy (libc.so.6)"));
		else
			assert_null(find_row(f.by_function, "memcpy (libc.so.6)"));
		teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_count_per_function_and_per_line),
		cmocka_unit_test(test_python_stacks_hide_native_frames_unless_native),
		cmocka_unit_test(test_native_only_stack_counts_in_totals_unless_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
