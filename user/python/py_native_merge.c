// SPDX-License-Identifier: MIT
#include "python/py_native_merge.h"

#include <string.h>

const char *merge_marker_name(enum merge_marker m)
{
	switch (m) {
	case MERGE_MARKER_MISMATCH:
		return "[merge mismatch]";
	case MERGE_MARKER_PY_TRUNCATED:
		return "[truncated]";
	case MERGE_MARKER_NATIVE_TRUNCATED:
		return "[native truncated]";
	case MERGE_MARKER_NO_UNWIND_TABLE:
		return "[no unwind table]";
	default:
		return "[unknown]";
	}
}

struct emitter {
	struct merge_item *out;
	size_t cap, count;
};

static void emit(struct emitter *e, enum merge_item_kind kind, size_t index)
{
	if (e->count < e->cap)
		e->out[e->count++] = (struct merge_item){ .kind = kind, .index = (uint32_t)index };
}

/* The end (exclusive) of the group starting at py[first]: its boundary record included. */
static size_t group_end(const struct merge_input *in, size_t first)
{
	if (in->model == PY_FRAMES_OBJECT)
		return first + 1;
	for (size_t i = first; i < in->npy; i++)
		if (in->py[i].flags & (PYF_ENTRY | PYF_SHIM))
			return i + 1;
	return in->npy;
}

static size_t count_groups(const struct merge_input *in)
{
	size_t groups = 0;
	for (size_t i = 0; i < in->npy; i = group_end(in, i))
		groups++;
	return groups;
}

static size_t count_eval_frames(const struct merge_input *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->nnative; i++)
		n += in->native_roles[i] == NATIVE_FRAME_EVAL;
	return n;
}

/* Python frames of py[first, end): shim records are boundaries, not frames. */
static void emit_python(struct emitter *e, const struct merge_input *in, size_t first, size_t end)
{
	for (size_t i = first; i < end; i++)
		if (!(in->py[i].flags & PYF_SHIM))
			emit(e, MERGE_ITEM_PYTHON, i);
}

static void emit_native_kept(struct emitter *e, const struct merge_input *in, size_t i)
{
	if (in->native_roles[i] != NATIVE_FRAME_PLUMBING || in->keep_all)
		emit(e, MERGE_ITEM_NATIVE, i);
}

/*
 * How groups and eval frames pair up. Only the innermost activation can be
 * caught entering or leaving the eval loop: then its native frame exists
 * without its Python frames (one eval frame more), or its frames are already
 * pushed or still there without a native frame (one group more).
 */
struct pairing {
	bool skip_innermost_eval;  /* an eval frame more: the innermost one has no group */
	bool group_above_leaf;	   /* a group more: the innermost group has no eval frame */
	bool split_innermost;	   /* an eval frame more, entering the innermost record: it is a group alone */
};

static void emit_group(struct emitter *e, const struct merge_input *in, size_t *next_py, bool *py_done,
		       bool alone)
{
	size_t end = alone ? *next_py + 1 : group_end(in, *next_py);
	emit_python(e, in, *next_py, end);
	*next_py = end;
	if (end == in->npy) {
		*py_done = true;
		if (in->py_truncated)
			emit(e, MERGE_ITEM_MARKER, MERGE_MARKER_PY_TRUNCATED);
	}
}

/* Each eval frame becomes its group, innermost first. */
static void emit_merged(struct emitter *e, const struct merge_input *in, struct pairing pairing)
{
	size_t next_py = 0;
	bool py_done = in->npy == 0;

	if (pairing.group_above_leaf && !py_done)
		emit_group(e, in, &next_py, &py_done, false);
	for (size_t i = 0; i < in->nnative; i++) {
		if (in->native_roles[i] != NATIVE_FRAME_EVAL) {
			emit_native_kept(e, in, i);
			continue;
		}
		if (pairing.skip_innermost_eval) {
			pairing.skip_innermost_eval = false;
			if (in->keep_all)
				emit(e, MERGE_ITEM_NATIVE, i);
			continue;
		}
		if (py_done) { /* no Python frames left for it (none walked, or beyond the depth limit) */
			emit(e, MERGE_ITEM_NATIVE, i);
			continue;
		}
		emit_group(e, in, &next_py, &py_done, pairing.split_innermost && next_py == 0);
		if (in->keep_all)
			emit(e, MERGE_ITEM_NATIVE, i);
	}
	if (!py_done) { /* the unwind stopped early: the outer Python frames go above where it stopped */
		emit(e, MERGE_ITEM_MARKER,
		     in->native_no_table ? MERGE_MARKER_NO_UNWIND_TABLE : MERGE_MARKER_NATIVE_TRUNCATED);
		emit_python(e, in, next_py, in->npy);
		if (in->py_truncated)
			emit(e, MERGE_ITEM_MARKER, MERGE_MARKER_PY_TRUNCATED);
	}
}

/*
 * No pairing: the native frames above the innermost eval frame, then all the
 * Python frames, the marker, and the rest of the native stack as it is. The
 * leaf C work stays under the Python code that called it as far as we know.
 */
static void emit_mismatch(struct emitter *e, const struct merge_input *in)
{
	size_t i = 0;
	for (; i < in->nnative && in->native_roles[i] != NATIVE_FRAME_EVAL; i++)
		emit_native_kept(e, in, i);
	emit_python(e, in, 0, in->npy);
	if (in->py_truncated)
		emit(e, MERGE_ITEM_MARKER, MERGE_MARKER_PY_TRUNCATED);
	emit(e, MERGE_ITEM_MARKER, MERGE_MARKER_MISMATCH);
	for (; i < in->nnative; i++)
		if (in->native_roles[i] == NATIVE_FRAME_EVAL)
			emit(e, MERGE_ITEM_NATIVE, i);
		else
			emit_native_kept(e, in, i);
}

/*
 * 3.11 switches tstate->cframe to the new activation's cframe a few
 * instructions before it stores the frame's is_entry flag (and before it
 * initialises cframe.current_frame, whose stale value is then the frame last
 * entered from the same C caller, at the same address: the one being
 * entered). Caught there, the frame being entered is the innermost record,
 * not yet started and not flagged, with one eval frame more than groups. No
 * other state has an unstarted innermost record beside an extra eval frame:
 * an activation caught before the switch shows its caller innermost, which is
 * always inside a call instruction.
 */
static bool innermost_being_entered(const struct merge_input *in)
{
	if (in->model == PY_FRAMES_OBJECT || in->npy < 2)
		return false;
	for (size_t i = 0; i < in->npy; i++)
		if (in->py[i].flags & PYF_SHIM) /* 3.12+: the shim marks activations; no flag to wait for */
			return false;
	return !(in->py[0].flags & PYF_ENTRY) && in->py[0].lasti == PY_LASTI_NOT_STARTED;
}

static bool plan_pairing(const struct merge_input *in, size_t groups, size_t evals, struct pairing *out)
{
	*out = (struct pairing){ 0 };
	if (groups == evals)
		return true;
	if (groups < evals && in->py_truncated) /* outer activations are beyond the walk's depth limit */
		return true;
	if (groups > evals && !in->native_complete) /* outer groups are beyond where the unwind stopped */
		return true;
	if (evals == groups + 1 && innermost_being_entered(in)) {
		out->split_innermost = true;
		return true;
	}
	if (evals == groups + 1) {
		out->skip_innermost_eval = true;
		return true;
	}
	if (groups == evals + 1) {
		out->group_above_leaf = true;
		return true;
	}
	return false;
}

/*
 * Records after the last group that are all shims are no activation of their
 * own: 3.15 ends every chain with a sentinel base frame below the entry frame.
 */
static size_t trim_trailing_shims(const struct py_frame_rec *py, size_t npy)
{
	size_t n = npy;
	while (n > 0 && (py[n - 1].flags & PYF_SHIM))
		n--;
	if (n == 0)
		return npy;
	return n < npy ? n + 1 : npy; /* keep the shim that ends the last real group */
}

int python_merge(const struct merge_input *in, struct merge_item *out, size_t cap, struct merge_result *res)
{
	if (!in || !out || !res || (in->nnative && !in->native_roles) || (in->npy && !in->py) ||
	    cap < merge_output_capacity(in->nnative, in->npy))
		return -1;
	struct emitter e = { .out = out, .cap = cap };
	struct merge_input effective = *in;

	memset(res, 0, sizeof(*res));
	struct pairing pairing = { 0 };
	if (effective.model == 0)
		effective.npy = 0;
	if (effective.model != PY_FRAMES_OBJECT)
		effective.npy = trim_trailing_shims(effective.py, effective.npy);
	res->groups = count_groups(&effective);
	res->eval_frames = count_eval_frames(&effective);
	if (effective.npy == 0 || plan_pairing(&effective, res->groups, res->eval_frames, &pairing)) {
		emit_merged(&e, &effective, pairing);
	} else {
		res->mismatch = true;
		emit_mismatch(&e, &effective);
	}
	res->count = e.count;
	return 0;
}
