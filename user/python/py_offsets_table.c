/* SPDX-License-Identifier: MIT */
/*
 * CPython 3.8-3.12 layouts (x86_64, GIL builds), from DWARF of the pyenv
 * builds 3.8.18 ... 3.12.1 and checked against the static Debian 3.11.2;
 * tests/unit/test_py_walk.c proves every entry with a live walk. The locals
 * offsets (f_localsplus, co_varnames ...) come from the same DWARF.
 * 3.13+ describe themselves through _Py_DebugOffsets (py_debug_offsets.c).
 */
#include "python/py_layout.h"

#include <string.h>

#define NONE PY_OFF_NONE

static const struct py_layout layouts[] = {
	{ /* 3.8 */
		.off = { .frame_model = PY_FRAMES_OBJECT, .lasti_kind = PY_LASTI_BYTES,
			 .rt_interpreters_head = 0x20, .interp_next = 0x0, .interp_threads_head = 0x8,
			 .ts_next = 0x8, .ts_interp = 0x10, .ts_thread_id = 0xb0, .ts_native_thread_id = NONE,
			 .ts_frame = 0x18, .cframe_current_frame = NONE,
			 .frame_previous = 0x18, .frame_code = 0x20, .frame_instr = 0x68,
			 .frame_owner = NONE, .frame_is_entry = NONE,
			 .code_filename = 0x68, .code_name = 0x70, .code_adaptive = NONE,
			 .gil_locked = 0x10, .gil_last_holder = 0x8 },
		.obj = { .ob_type = 0x8, .code_firstlineno = 0x28, .code_qualname = NONE,
			 .code_linetable = 0x78, .bytes_size = 0x10, .bytes_data = 0x20, .frame_state = 0x74,
			 .interp_modules = 0x38, .type_flags = 0xa8, .type_basicsize = 0x20,
			 .type_dictoffset = 0x120, .type_cached_keys = 0x368, .dict_keys = 0x20, .dict_values = 0x28,
			 .long_size = 0x10, .long_digit = 0x18 },
		.locals = { .frame_localsplus = 0x168, .code_nlocals = 0x1c, .code_names = 0x48, .code_kinds = NONE,
			    .code_argcount = 0x10, .tuple_size = 0x10, .tuple_items = 0x18, .float_value = 0x10,
			    .long_size = 0x10, .long_digits = 0x18, .type_name = 0x18 },
		.runtime_gil = 0x480, .interp_gil_ptr = NONE,
	},
	{ /* 3.9 */
		.off = { .frame_model = PY_FRAMES_OBJECT, .lasti_kind = PY_LASTI_BYTES,
			 .rt_interpreters_head = 0x20, .interp_next = 0x0, .interp_threads_head = 0x8,
			 .ts_next = 0x8, .ts_interp = 0x10, .ts_thread_id = 0xb0, .ts_native_thread_id = NONE,
			 .ts_frame = 0x18, .cframe_current_frame = NONE,
			 .frame_previous = 0x18, .frame_code = 0x20, .frame_instr = 0x68,
			 .frame_owner = NONE, .frame_is_entry = NONE,
			 .code_filename = 0x68, .code_name = 0x70, .code_adaptive = NONE,
			 .gil_locked = 0x10, .gil_last_holder = 0x8 },
		.obj = { .ob_type = 0x8, .code_firstlineno = 0x28, .code_qualname = NONE,
			 .code_linetable = 0x78, .bytes_size = 0x10, .bytes_data = 0x20, .frame_state = 0x74,
			 .interp_modules = 0x358, .type_flags = 0xa8, .type_basicsize = 0x20,
			 .type_dictoffset = 0x120, .type_cached_keys = 0x360, .dict_keys = 0x20, .dict_values = 0x28,
			 .long_size = 0x10, .long_digit = 0x18 },
		.locals = { .frame_localsplus = 0x168, .code_nlocals = 0x1c, .code_names = 0x48, .code_kinds = NONE,
			    .code_argcount = 0x10, .tuple_size = 0x10, .tuple_items = 0x18, .float_value = 0x10,
			    .long_size = 0x10, .long_digits = 0x18, .type_name = 0x18 },
		.runtime_gil = 0x160, .interp_gil_ptr = NONE,
	},
	{ /* 3.10: f_lasti counts 2-byte code units */
		.off = { .frame_model = PY_FRAMES_OBJECT, .lasti_kind = PY_LASTI_UNITS,
			 .rt_interpreters_head = 0x20, .interp_next = 0x0, .interp_threads_head = 0x8,
			 .ts_next = 0x8, .ts_interp = 0x10, .ts_thread_id = 0xb0, .ts_native_thread_id = NONE,
			 .ts_frame = 0x18, .cframe_current_frame = NONE,
			 .frame_previous = 0x18, .frame_code = 0x20, .frame_instr = 0x60,
			 .frame_owner = NONE, .frame_is_entry = NONE,
			 .code_filename = 0x68, .code_name = 0x70, .code_adaptive = NONE,
			 .gil_locked = 0x10, .gil_last_holder = 0x8 },
		.obj = { .ob_type = 0x8, .code_firstlineno = 0x28, .code_qualname = NONE,
			 .code_linetable = 0x78, .bytes_size = 0x10, .bytes_data = 0x20, .frame_state = 0x6c,
			 .interp_modules = 0x358, .type_flags = 0xa8, .type_basicsize = 0x20,
			 .type_dictoffset = 0x120, .type_cached_keys = 0x368, .dict_keys = 0x20, .dict_values = 0x28,
			 .long_size = 0x10, .long_digit = 0x18 },
		.locals = { .frame_localsplus = 0x160, .code_nlocals = 0x1c, .code_names = 0x48, .code_kinds = NONE,
			    .code_argcount = 0x10, .tuple_size = 0x10, .tuple_items = 0x18, .float_value = 0x10,
			    .long_size = 0x10, .long_digits = 0x18, .type_name = 0x18 },
		.runtime_gil = 0x160, .interp_gil_ptr = NONE,
	},
	{ /* 3.11: frames inlined; is_entry marks the first frame of each eval call */
		.off = { .frame_model = PY_FRAMES_CFRAME, .lasti_kind = PY_LASTI_ADAPTIVE,
			 .rt_interpreters_head = 0x28, .interp_next = 0x0, .interp_threads_head = 0x10,
			 .ts_next = 0x8, .ts_interp = 0x10, .ts_thread_id = 0x98, .ts_native_thread_id = 0xa0,
			 .ts_frame = 0x38, .cframe_current_frame = 0x8,
			 .frame_previous = 0x30, .frame_code = 0x20, .frame_instr = 0x38,
			 .frame_owner = 0x45, .frame_is_entry = 0x44,
			 .code_filename = 0x70, .code_name = 0x78, .code_adaptive = 0xb8,
			 .gil_locked = 0x10, .gil_last_holder = 0x8 },
		.obj = { .ob_type = 0x8, .code_firstlineno = 0x48, .code_qualname = 0x80,
			 .code_linetable = 0x88, .bytes_size = 0x10, .bytes_data = 0x20, .frame_state = NONE,
			 .interp_modules = 0x378, .type_flags = 0xa8, .type_basicsize = 0x20,
			 .type_dictoffset = 0x120, .type_cached_keys = 0x368, .dict_keys = 0x20, .dict_values = 0x28,
			 .long_size = 0x10, .long_digit = 0x18 },
		.locals = { .frame_localsplus = 0x48, .code_nlocals = NONE, .code_names = 0x60, .code_kinds = 0x68,
			    .code_argcount = 0x38, .tuple_size = 0x10, .tuple_items = 0x18, .float_value = 0x10,
			    .long_size = 0x10, .long_digits = 0x18, .type_name = 0x18 },
		.runtime_gil = 0x168, .interp_gil_ptr = NONE,
	},
	{ /* 3.12: owner 3 (FRAME_OWNED_BY_CSTACK) is the shim an eval call pushes */
		.off = { .frame_model = PY_FRAMES_CFRAME, .lasti_kind = PY_LASTI_ADAPTIVE,
			 .rt_interpreters_head = 0x28, .interp_next = 0x0, .interp_threads_head = 0x48,
			 .ts_next = 0x8, .ts_interp = 0x10, .ts_thread_id = 0x88, .ts_native_thread_id = 0x90,
			 .ts_frame = 0x38, .cframe_current_frame = 0x0,
			 .frame_previous = 0x8, .frame_code = 0x0, .frame_instr = 0x38,
			 .frame_owner = 0x46, .frame_is_entry = NONE, .owner_shim_min = 3,
			 .code_filename = 0x70, .code_name = 0x78, .code_adaptive = 0xc0,
			 .gil_locked = 0x10, .gil_last_holder = 0x8 },
		.obj = { .ob_type = 0x8, .code_firstlineno = 0x44, .code_qualname = 0x80,
			 .code_linetable = 0x88, .bytes_size = 0x10, .bytes_data = 0x20, .frame_state = NONE,
			 .interp_modules = 0x3b0, .type_flags = 0xa8, .type_basicsize = 0x20,
			 .type_dictoffset = 0x120, .type_cached_keys = 0x370, .dict_keys = 0x20, .dict_values = 0x28,
			 .long_size = 0x10, .long_digit = 0x18 },
		.locals = { .frame_localsplus = 0x48, .code_nlocals = NONE, .code_names = 0x60, .code_kinds = 0x68,
			    .code_argcount = 0x34, .tuple_size = 0x10, .tuple_items = 0x18, .float_value = 0x10,
			    .long_size = 0x10, .long_digits = 0x18, .type_name = 0x18, .long_tagged = true },
		.runtime_gil = NONE, .interp_gil_ptr = 0x180,
	},
};

_Static_assert(sizeof(layouts) / sizeof(layouts[0]) == 5, "one entry per minor 8..12");

bool py_layout_from_table(uint32_t version_hex, struct py_layout *out)
{
	unsigned minor = PY_MINOR(version_hex);

	if (PY_MAJOR(version_hex) != 3 || minor < 8 || minor > 12)
		return false;
	*out = layouts[minor - 8];
	out->off.version_hex = version_hex;
	/* The walker reads co_filename and co_name in one 16-byte read. */
	if (out->off.code_name != out->off.code_filename + 8)
		return false;
	return true;
}

bool py_offsets_from_table(uint32_t version_hex, struct py_offsets *out)
{
	struct py_layout l;

	if (!py_layout_from_table(version_hex, &l))
		return false;
	*out = l.off;
	return true;
}
