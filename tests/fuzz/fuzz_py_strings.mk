# PyUnicodeObject header and characters (user/python/py_unicode.c), see fuzz_py_strings.c.
FUZZ_SRCS_py_strings := user/python/py_unicode.c user/util/utf8.c
