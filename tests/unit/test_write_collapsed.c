// SPDX-License-Identifier: MIT
/* Collapsed-stack writer: lines and counts against the samples the fixture added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "test_write_fixture.h"

#define MAX_LINES 256

struct line {
	char text[1024];
	uint64_t count;
};

struct lines {
	struct line l[MAX_LINES];
	size_t n;
};

static char *write_to_memory(const struct profile *p, const struct write_options *o)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(write_collapsed(p, f, o), 0);
	fclose(f);
	return buf;
}

/* Splits "frames COUNT\n" lines the way speedscope does: the count follows the last space. */
static void parse_lines(char *buf, struct lines *out)
{
	out->n = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *space = strrchr(line, ' '), *end;

		assert_non_null(space);
		assert_true(out->n < MAX_LINES);
		*space = '\0';
		snprintf(out->l[out->n].text, sizeof(out->l[0].text), "%s", line);
		out->l[out->n].count = strtoull(space + 1, &end, 10);
		assert_true(*end == '\0' && end > space + 1);
		out->n++;
	}
}

static void add_expected(struct lines *e, const char *text, uint64_t weight)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->l[i].text, text) == 0) {
			e->l[i].count += weight;
			return;
		}
	assert_true(e->n < MAX_LINES);
	snprintf(e->l[e->n].text, sizeof(e->l[0].text), "%s", text);
	e->l[e->n++].count = weight;
}

static const char *expected_prefix(uint32_t pid)
{
	switch (pid) {
	case 100: return "python3 (pid 100)";
	case 200: return "gcc (pid 200)";
	/* "odd;name": ';' would split the frame, so it is written as ',' */
	case 300: return "odd,name (pid 300)";
	default: return "?";
	}
}

static void expected_lines(const struct fixture *fx, bool prefix, struct lines *e)
{
	char stack[900], text[1024];

	e->n = 0;
	for (int i = 0; i < FIX_NSAMPLES; i++) {
		const struct fix_sample *s = &fx->samples[i];

		fix_stack_text(s->stack, stack, sizeof(stack));
		if (prefix)
			snprintf(text, sizeof(text), "%s;%s", expected_prefix(FIX_THREADS[s->thread].pid), stack);
		else
			snprintf(text, sizeof(text), "%s", stack);
		add_expected(e, text, s->weight);
	}
}

static void assert_same_lines(const struct lines *got, const struct lines *want)
{
	assert_int_equal(got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		bool found = false;

		for (size_t j = 0; j < got->n && !found; j++)
			if (strcmp(got->l[j].text, want->l[i].text) == 0) {
				assert_int_equal(got->l[j].count, want->l[i].count);
				found = true;
			}
		if (!found)
			fprintf(stderr, "missing line: %s\n", want->l[i].text);
		assert_true(found);
	}
}

static void check(enum profile_unit unit, size_t nthreads, bool force_prefix, bool expect_prefix)
{
	static struct fixture fx;
	static struct lines got, want;
	struct write_options o = { .include_process_prefix = force_prefix };

	assert_int_equal(fixture_build(&fx, unit, nthreads), 0);
	char *buf = write_to_memory(fx.p, &o);

	parse_lines(buf, &got);
	expected_lines(&fx, expect_prefix, &want);
	assert_same_lines(&got, &want);
	free(buf);
	profile_free(fx.p);
}

static void test_several_processes_get_prefix(void **state)
{
	check(PROFILE_UNIT_SAMPLES, FIX_NTHREADS, false, true);
}

static void test_one_process_has_no_prefix(void **state)
{
	/* the first two fixture threads both belong to pid 100 */
	check(PROFILE_UNIT_SAMPLES, 2, false, false);
}

static void test_prefix_can_be_forced(void **state)
{
	check(PROFILE_UNIT_SAMPLES, 2, true, true);
}

static void test_nanosecond_weights_are_summed_exactly(void **state)
{
	check(PROFILE_UNIT_NANOSECONDS, FIX_NTHREADS, false, true);
}

/* Lines come grouped by process, in first-seen process order. */
static void test_lines_grouped_by_process(void **state)
{
	static struct fixture fx;
	static struct lines got;
	int last_group = -1;

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	char *buf = write_to_memory(fx.p, NULL);

	parse_lines(buf, &got);
	for (size_t i = 0; i < got.n; i++) {
		int group = strncmp(got.l[i].text, "python3 (pid 100);", 18) == 0 ? 0
			    : strncmp(got.l[i].text, "gcc (pid 200);", 14) == 0    ? 1
			    : strncmp(got.l[i].text, "odd,name (pid 300);", 19) == 0 ? 2
										     : -2;
		assert_true(group >= last_group);
		last_group = group;
	}
	free(buf);
	profile_free(fx.p);
}

static void test_separators_and_bad_bytes_are_replaced(void **state)
{
	struct profile_meta meta = { .command = "x", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc nasty = { "a;b\nc\x01" "d\xff" "e", "f;g.py", 7, FRAME_PYTHON };
	struct frame_desc plain = { "main", NULL, 0, FRAME_NATIVE };
	uint32_t stack[] = { profile_intern_frame(p, &plain), profile_intern_frame(p, &nasty) };

	profile_add_sample(p, 1, 1, stack, 2, 1, 1);
	profile_add_sample(p, 1, 1, stack, 2, 1, 2);
	char *buf = write_to_memory(p, NULL);

	assert_string_equal(buf, "main;a,b c d\xef\xbf\xbd" "e (f,g.py:7) 2\n");
	free(buf);
	profile_free(p);
}

static void test_zero_weight_stacks_are_left_out(void **state)
{
	struct profile_meta meta = { .command = "x", .unit = PROFILE_UNIT_NANOSECONDS };
	struct profile *p = profile_new(&meta);
	struct frame_desc a = { "a", NULL, 0, FRAME_NATIVE }, b = { "b", NULL, 0, FRAME_KERNEL };
	uint32_t fa = profile_intern_frame(p, &a), fb = profile_intern_frame(p, &b);

	profile_add_sample(p, 1, 1, &fa, 1, 0, 1);
	profile_add_sample(p, 1, 2, &fb, 1, 1500, 2);
	profile_add_sample(p, 1, 1, &fb, 1, 2500, 3);
	char *buf = write_to_memory(p, NULL);

	assert_string_equal(buf, "b_[k] 4000\n");
	free(buf);
	profile_free(p);
}

/* -t: py-spy's "thread (0xTID)" root frame, with ": NAME" when the thread has a name (as py-spy writes it). */
static void test_thread_root_frame_carries_the_name(void **state)
{
	struct profile_meta meta = { .command = "x", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc f = { "spin", "w.py", 3, FRAME_PYTHON };
	uint32_t id = profile_intern_frame(p, &f);
	struct write_options o = { .include_thread_ids = true };

	profile_set_process_name(p, 7, "python3");
	profile_set_thread_name(p, 7, 7, "MainThread");
	profile_set_thread_name(p, 7, 0x1f, "worker-with-a-long-name-1;x");
	profile_add_sample(p, 7, 7, &id, 1, 1, 1);
	profile_add_sample(p, 7, 0x1f, &id, 1, 1, 2);
	profile_add_sample(p, 7, 0x20, &id, 1, 1, 3);
	char *buf = write_to_memory(p, &o);

	assert_string_equal(buf, "thread (0x7): MainThread;spin (w.py:3) 1\n"
				 "thread (0x1F): worker-with-a-long-name-1,x;spin (w.py:3) 1\n"
				 "thread (0x20);spin (w.py:3) 1\n");
	free(buf);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_several_processes_get_prefix),
		cmocka_unit_test(test_one_process_has_no_prefix),
		cmocka_unit_test(test_prefix_can_be_forced),
		cmocka_unit_test(test_nanosecond_weights_are_summed_exactly),
		cmocka_unit_test(test_lines_grouped_by_process),
		cmocka_unit_test(test_separators_and_bad_bytes_are_replaced),
		cmocka_unit_test(test_zero_weight_stacks_are_left_out),
		cmocka_unit_test(test_thread_root_frame_carries_the_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
