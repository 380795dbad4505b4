// SPDX-License-Identifier: MIT
/* The path -> build-id memo the normalizer fills: lookups, updates, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sym/path_build_ids.h"

static void test_set_get_update(void **state)
{
	(void)state;
	struct path_build_ids *t = path_build_ids_new();
	assert_non_null(t);
	assert_null(path_build_ids_get(t, "/usr/bin/python3"));
	assert_null(path_build_ids_get(t, NULL));
	assert_null(path_build_ids_get(NULL, "/usr/bin/python3"));

	static const char first[] = "aa", second[] = "bb";
	assert_int_equal(path_build_ids_set(t, "/usr/bin/python3", first), 0);
	assert_ptr_equal(path_build_ids_get(t, "/usr/bin/python3"), first);
	/* a path names whatever file is mapped there now: the last set wins */
	assert_int_equal(path_build_ids_set(t, "/usr/bin/python3", second), 0);
	assert_ptr_equal(path_build_ids_get(t, "/usr/bin/python3"), second);
	assert_int_equal(path_build_ids_set(t, "/usr/bin/python3", ""), 0);
	assert_string_equal(path_build_ids_get(t, "/usr/bin/python3"), "");
	assert_null(path_build_ids_get(t, "/usr/bin/python"));
	path_build_ids_free(t);
	path_build_ids_free(NULL);
}

static void test_many_paths(void **state)
{
	(void)state;
	static char ids[1000][8];
	char path[64];
	struct path_build_ids *t = path_build_ids_new();
	assert_non_null(t);
	for (int i = 0; i < 1000; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%04x", i);
		snprintf(path, sizeof(path), "/lib/lib%d.so", i);
		assert_int_equal(path_build_ids_set(t, path, ids[i]), 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/lib/lib%d.so", i);
		assert_ptr_equal(path_build_ids_get(t, path), ids[i]);
	}
	assert_null(path_build_ids_get(t, "/lib/lib1000.so"));
	path_build_ids_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_update),
		cmocka_unit_test(test_many_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
