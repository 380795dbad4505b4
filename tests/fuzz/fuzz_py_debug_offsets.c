// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: _Py_DebugOffsets decoding (user/python/py_debug_offsets.c),
 * the bytes bpfspy reads from the start of _PyRuntime of a 3.13+ process or
 * its .PyRuntime section. Seeds are real sections (make_py_seeds.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python/py_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_offsets off;
	struct py_layout layout;
	bool ft = false;
	char err[128];

	memset(err, 0, sizeof(err));
	if (py_offsets_from_debug_offsets(data, size, &off, &ft, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap(); /* a refusal always says why */
		return 0;
	}
	/* what the BPF walker and symbolizer rely on: a supported frame model and lasti kind */
	if (off.frame_model != PY_FRAMES_DIRECT || off.lasti_kind != PY_LASTI_ADAPTIVE)
		__builtin_trap();
	if (py_layout_from_debug_offsets(data, size, &layout, &ft, err, sizeof(err)) < 0)
		__builtin_trap(); /* same input, same answer */
	if (memcmp(&layout.off, &off, sizeof(off)) != 0)
		__builtin_trap();
	return 0;
}
