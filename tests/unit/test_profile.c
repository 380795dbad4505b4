// SPDX-License-Identifier: MIT
/* The profile model: interning, run merging, ordering and totals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "test_write_fixture.h"

static struct profile *new_profile(void)
{
	struct profile_meta meta = { .command = "test", .rate_hz = 100 };

	return profile_new(&meta);
}

static uint32_t intern(struct profile *p, const char *name, const char *file, int line,
		       enum frame_kind kind)
{
	struct frame_desc d = { name, file, line, kind };

	return profile_intern_frame(p, &d);
}

struct run {
	uint32_t stack;
	uint64_t weight, nsamples;
};

struct run_list {
	struct run runs[64];
	size_t n;
};

static int collect_run(void *arg, const struct profile_run *r)
{
	struct run_list *l = arg;

	if (l->n < 64)
		l->runs[l->n] = (struct run){ r->stack_id, r->weight, r->nsamples };
	l->n++;
	return 0;
}

static void test_frames_are_interned_by_all_four_fields(void **state)
{
	struct profile *p = new_profile();
	char name[] = "f";
	uint32_t a = intern(p, name, "x.py", 1, FRAME_PYTHON);

	name[0] = 'g'; /* the profile must have copied the string */
	assert_int_equal(intern(p, "f", "x.py", 1, FRAME_PYTHON), a);
	assert_int_not_equal(intern(p, "f", "x.py", 2, FRAME_PYTHON), a);
	assert_int_not_equal(intern(p, "f", "y.py", 1, FRAME_PYTHON), a);
	assert_int_not_equal(intern(p, "f", "x.py", 1, FRAME_NATIVE), a);
	assert_int_not_equal(intern(p, "f", NULL, 1, FRAME_PYTHON), a);
	assert_int_not_equal(intern(p, "f", "", 1, FRAME_PYTHON), intern(p, "f", NULL, 1, FRAME_PYTHON));
	assert_int_equal(profile_frame_count(p), 6);
	assert_string_equal(profile_frame(p, a)->name, "f");
	assert_string_equal(profile_frame(p, a)->file, "x.py");
	assert_null(profile_frame(p, 6));
	profile_free(p);
}

/* Frames are remembered by their strings' addresses too: a buffer reused for another name is another frame. */
static void test_reused_name_buffer_is_another_frame(void **state)
{
	struct profile *p = new_profile();
	char name[] = "first";
	char file[] = "lib.so";
	uint32_t a = intern(p, name, file, 0, FRAME_NATIVE);

	assert_int_equal(intern(p, name, file, 0, FRAME_NATIVE), a);
	memcpy(name, "other", 5);
	uint32_t b = intern(p, name, file, 0, FRAME_NATIVE);
	assert_int_not_equal(b, a);
	assert_string_equal(profile_frame(p, b)->name, "other");
	memcpy(file, "new.so", 6);
	uint32_t c = intern(p, name, file, 0, FRAME_NATIVE);
	assert_int_not_equal(c, b);
	assert_string_equal(profile_frame(p, c)->file, "new.so");
	memcpy(name, "first", 5);
	memcpy(file, "lib.so", 6);
	assert_int_equal(intern(p, name, file, 0, FRAME_NATIVE), a);
	assert_int_equal(intern(p, "first", "lib.so", 0, FRAME_NATIVE), a);
	assert_int_equal(profile_frame_count(p), 3);
	profile_free(p);
}

static void test_many_frames_survive_table_growth(void **state)
{
	struct profile *p = new_profile();
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		assert_int_equal(intern(p, name, "m.py", i, FRAME_PYTHON), (uint32_t)i);
	}
	for (int i = 4999; i >= 0; i--) {
		snprintf(name, sizeof(name), "fn%d", i);
		assert_int_equal(intern(p, name, "m.py", i, FRAME_PYTHON), (uint32_t)i);
		assert_string_equal(profile_frame(p, (uint32_t)i)->name, name);
	}
	profile_free(p);
}

static void test_stacks_share_prefixes(void **state)
{
	struct profile *p = new_profile();
	uint32_t a = intern(p, "a", NULL, 0, FRAME_NATIVE), b = intern(p, "b", NULL, 0, FRAME_NATIVE),
		 c = intern(p, "c", NULL, 0, FRAME_NATIVE);
	uint32_t abc[] = { a, b, c }, ab[] = { a, b }, ac[] = { a, c }, out[3];
	struct run_list runs = { 0 };

	assert_int_equal(profile_add_sample(p, 1, 1, abc, 3, 1, 10), 0);
	assert_int_equal(profile_add_sample(p, 1, 1, ab, 2, 1, 20), 0);
	assert_int_equal(profile_add_sample(p, 1, 1, ac, 2, 1, 30), 0);
	/* nodes: a, a;b, a;b;c, a;c */
	assert_int_equal(profile_stack_count(p), 4);
	assert_int_equal(profile_thread_runs(p, 0, collect_run, &runs), 0);
	assert_int_equal(runs.n, 3);

	assert_int_equal(profile_stack_depth(p, runs.runs[0].stack), 3);
	assert_int_equal(profile_stack_frames(p, runs.runs[0].stack, out, 3), 3);
	assert_int_equal(out[0], a);
	assert_int_equal(out[1], b);
	assert_int_equal(out[2], c);
	/* a;b is the parent of a;b;c */
	assert_int_equal(profile_stack_parent(p, runs.runs[0].stack), runs.runs[1].stack);
	assert_int_equal(profile_stack_leaf(p, runs.runs[2].stack), c);
	assert_int_equal(profile_stack_parent(p, profile_stack_parent(p, runs.runs[2].stack)),
			 PROFILE_NO_STACK);

	/* a short buffer gets the root-most frames and the full depth back */
	memset(out, 0xff, sizeof(out));
	assert_int_equal(profile_stack_frames(p, runs.runs[0].stack, out, 2), 3);
	assert_int_equal(out[0], a);
	assert_int_equal(out[1], b);
	assert_int_equal(out[2], UINT32_MAX);
	profile_free(p);
}

static void test_consecutive_identical_samples_merge(void **state)
{
	struct profile *p = new_profile();
	uint32_t a = intern(p, "a", NULL, 0, FRAME_NATIVE), b = intern(p, "b", NULL, 0, FRAME_NATIVE);
	uint32_t sa[] = { a }, sb[] = { a, b };
	struct run_list runs = { 0 };
	/* A A B B B A: three runs */
	const uint32_t *seq[] = { sa, sa, sb, sb, sb, sa };
	size_t len[] = { 1, 1, 2, 2, 2, 1 };

	for (int i = 0; i < 6; i++)
		assert_int_equal(profile_add_sample(p, 7, 8, seq[i], len[i], 1, (uint64_t)i * 10), 0);
	profile_thread_runs(p, 0, collect_run, &runs);
	assert_int_equal(runs.n, 3);
	assert_int_equal(runs.runs[0].nsamples, 2);
	assert_int_equal(runs.runs[1].nsamples, 3);
	assert_int_equal(runs.runs[2].nsamples, 1);
	assert_int_equal(runs.runs[0].stack, runs.runs[2].stack);
	assert_int_equal(runs.runs[1].weight, 3);
	profile_free(p);
}

static void test_late_sample_is_placed_by_timestamp(void **state)
{
	struct profile *p = new_profile();
	uint32_t a = intern(p, "a", NULL, 0, FRAME_NATIVE), b = intern(p, "b", NULL, 0, FRAME_NATIVE),
		 c = intern(p, "c", NULL, 0, FRAME_NATIVE);
	struct run_list runs = { 0 };
	struct profile_thread_info info;

	assert_int_equal(profile_add_sample(p, 1, 1, &a, 1, 1, 100), 0);
	assert_int_equal(profile_add_sample(p, 1, 1, &c, 1, 1, 300), 0);
	/* arrives last, happened in between */
	assert_int_equal(profile_add_sample(p, 1, 1, &b, 1, 1, 200), 0);
	/* arrives late, happened first, same stack as the first run: merges into it */
	assert_int_equal(profile_add_sample(p, 1, 1, &a, 1, 1, 50), 0);
	profile_thread_runs(p, 0, collect_run, &runs);
	assert_int_equal(runs.n, 3);
	assert_int_equal(profile_stack_leaf(p, runs.runs[0].stack), a);
	assert_int_equal(runs.runs[0].nsamples, 2);
	assert_int_equal(profile_stack_leaf(p, runs.runs[1].stack), b);
	assert_int_equal(profile_stack_leaf(p, runs.runs[2].stack), c);
	profile_thread_at(p, 0, &info);
	assert_int_equal(info.first_ts_ns, 50);
	assert_int_equal(info.last_ts_ns, 300);
	profile_free(p);
}

static void test_empty_stack_is_unknown_marker(void **state)
{
	struct profile *p = new_profile();
	struct run_list runs = { 0 };
	uint32_t frame;

	assert_int_equal(profile_add_sample(p, 1, 1, NULL, 0, 1, 1), 0);
	profile_thread_runs(p, 0, collect_run, &runs);
	assert_int_equal(runs.n, 1);
	assert_int_equal(profile_stack_frames(p, runs.runs[0].stack, &frame, 1), 1);
	assert_string_equal(profile_frame(p, frame)->name, "[unknown]");
	assert_int_equal(profile_frame(p, frame)->kind, FRAME_MARKER);
	profile_free(p);
}

static void test_bad_frame_id_is_rejected(void **state)
{
	struct profile *p = new_profile();
	uint32_t bogus = 12345;

	errno = 0;
	assert_int_equal(profile_add_sample(p, 1, 1, &bogus, 1, 1, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(profile_sample_count(p), 0);
	assert_int_equal(profile_thread_count(p), 0);
	profile_free(p);
}

/* Threads come grouped by pid, pids and threads in first-sample order. */
static void test_threads_grouped_by_pid_with_totals(void **state)
{
	static struct fixture fx;
	struct profile_thread_info info;
	/* FIX_THREADS order: (100,100) (100,101) (200,200) (100,103) (300,301) */
	const int expected_order[] = { 0, 1, 3, 2, 4 };
	uint64_t samples[FIX_NTHREADS] = { 0 }, weight[FIX_NTHREADS] = { 0 }, total = 0;

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_NANOSECONDS, FIX_NTHREADS), 0);
	for (int i = 0; i < FIX_NSAMPLES; i++) {
		samples[fx.samples[i].thread]++;
		weight[fx.samples[i].thread] += fx.samples[i].weight;
		total += fx.samples[i].weight;
	}
	assert_int_equal(profile_thread_count(fx.p), FIX_NTHREADS);
	assert_int_equal(profile_process_count(fx.p), 3);
	assert_int_equal(profile_sample_count(fx.p), FIX_NSAMPLES);
	assert_int_equal(profile_total_weight(fx.p), total);
	for (size_t i = 0; i < FIX_NTHREADS; i++) {
		const struct fix_thread *want = &FIX_THREADS[expected_order[i]];

		assert_int_equal(profile_thread_at(fx.p, i, &info), 1);
		assert_int_equal(info.pid, want->pid);
		assert_int_equal(info.tid, want->tid);
		assert_string_equal(info.process_name, want->comm);
		if (want->name)
			assert_string_equal(info.thread_name, want->name);
		else
			assert_null(info.thread_name);
		assert_int_equal(info.samples, samples[expected_order[i]]);
		assert_int_equal(info.total_weight, weight[expected_order[i]]);
	}
	assert_int_equal(profile_thread_at(fx.p, FIX_NTHREADS, &info), 0);
	profile_free(fx.p);
}

/* Each thread's runs, expanded, replay exactly the samples added to it. */
static void test_runs_replay_samples_in_order(void **state)
{
	static struct fixture fx;
	struct profile_thread_info info;

	assert_int_equal(fixture_build(&fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	for (size_t t = 0; profile_thread_at(fx.p, t, &info); t++) {
		static struct run_list runs;
		int thread = -1, next = 0;
		uint64_t merged_runs = 0;
		int prev_stack = -2;

		for (size_t k = 0; k < FIX_NTHREADS; k++)
			if (FIX_THREADS[k].tid == info.tid)
				thread = (int)k;
		memset(&runs, 0, sizeof(runs));
		/* more than 64 runs per thread: check counts via a second pass below */
		profile_thread_runs(fx.p, t, collect_run, &runs);
		for (int i = 0; i < FIX_NSAMPLES; i++) {
			if (fx.samples[i].thread != thread)
				continue;
			if (fx.samples[i].stack != prev_stack)
				merged_runs++;
			prev_stack = fx.samples[i].stack;
		}
		assert_int_equal(runs.n, merged_runs);
		/* the first 64 runs: their stacks match the fixture's frames */
		for (size_t r = 0; r < runs.n && r < 64; r++) {
			uint32_t frames[8];
			size_t depth = profile_stack_frames(fx.p, runs.runs[r].stack, frames, 8);
			int s;

			while (fx.samples[next].thread != thread)
				next++;
			s = fx.samples[next].stack;
			assert_int_equal(depth, FIX_STACKS[s].n ? FIX_STACKS[s].n : 1);
			for (int k = 0; k < FIX_STACKS[s].n; k++)
				assert_int_equal(frames[k], fx.frame_id[FIX_STACKS[s].frames[k]]);
			for (uint64_t c = 0; c < runs.runs[r].nsamples; c++) {
				while (fx.samples[next].thread != thread)
					next++;
				assert_int_equal(fx.samples[next].stack, s);
				next++;
			}
		}
	}
	profile_free(fx.p);
}

static void test_names_set_before_samples_and_last_wins(void **state)
{
	struct profile *p = new_profile();
	uint32_t a = intern(p, "a", NULL, 0, FRAME_NATIVE);
	struct profile_thread_info info;

	profile_set_thread_name(p, 5, 6, "early");
	profile_set_process_name(p, 5, "first");
	/* named but sampleless threads are not listed */
	assert_int_equal(profile_thread_count(p), 0);
	assert_int_equal(profile_process_count(p), 0);
	profile_add_sample(p, 5, 6, &a, 1, 1, 1);
	profile_set_process_name(p, 5, "second");
	profile_add_sample(p, 9, 9, &a, 1, 1, 2);
	assert_int_equal(profile_thread_at(p, 0, &info), 1);
	assert_string_equal(info.process_name, "second");
	assert_string_equal(info.thread_name, "early");
	assert_int_equal(profile_thread_at(p, 1, &info), 1);
	assert_string_equal(info.process_name, "[unknown]");
	assert_null(info.thread_name);
	profile_free(p);
}

static void test_format_frame(void **state)
{
	struct profile *p = new_profile();
	char buf[64];

	assert_int_equal(profile_format_frame(p, intern(p, "f", "a/b.py", 12, FRAME_PYTHON), buf, sizeof(buf)), 13);
	assert_string_equal(buf, "f (a/b.py:12)");
	profile_format_frame(p, intern(p, "f", "a/b.py", 0, FRAME_PYTHON), buf, sizeof(buf));
	assert_string_equal(buf, "f (a/b.py)");
	profile_format_frame(p, intern(p, "f", NULL, 0, FRAME_PYTHON), buf, sizeof(buf));
	assert_string_equal(buf, "f");
	profile_format_frame(p, intern(p, "malloc", "/lib/libc.so.6", 0, FRAME_NATIVE), buf, sizeof(buf));
	assert_string_equal(buf, "malloc");
	profile_format_frame(p, intern(p, "vfs_read", NULL, 0, FRAME_KERNEL), buf, sizeof(buf));
	assert_string_equal(buf, "vfs_read_[k]");
	profile_format_frame(p, intern(p, "[truncated]", NULL, 0, FRAME_MARKER), buf, sizeof(buf));
	assert_string_equal(buf, "[truncated]");
	/* truncation reports the full length like snprintf */
	assert_int_equal(profile_format_frame(p, 0, buf, 4), 13);
	assert_string_equal(buf, "f (");
	assert_int_equal(profile_format_frame(p, 999, buf, sizeof(buf)), -1);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_are_interned_by_all_four_fields),
		cmocka_unit_test(test_reused_name_buffer_is_another_frame),
		cmocka_unit_test(test_many_frames_survive_table_growth),
		cmocka_unit_test(test_stacks_share_prefixes),
		cmocka_unit_test(test_consecutive_identical_samples_merge),
		cmocka_unit_test(test_late_sample_is_placed_by_timestamp),
		cmocka_unit_test(test_empty_stack_is_unknown_marker),
		cmocka_unit_test(test_bad_frame_id_is_rejected),
		cmocka_unit_test(test_threads_grouped_by_pid_with_totals),
		cmocka_unit_test(test_runs_replay_samples_in_order),
		cmocka_unit_test(test_names_set_before_samples_and_last_wins),
		cmocka_unit_test(test_format_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
