// SPDX-License-Identifier: MIT
/* `bpfspy top` numbers: Own/Total per interval and cumulated, sorting, reset, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "top/top_screen.h"
#include "top/top_table.h"
#include "top/top_view.h"

static const struct top_row *find_row(struct top_table *t, const char *label)
{
	const struct top_row *const *rows;
	size_t n = top_table_sorted(t, TOP_SORT_OWN_TIME, &rows);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i]->label, label))
			return rows[i];
	return NULL;
}

static void test_own_total_and_recursion_counted_once(void **state)
{
	(void)state;
	struct top_table *t = top_table_new();
	uint32_t m = top_table_row(t, "main"), f = top_table_row(t, "fib"), g = top_table_row(t, "g");
	assert_int_equal(top_table_row(t, "fib"), f);
	uint32_t recursive[] = { m, f, f, f };
	uint32_t other[] = { m, g };
	assert_int_equal(top_table_add(t, recursive, 4, 3), 0);
	assert_int_equal(top_table_add(t, other, 2, 1), 0);
	assert_int_equal(top_table_add(t, NULL, 0, 1), 0); /* a sample with nothing to show */
	top_table_end_interval(t);

	const struct top_row *fib = find_row(t, "fib"), *main_row = find_row(t, "main");
	assert_non_null(fib);
	assert_int_equal(fib->own, 3);
	assert_int_equal(fib->total, 3); /* not 9: once per sample */
	assert_int_equal(main_row->own, 0);
	assert_int_equal(main_row->total, 4);
	assert_int_equal(top_table_interval_samples(t), 5);
	assert_int_equal(top_table_samples(t), 5);
	top_table_free(t);
}

static void test_interval_resets_but_times_accumulate(void **state)
{
	(void)state;
	struct top_table *t = top_table_new();
	uint32_t a = top_table_row(t, "a"), b = top_table_row(t, "b");
	top_table_add(t, &a, 1, 10);
	top_table_end_interval(t);
	top_table_add(t, &b, 1, 2);
	top_table_end_interval(t);

	const struct top_row *ra = find_row(t, "a"), *rb = find_row(t, "b");
	assert_int_equal(ra->own_interval, 0);
	assert_int_equal(ra->own, 10);
	assert_int_equal(rb->own_interval, 2);
	assert_int_equal(top_table_interval_samples(t), 2);
	assert_int_equal(top_table_samples(t), 12);

	/* OwnTime puts a first; %Own puts b first */
	const struct top_row *const *rows;
	assert_int_equal(top_table_sorted(t, TOP_SORT_OWN_TIME, &rows), 2);
	assert_string_equal(rows[0]->label, "a");
	top_table_sorted(t, TOP_SORT_OWN_PERCENT, &rows);
	assert_string_equal(rows[0]->label, "b");

	top_table_reset(t);
	assert_int_equal(top_table_samples(t), 0);
	assert_int_equal(top_table_sorted(t, TOP_SORT_OWN_TIME, &rows), 0);
	assert_int_equal(top_table_row(t, "a"), a); /* labels survive a reset */
	top_table_free(t);
}

static void test_total_time_sort(void **state)
{
	(void)state;
	struct top_table *t = top_table_new();
	uint32_t outer = top_table_row(t, "outer"), leaf = top_table_row(t, "leaf"), x = top_table_row(t, "x");
	uint32_t s1[] = { outer, leaf };
	top_table_add(t, s1, 2, 5);
	top_table_add(t, &x, 1, 6);
	top_table_end_interval(t);
	const struct top_row *const *rows;
	top_table_sorted(t, TOP_SORT_OWN_TIME, &rows);
	assert_string_equal(rows[0]->label, "x");
	top_table_sorted(t, TOP_SORT_TOTAL_TIME, &rows);
	assert_string_equal(rows[0]->label, "x");
	top_table_add(t, &outer, 1, 2); /* outer: total 7 > x's 6, own 2 < 6 */
	top_table_end_interval(t);
	top_table_sorted(t, TOP_SORT_TOTAL_TIME, &rows);
	assert_string_equal(rows[0]->label, "outer");
	top_table_sorted(t, TOP_SORT_OWN_TIME, &rows);
	assert_string_equal(rows[0]->label, "x");
	assert_int_equal(top_table_add(t, (uint32_t[]){ 99 }, 1, 1), -1);
	top_table_free(t);
}

static void test_render_matches_py_spy_columns(void **state)
{
	(void)state;
	struct top_table *t = top_table_new();
	uint32_t mod = top_table_row(t, "<module> (dummy.py)"), a = top_table_row(t, "a (dummy.py)");
	uint32_t s[] = { mod, a };
	top_table_add(t, s, 2, 498);
	top_table_end_interval(t);
	struct top_header h = { .target = "'python dummy.py'", .python_version = "3.13.2", .samples = 498,
				.threads = 1, .status = "keys" };
	struct top_lines l = { 0 };
	assert_int_equal(top_view_render(&h, t, TOP_SORT_OWN_TIME, 100, 10, &l), 0);
	assert_int_equal(l.n, 8);
	assert_string_equal(l.lines[0], "Collecting samples from 'python dummy.py' (python v3.13.2)");
	assert_string_equal(l.lines[1], "Total Samples 498");
	assert_string_equal(l.lines[2], "GIL: 0.00%, Active: 0.00%, Threads: 1");
	assert_string_equal(l.lines[4], "  %Own   %Total  OwnTime  TotalTime  Function (filename)");
	assert_string_equal(l.lines[5], "100.00% 100.00%    4.98s     4.98s   a (dummy.py)");
	assert_string_equal(l.lines[6], "  0.00% 100.00%   0.000s     4.98s   <module> (dummy.py)");
	assert_string_equal(l.lines[7], "keys");
	h.line_mode = true;
	top_view_render(&h, t, TOP_SORT_OWN_TIME, 100, 1, &l);
	assert_int_equal(l.n, 7); /* max_rows */
	assert_string_equal(l.lines[4], "  %Own   %Total  OwnTime  TotalTime  Function (filename:line)");
	top_lines_clear(&l);
	top_table_free(t);
}

static void test_short_filenames_and_seconds(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(top_short_filename("/usr/lib/python3/dist-packages/numpy/fft/_pocketfft.py"),
			    "numpy/fft/_pocketfft.py");
	assert_string_equal(top_short_filename("/opt/python/3.12/lib/python3.12/json/decoder.py"),
			    "json/decoder.py");
	assert_string_equal(top_short_filename("/home/u/project/dummy.py"), "dummy.py");
	assert_string_equal(top_short_filename("<frozen importlib._bootstrap>"), "<frozen importlib._bootstrap>");
	top_format_seconds(0.71, buf, sizeof(buf));
	assert_string_equal(buf, "0.710s");
	top_format_seconds(10.374, buf, sizeof(buf));
	assert_string_equal(buf, "10.37s");
	top_format_seconds(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.000s");
}

static void test_fit_counts_columns_not_bytes(void **state)
{
	(void)state;
	size_t bytes;
	assert_int_equal(top_screen_fit("abcdef", 4, &bytes), 4);
	assert_int_equal(bytes, 4);
	/* "é" is 2 bytes, 1 column; "漢" is 3 bytes, 2 columns */
	assert_int_equal(top_screen_fit("\xc3\xa9" "x", 2, &bytes), 2);
	assert_int_equal(bytes, 3);
	assert_int_equal(top_screen_fit("a\xe6\xbc\xa2" "b", 2, &bytes), 1); /* the wide char does not fit */
	assert_int_equal(bytes, 1);
	assert_int_equal(top_screen_fit("a\xe6\xbc\xa2" "b", 3, &bytes), 3);
	assert_int_equal(bytes, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_total_and_recursion_counted_once),
		cmocka_unit_test(test_interval_resets_but_times_accumulate),
		cmocka_unit_test(test_total_time_sort),
		cmocka_unit_test(test_render_matches_py_spy_columns),
		cmocka_unit_test(test_short_filenames_and_seconds),
		cmocka_unit_test(test_fit_counts_columns_not_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
