// SPDX-License-Identifier: MIT
/* Kernel symbols from kallsyms text: a synthetic table, then the running kernel's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/sym_test_util.h"
#include "sym/native_symbols.h"

static const char synthetic[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 t alias_at_stext\n"
	"ffffffff81000100 T do_one_thing\n"
	"ffffffff81000180 t helper_local\n"
	"ffffffff81002000 D some_data\n"
	"ffffffff81001000 T sorted_later\n"
	"ffffffffc0a01000 t module_func\t[nf_tables]\n"
	"ffffffffc0a01200 T module_other\t[nf_tables]\n"
	"not a line at all\n"
	"ffffffff81003000 W weak_thing\n"
	"ffffffff81004000 T last_one"; /* no final newline */

static void test_synthetic_table(void **state)
{
	(void)state;
	struct kernel_symbols *k = kernel_symbols_parse_buffer(synthetic, sizeof(synthetic) - 1);
	assert_non_null(k);
	uint64_t offset;
	const char *name = kernel_symbols_lookup(k, 0xffffffff81000000ull, &offset);
	assert_string_equal(name, "_stext"); /* the global name wins at a shared address */
	assert_int_equal(offset, 0);
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffff81000150ull, &offset), "do_one_thing");
	assert_int_equal(offset, 0x50);
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffff81000180ull, NULL), "helper_local");
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffff81001004ull, NULL), "sorted_later");
	/* data symbols are not text: the address stays with the preceding function */
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffff81002004ull, NULL), "sorted_later");
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffffc0a01010ull, &offset), "module_func [nf_tables]");
	assert_int_equal(offset, 0x10);
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffffc0a01300ull, NULL), "module_other [nf_tables]");
	assert_string_equal(kernel_symbols_lookup(k, 0xffffffff81004010ull, NULL), "last_one");
	assert_null(kernel_symbols_lookup(k, 0xffffffff80000000ull, NULL)); /* before the first */
	assert_null(kernel_symbols_lookup(k, 0xffffffff81004000ull + (64u << 20), NULL)); /* far past the last */
	assert_int_equal(kernel_symbols_count(k), 7);
	kernel_symbols_free(k);
}

static void test_hidden_addresses(void **state)
{
	(void)state;
	static const char hidden[] =
		"0000000000000000 T _stext\n"
		"0000000000000000 T schedule\n"
		"0000000000000000 t module_func\t[nf_tables]\n";
	errno = 0;
	assert_null(kernel_symbols_parse_buffer(hidden, sizeof(hidden) - 1));
	assert_int_equal(errno, EACCES);
	errno = 0;
	assert_null(kernel_symbols_parse_buffer("", 0));
	assert_int_equal(errno, ENODATA);
	assert_null(kernel_symbols_lookup(NULL, 0x1000, NULL));
}

static void test_running_kernel(void **state)
{
	(void)state;
	struct kernel_symbols *k = kernel_symbols_load();
	if (!k && errno == EACCES)
		skip(); /* kptr_restrict hides addresses from us */
	assert_non_null(k);
	assert_true(kernel_symbols_count(k) > 10000);
	static const char *const functions[] = { "schedule", "do_sys_openat2" };
	for (size_t i = 0; i < 2; i++) {
		char *line = sym_test_capture("grep -m1 ' [Tt] %s$' /proc/kallsyms", functions[i]);
		assert_non_null(line);
		unsigned long long addr = strtoull(line, NULL, 16);
		free(line);
		uint64_t offset;
		const char *name = kernel_symbols_lookup(k, addr + 1, &offset);
		assert_non_null(name);
		assert_string_equal(name, functions[i]);
		assert_int_equal(offset, 1);
	}
	kernel_symbols_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_table),
		cmocka_unit_test(test_hidden_addresses),
		cmocka_unit_test(test_running_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
