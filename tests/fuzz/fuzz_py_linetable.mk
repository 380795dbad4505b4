# CPython line tables (user/python/py_linetable.c), see fuzz_py_linetable.c.
FUZZ_SRCS_py_linetable := user/python/py_linetable.c
