// SPDX-License-Identifier: MIT
/*
 * The Python/native merge as a pure function, one case per rule: which eval
 * frame each Python group replaces on every frame model, what is dropped,
 * and how a sample that does not pair up is still kept whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "python/py_eval_code.h"
#include "native/stack_root.h"
#include "python/py_interpreter_frames.h"
#include "python/py_native_merge.h"

enum { K = NATIVE_FRAME_KEEP, EV = NATIVE_FRAME_EVAL, PL = NATIVE_FRAME_PLUMBING };

#define PY(code_, flags_) { .code = (code_), .flags = (flags_) }
#define SHIM { .code = 0, .flags = PYF_SHIM }

/*
 * Renders the merged stack innermost first as a string: "n3" native frame 3,
 * "p1" Python record 1, "M" mismatch, "T" truncated, "U" native truncated,
 * "N" no unwind table.
 */
static const char *render(const struct merge_input *in, struct merge_result *res)
{
	static char buf[1024];
	struct merge_item items[256];
	size_t len = 0;

	assert_int_equal(python_merge(in, items, 256, res), 0);
	buf[0] = '\0';
	for (size_t i = 0; i < res->count; i++) {
		const struct merge_item *it = &items[i];
		if (it->kind == MERGE_ITEM_MARKER)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
						it->index == MERGE_MARKER_MISMATCH ? "M" :
						it->index == MERGE_MARKER_PY_TRUNCATED ? "T" :
						it->index == MERGE_MARKER_NO_UNWIND_TABLE ? "N" : "U");
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%c%u", i ? " " : "",
						it->kind == MERGE_ITEM_NATIVE ? 'n' : 'p', it->index);
	}
	return buf;
}

/* 3.8-3.10: one Python frame per eval frame; plumbing between them goes. */
static void test_object_model_one_frame_per_eval(void **state)
{
	/* leaf C, eval(f0), plumbing, C callback host, eval(f1), plumbing, main */
	const uint8_t roles[] = { K, EV, PL, K, EV, PL, K };
	const struct py_frame_rec py[] = { PY(10, 0), PY(11, 0) };
	struct merge_input in = { .native_roles = roles, .nnative = 7, .native_complete = true, .py = py, .npy = 2,
				  .model = PY_FRAMES_OBJECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 p0 n3 p1 n6");
	assert_false(res.mismatch);
	assert_int_equal(res.groups, 2);
	assert_int_equal(res.eval_frames, 2);
}

/* 3.11: a group runs down to and including the frame flagged PYF_ENTRY. */
static void test_entry_flag_ends_group(void **state)
{
	const uint8_t roles[] = { EV, K, EV, K };
	const struct py_frame_rec py[] = { PY(1, 0), PY(2, PYF_ENTRY), PY(3, 0), PY(4, 0), PY(5, PYF_ENTRY) };
	struct merge_input in = { .native_roles = roles, .nnative = 4, .native_complete = true, .py = py, .npy = 5,
				  .model = PY_FRAMES_CFRAME };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "p0 p1 n1 p2 p3 p4 n3");
	assert_false(res.mismatch);
}

/* 3.12+: a shim record ends its group and is no frame itself. */
static void test_shim_ends_group(void **state)
{
	const uint8_t roles[] = { K, EV, PL, K, EV, K };
	const struct py_frame_rec py[] = { PY(1, 0), SHIM, PY(2, 0), PY(3, 0), SHIM };
	struct merge_input in = { .native_roles = roles, .nnative = 6, .native_complete = true, .py = py, .npy = 5,
				  .model = PY_FRAMES_DIRECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 p0 n3 p2 p3 n5");
	assert_false(res.mismatch);
}

/* 3.15 ends the chain with a sentinel base frame: no activation of its own. */
static void test_trailing_sentinel_is_not_a_group(void **state)
{
	const uint8_t roles[] = { EV, K };
	const struct py_frame_rec py[] = { PY(1, 0), PY(2, 0), SHIM, SHIM };
	struct merge_input in = { .native_roles = roles, .nnative = 2, .native_complete = true, .py = py, .npy = 4,
				  .model = PY_FRAMES_DIRECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "p0 p1 n1");
	assert_int_equal(res.groups, 1);
}

/* --native-all keeps plumbing, and each eval frame under the frames it ran. */
static void test_keep_all(void **state)
{
	const uint8_t roles[] = { K, EV, PL, EV };
	const struct py_frame_rec py[] = { PY(1, 0), SHIM, PY(2, 0), SHIM };
	struct merge_input in = { .native_roles = roles, .nnative = 4, .native_complete = true, .py = py, .npy = 4,
				  .model = PY_FRAMES_DIRECT, .keep_all = true };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 p0 n1 n2 p2 n3");
}

/* Caught entering or leaving: the innermost eval frame has no Python frames yet (or any more). */
static void test_innermost_eval_without_group(void **state)
{
	const uint8_t roles[] = { K, EV, K, EV, K };
	const struct py_frame_rec py[] = { PY(1, 0) };
	struct merge_input in = { .native_roles = roles, .nnative = 5, .native_complete = true, .py = py, .npy = 1,
				  .model = PY_FRAMES_OBJECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 n2 p0 n4");
	assert_false(res.mismatch);
}

/*
 * 3.11 caught in the eval prologue, between switching tstate->cframe and
 * flagging the frame as its entry: the frame being entered (not started, not
 * flagged) is the innermost activation's group alone, not part of its caller's.
 * A started innermost record beside the extra eval frame is the caller, caught
 * before the switch: that eval frame has no group yet.
 */
static void test_innermost_entered_before_its_flag(void **state)
{
	/* eval(key, prologue), list.sort, sorted, eval(rec...<module>), main */
	const uint8_t roles[] = { EV, K, K, EV, K };
	struct py_frame_rec py[] = { PY(1, 0), PY(2, 0), PY(3, PYF_ENTRY) };
	struct merge_input in = { .native_roles = roles, .nnative = 5, .native_complete = true, .py = py, .npy = 3,
				  .model = PY_FRAMES_CFRAME };
	struct merge_result res;

	py[0].lasti = PY_LASTI_NOT_STARTED;
	assert_string_equal(render(&in, &res), "p0 n1 n2 p1 p2 n4");
	assert_false(res.mismatch);

	py[0].lasti = 7; /* started: the caller, before the switch */
	assert_string_equal(render(&in, &res), "n1 n2 p0 p1 p2 n4");
	assert_false(res.mismatch);

	/* 3.12+: shims mark activations, the rule does not apply */
	struct py_frame_rec shimmed[] = { PY(1, 0), PY(2, 0), SHIM };
	shimmed[0].lasti = PY_LASTI_NOT_STARTED;
	in.py = shimmed;
	assert_string_equal(render(&in, &res), "n1 n2 p0 p1 n4");
}

/* A frame pushed before its eval call: the innermost group goes on top. */
static void test_innermost_group_without_eval(void **state)
{
	const uint8_t roles[] = { PL, K, EV, K };
	const struct py_frame_rec py[] = { PY(1, PYF_ENTRY), PY(2, PYF_ENTRY) };
	struct merge_input in = { .native_roles = roles, .nnative = 4, .native_complete = true, .py = py, .npy = 2,
				  .model = PY_FRAMES_CFRAME };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "p0 n1 p1 n3");
}

/* Off by two: both halves are kept around a marker, the leaf C frames on top. */
static void test_mismatch_keeps_both_halves(void **state)
{
	const uint8_t roles[] = { K, EV, PL, K };
	const struct py_frame_rec py[] = { PY(1, 0), PY(2, 0), PY(3, 0) };
	struct merge_input in = { .native_roles = roles, .nnative = 4, .native_complete = true, .py = py, .npy = 3,
				  .model = PY_FRAMES_OBJECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 p0 p1 p2 M n1 n3");
	assert_true(res.mismatch);
}

/* The Python walk hit its depth limit: outer eval frames stay native, marked. */
static void test_python_truncated(void **state)
{
	const uint8_t roles[] = { EV, EV, EV, K };
	const struct py_frame_rec py[] = { PY(1, 0) };
	struct merge_input in = { .native_roles = roles, .nnative = 4, .native_complete = true, .py = py, .npy = 1,
				  .model = PY_FRAMES_OBJECT, .py_truncated = true };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "p0 T n1 n2 n3");
	assert_false(res.mismatch);
}

/* The unwind stopped early: the outer Python frames go above where it stopped. */
static void test_native_truncated(void **state)
{
	const uint8_t roles[] = { K, EV };
	const struct py_frame_rec py[] = { PY(1, 0), PY(2, 0), PY(3, 0) };
	struct merge_input in = { .native_roles = roles, .nnative = 2, .native_complete = false, .py = py, .npy = 3,
				  .model = PY_FRAMES_OBJECT };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 p0 U p1 p2");
	assert_false(res.mismatch);
	/* stopped at code without an unwind table: the marker says so */
	in.native_no_table = true;
	assert_string_equal(render(&in, &res), "n0 p0 N p1 p2");
	assert_string_equal(merge_marker_name(MERGE_MARKER_NO_UNWIND_TABLE), "[no unwind table]");
}

static void test_not_python(void **state)
{
	const uint8_t roles[] = { K, PL, EV };
	struct merge_input in = { .native_roles = roles, .nnative = 3, .native_complete = true };
	struct merge_result res;
	assert_string_equal(render(&in, &res), "n0 n2");
	assert_false(res.mismatch);
}

static void test_rejects_small_output(void **state)
{
	const uint8_t roles[] = { K };
	struct merge_input in = { .native_roles = roles, .nnative = 1 };
	struct merge_item items[2];
	struct merge_result res;
	assert_int_equal(python_merge(&in, items, 2, &res), -1);
	assert_int_equal(python_merge(NULL, items, 8, &res), -1);
}

static void test_frame_roles(void **state)
{
	assert_int_equal(interpreter_frame_role("_PyEval_EvalFrameDefault"), NATIVE_FRAME_EVAL);
	assert_int_equal(interpreter_frame_role("_PyEval_EvalFrameDefault.cold"), NATIVE_FRAME_EVAL);
	assert_int_equal(interpreter_frame_role("_PyEval_Vector"), NATIVE_FRAME_PLUMBING);
	assert_int_equal(interpreter_frame_role("_PyFunction_Vectorcall"), NATIVE_FRAME_PLUMBING);
	assert_int_equal(interpreter_frame_role("cfunction_vectorcall_FASTCALL_KEYWORDS"), NATIVE_FRAME_PLUMBING);
	assert_int_equal(interpreter_frame_role("method_vectorcall_NOARGS"), NATIVE_FRAME_PLUMBING);
	assert_int_equal(interpreter_frame_role("_PyObject_MakeTpCall.lto_priv.0"), NATIVE_FRAME_PLUMBING);
	assert_int_equal(interpreter_frame_role("builtin_sum"), NATIVE_FRAME_KEEP);
	assert_int_equal(interpreter_frame_role("map_next"), NATIVE_FRAME_KEEP);
	assert_int_equal(interpreter_frame_role("list_sort_impl"), NATIVE_FRAME_KEEP);
	assert_int_equal(interpreter_frame_role("_PyEval_EvalFrameDefaultX"), NATIVE_FRAME_KEEP);
	assert_true(native_frame_is_root("_start"));
	assert_true(native_frame_is_root("clone3"));
	assert_false(native_frame_is_root("mainloop"));
}

/* The cold part is the FDE most out-of-function jumps land in; tail calls to a function's start do not count. */
static void test_cold_part_vote(void **state)
{
	const struct code_range fdes[] = { { 0x1000, 0x1100 }, { 0x2000, 0x2400 }, { 0x5000, 0x6000 } };
	uint8_t hot[64] = { 0 };
	uint64_t hot_vaddr = 0x5000;
	size_t votes;
	/* jne 0x2010, jmp 0x2020, je 0x2030 from offsets 0, 6, 11; jmp 0x1000 (tail call) from 16 */
	int32_t rel;
	hot[0] = 0x0f, hot[1] = 0x85, rel = (int32_t)(0x2010 - (0x5000 + 6)), memcpy(hot + 2, &rel, 4);
	hot[6] = 0xe9, rel = (int32_t)(0x2020 - (0x5006 + 5)), memcpy(hot + 7, &rel, 4);
	hot[11] = 0x0f, hot[12] = 0x84, rel = (int32_t)(0x2030 - (0x500b + 6)), memcpy(hot + 13, &rel, 4);
	hot[17] = 0xe9, rel = (int32_t)(0x1000 - (0x5011 + 5)), memcpy(hot + 18, &rel, 4);
	assert_int_equal(eval_code_vote_cold_fde(hot, sizeof(hot), hot_vaddr, fdes, 3, 3, &votes), 1);
	assert_int_equal(votes, 3);
	assert_int_equal(eval_code_vote_cold_fde(hot, sizeof(hot), hot_vaddr, fdes, 3, 4, &votes), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_model_one_frame_per_eval),
		cmocka_unit_test(test_entry_flag_ends_group),
		cmocka_unit_test(test_shim_ends_group),
		cmocka_unit_test(test_trailing_sentinel_is_not_a_group),
		cmocka_unit_test(test_keep_all),
		cmocka_unit_test(test_innermost_eval_without_group),
		cmocka_unit_test(test_innermost_group_without_eval),
		cmocka_unit_test(test_innermost_entered_before_its_flag),
		cmocka_unit_test(test_mismatch_keeps_both_halves),
		cmocka_unit_test(test_python_truncated),
		cmocka_unit_test(test_native_truncated),
		cmocka_unit_test(test_not_python),
		cmocka_unit_test(test_rejects_small_output),
		cmocka_unit_test(test_frame_roles),
		cmocka_unit_test(test_cold_part_vote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
