/* SPDX-License-Identifier: MIT */
/*
 * Private to user/python/: everything a CPython version needs beyond struct
 * py_offsets, as one value the table and the debug-offsets decoder both fill.
 */
#ifndef BPFSPY_PY_LAYOUT_H
#define BPFSPY_PY_LAYOUT_H

#include "python/python.h"

#define PY_MINOR(hex) (((hex) >> 16) & 0xffu)
#define PY_MAJOR(hex) ((hex) >> 24)

struct py_layout {
	struct py_offsets off;
	struct py_object_layout obj;
	struct py_locals_layout locals;
	struct py_async_layout async;
	/* Where struct _gil_runtime_state is: inside _PyRuntime (3.8-3.11) ... */
	uint16_t runtime_gil;
	/* ... or behind the interpreter's ceval.gil pointer (3.12+). */
	uint16_t interp_gil_ptr;
	uint64_t runtime_size; /* sizeof(_PyRuntimeState) the debug offsets claim; 0 from the table */
};

bool py_layout_from_table(uint32_t version_hex, struct py_layout *out);
int py_layout_from_debug_offsets(const uint8_t *buf, size_t len, struct py_layout *out,
				 bool *free_threaded, char *err, size_t errlen);

/*
 * The walker's offsets (py_proc, with what BPF copies of a code object) and
 * the object layouts of t from l, for a _PyRuntime at runtime_addr;
 * t->version_hex must be set. Detection, and the replay tests, use it.
 */
void py_target_set_layout(struct py_target *t, const struct py_layout *l, uint64_t runtime_addr);

/* Bytes of _PyRuntime to read to cover any known _Py_DebugOffsets schema. */
#define PY_DEBUG_OFFSETS_MAX 0x400

#endif
