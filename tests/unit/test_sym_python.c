// SPDX-License-Identifier: MIT
/*
 * What Python detection needs from elf_symbols, on real interpreters: a
 * shared libpython with a full .symtab, and Debian's stripped static python3.11.
 * Expected values come from readelf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "python/py_method_symbols.h"
#include "helpers/pyenv_path.h"
#include "helpers/sym_test_util.h"
#include "sym/native_symbols.h"

#define LIBPYTHON312 libpython312()
#define PYTHON311 "/usr/bin/python3.11"

/* A symbol's value and size as readelf prints them (sizes over 99999 in hex). */
static bool readelf_symbol(const char *file, const char *table, const char *name, uint64_t *value, uint64_t *size)
{
	char *line = sym_test_capture("readelf -W %s '%s' | awk '$8 == \"%s\" { print $2, $3; exit }'", table, file, name);
	char size_text[64];
	unsigned long long v;
	bool ok = line && sscanf(line, "%llx %63s", &v, size_text) == 2;
	if (ok) {
		*value = v;
		*size = strtoull(size_text, NULL, strncmp(size_text, "0x", 2) == 0 ? 16 : 10);
	}
	free(line);
	return ok;
}

static bool readelf_section(const char *file, const char *name, uint64_t *addr, uint64_t *offset, uint64_t *size)
{
	char *line = sym_test_capture("readelf -SW '%s' | sed 's/^ *\\[ *[0-9]*\\]//' | awk '$1 == \"%s\" { print $3, $4, $5 }'", file, name);
	unsigned long long a, o, s;
	bool ok = line && sscanf(line, "%llx %llx %llx", &a, &o, &s) == 3;
	if (ok) {
		*addr = a;
		*offset = o;
		*size = s;
	}
	free(line);
	return ok;
}

/* pyenv's shared 3.12 (any patch version), or "" when there is none. */
static const char *libpython312(void)
{
	const char *p = pyenv_find("3.12", "lib/libpython3.12.so.1.0");

	return p ? p : "";
}

static void test_libpython_runtime_and_cold_function(void **state)
{
	(void)state;
	if (access(LIBPYTHON312, R_OK) != 0)
		skip();
	struct elf_symbols *s = elf_symbols_load_named(LIBPYTHON312, NULL, &py_method_names);
	assert_non_null(s);
	uint64_t expected_addr, expected_size, addr, size;
	assert_true(readelf_symbol(LIBPYTHON312, "--syms", "_PyRuntime", &expected_addr, &expected_size));
	assert_true(elf_symbols_find(s, "_PyRuntime", &addr, &size));
	assert_int_equal(addr, expected_addr);
	assert_int_equal(size, expected_size);

	/* the cold part of the eval loop is a LOCAL symbol of its own */
	assert_true(readelf_symbol(LIBPYTHON312, "--syms", "_PyEval_EvalFrameDefault.cold", &expected_addr, &expected_size));
	assert_true(expected_size > 0);
	uint64_t offset;
	for (uint64_t probe = expected_addr; probe < expected_addr + expected_size; probe++) {
		const char *name = elf_symbols_lookup(s, probe, &offset);
		assert_non_null(name);
		assert_string_equal(name, "_PyEval_EvalFrameDefault.cold");
		assert_int_equal(offset, probe - expected_addr);
	}
	assert_true(readelf_symbol(LIBPYTHON312, "--syms", "_PyEval_EvalFrameDefault", &expected_addr, &expected_size));
	assert_string_equal(elf_symbols_lookup(s, expected_addr + expected_size - 1, NULL), "_PyEval_EvalFrameDefault");

	assert_true(readelf_section(LIBPYTHON312, ".PyRuntime", &expected_addr, &offset, &expected_size));
	uint64_t file_offset;
	assert_true(elf_symbols_section(s, ".PyRuntime", &addr, &size, &file_offset));
	assert_int_equal(addr, expected_addr);
	assert_int_equal(size, expected_size);
	assert_int_equal(file_offset, offset);
	assert_true(elf_symbols_is_dyn(s));
	elf_symbols_free(s);
}

static void test_stripped_static_python(void **state)
{
	(void)state;
	if (access(PYTHON311, R_OK) != 0)
		skip();
	struct elf_symbols *s = elf_symbols_load_named(PYTHON311, NULL, &py_method_names);
	assert_non_null(s);
	assert_false(elf_symbols_is_dyn(s));
	uint64_t expected_addr, expected_size, addr, size, file_offset, offset;
	assert_true(readelf_symbol(PYTHON311, "--dyn-syms", "_PyRuntime", &expected_addr, &expected_size));
	assert_true(elf_symbols_find(s, "_PyRuntime", &addr, &size));
	assert_int_equal(addr, expected_addr);
	assert_int_equal(size, expected_size);
	assert_true(readelf_section(PYTHON311, ".PyRuntime", &expected_addr, &offset, &expected_size));
	assert_true(elf_symbols_section(s, ".PyRuntime", &addr, &size, &file_offset));
	assert_int_equal(addr, expected_addr);
	assert_int_equal(size, expected_size);
	assert_int_equal(file_offset, offset);
	/* exported functions are found through .dynsym alone */
	assert_true(readelf_symbol(PYTHON311, "--dyn-syms", "PyEval_EvalCode", &expected_addr, &expected_size));
	assert_string_equal(elf_symbols_lookup(s, expected_addr + expected_size / 2, NULL), "PyEval_EvalCode");
	char id[256];
	assert_true(sym_test_readelf_build_id(PYTHON311, id, sizeof(id)));
	assert_string_equal(elf_symbols_build_id(s), id);
	elf_symbols_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libpython_runtime_and_cold_function),
		cmocka_unit_test(test_stripped_static_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
