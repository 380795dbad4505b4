// SPDX-License-Identifier: MIT
/* util/string_arena: references and pointers stay valid as blocks fill, oversized strings, shrink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/string_arena.h"

static void test_references_survive_many_blocks(void **state)
{
	(void)state;
	struct string_arena a = { 0 };
	enum { N = 20000 }; /* about 10 blocks of names */
	uint32_t *refs = calloc(N, sizeof(*refs));
	const char **ptrs = calloc(N, sizeof(*ptrs));
	char name[64];

	assert_non_null(refs);
	assert_non_null(ptrs);
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "function_number_%d_of_many", i);

		assert_int_equal(string_arena_add(&a, name, (size_t)len, &refs[i]), 0);
		ptrs[i] = string_arena_get(&a, refs[i]);
	}
	assert_true(a.nblocks > 1);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "function_number_%d_of_many", i);
		assert_string_equal(string_arena_get(&a, refs[i]), name);
		assert_ptr_equal(string_arena_get(&a, refs[i]), ptrs[i]); /* blocks never move */
	}
	string_arena_free(&a);
	assert_int_equal(a.nblocks, 0);
	free(refs);
	free(ptrs);
}

static void test_oversized_string_keeps_the_fill_block(void **state)
{
	(void)state;
	struct string_arena a = { 0 };
	size_t big_len = STRING_ARENA_BLOCK_SIZE + 100;
	char *big = malloc(big_len + 1);
	uint32_t small1, huge, small2;

	assert_non_null(big);
	memset(big, 'x', big_len);
	big[big_len] = '\0';
	/* an oversized string first, into an empty arena, must not become the block others fill */
	assert_int_equal(string_arena_add(&a, big, big_len, &huge), 0);
	assert_int_equal(string_arena_add(&a, "a", 1, &small1), 0);
	assert_int_equal(string_arena_add(&a, big, big_len, &huge), 0);
	assert_int_equal(string_arena_add(&a, "b", 1, &small2), 0);
	assert_int_equal(small2 >> STRING_ARENA_BLOCK_SHIFT, small1 >> STRING_ARENA_BLOCK_SHIFT);
	assert_string_equal(string_arena_get(&a, small1), "a");
	assert_string_equal(string_arena_get(&a, small2), "b");
	assert_int_equal(strlen(string_arena_get(&a, huge)), big_len);
	string_arena_free(&a);
	free(big);
}

static void test_strdup_and_embedded_lengths(void **state)
{
	(void)state;
	struct string_arena a = { 0 };
	uint32_t ref;
	const char *copy = string_arena_strdup(&a, "main");

	assert_string_equal(copy, "main");
	assert_int_equal(string_arena_add(&a, "prefix_only", 6, &ref), 0);
	assert_string_equal(string_arena_get(&a, ref), "prefix");
	assert_int_equal(string_arena_add(&a, "", 0, &ref), 0);
	assert_string_equal(string_arena_get(&a, ref), "");
	string_arena_free(&a);
}

static void test_shrink_keeps_references_and_adds_after(void **state)
{
	(void)state;
	struct string_arena a = { 0 };
	uint32_t first, second;

	string_arena_shrink(&a); /* empty: nothing to do */
	assert_int_equal(string_arena_add(&a, "before", 6, &first), 0);
	string_arena_shrink(&a);
	assert_string_equal(string_arena_get(&a, first), "before");
	assert_int_equal(string_arena_add(&a, "after", 5, &second), 0);
	assert_string_equal(string_arena_get(&a, first), "before");
	assert_string_equal(string_arena_get(&a, second), "after");
	string_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_references_survive_many_blocks),
		cmocka_unit_test(test_oversized_string_keeps_the_fill_block),
		cmocka_unit_test(test_strdup_and_embedded_lengths),
		cmocka_unit_test(test_shrink_keeps_references_and_adds_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
