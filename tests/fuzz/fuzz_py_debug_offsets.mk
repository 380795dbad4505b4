# _Py_DebugOffsets of 3.13+ (user/python/py_debug_offsets.c), see fuzz_py_debug_offsets.c.
FUZZ_SRCS_py_debug_offsets := user/python/py_debug_offsets.c
