/* SPDX-License-Identifier: MIT */
/*
 * Merging the Python frames of a sample into its native stack, as a pure
 * function over arrays (no process, no symbols), so every case is unit-testable.
 *
 * The Python frames split into groups, one per native eval-loop activation:
 *   3.8-3.10  one Python frame per activation;
 *   3.11      a group ends with the frame flagged PYF_ENTRY;
 *   3.12+     a group ends with a PYF_SHIM record (the shim is its bottom).
 * Each native eval frame, innermost first, is replaced by the next group.
 */
#ifndef BPFSPY_PYTHON_PY_NATIVE_MERGE_H
#define BPFSPY_PYTHON_PY_NATIVE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfspy_types.h"
#include "bpfspy_events.h"
#include "python/py_interpreter_frames.h"
#include "pyoffsets.h"

enum merge_item_kind {
	MERGE_ITEM_NATIVE = 0, /* index into the native frames */
	MERGE_ITEM_PYTHON,     /* index into the Python records */
	MERGE_ITEM_MARKER,     /* index is an enum merge_marker */
};

enum merge_marker {
	MERGE_MARKER_MISMATCH = 0,  /* "[merge mismatch]" */
	MERGE_MARKER_PY_TRUNCATED,  /* "[truncated]": the Python walk stopped at its depth limit */
	MERGE_MARKER_NATIVE_TRUNCATED, /* "[native truncated]": the unwind stopped before the root */
	MERGE_MARKER_NO_UNWIND_TABLE,  /* "[no unwind table]": it stopped at code bpfspy has no CFI for */
	MERGE_MARKER_COUNT,
};

const char *merge_marker_name(enum merge_marker m);

struct merge_item {
	uint32_t kind; /* enum merge_item_kind */
	uint32_t index;
};

struct merge_input {
	const uint8_t *native_roles; /* enum native_frame_role per native frame, innermost first */
	size_t nnative;
	bool native_complete;	     /* the unwind reached the root of the stack */
	bool native_no_table;	     /* else it stopped at code without an unwind table */
	const struct py_frame_rec *py; /* innermost first */
	size_t npy;
	enum py_frame_model model;   /* 0: not Python, nothing to merge */
	bool py_truncated;
	bool keep_all;		     /* --native-all: keep plumbing, and each eval frame below its group */
};

struct merge_result {
	size_t count;	    /* items written */
	bool mismatch;	    /* groups and eval frames did not pair up: both halves plus a marker */
	size_t groups;	    /* Python groups found */
	size_t eval_frames; /* native eval frames found */
};

/* Output never needs more than this many items. */
static inline size_t merge_output_capacity(size_t nnative, size_t npy)
{
	return nnative + npy + 3;
}

/*
 * Writes the merged stack, innermost first, into out (cap items, at least
 * merge_output_capacity). Returns 0, or -1 for bad arguments.
 */
int python_merge(const struct merge_input *in, struct merge_item *out, size_t cap, struct merge_result *res);

#endif
