# Code objects -> names and lines (user/python/py_symbolizer.c and what it reads), see
# fuzz_py_code_objects.c: the harness stands in for user/python/py_memory.c.
FUZZ_SRCS_py_code_objects := user/python/py_symbolizer.c user/python/py_objects.c user/python/py_unicode.c user/util/utf8.c user/util/hash_map.c \
	user/python/py_linetable.c
