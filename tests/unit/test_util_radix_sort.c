// SPDX-License-Identifier: MIT
/*
 * util/radix_sort against a stable reference sort: random keys, keys that
 * differ only in some bytes (the passes skipped), equal keys keeping their
 * order, and the trivial sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/radix_sort.h"

struct record {
	uint32_t order; /* the position before sorting: stability shows in it */
	uint64_t key;   /* not at offset 0, and unaligned to the stride's start */
	char tag[3];
};

/* Insertion sort by key: stable, obviously right. */
static void reference_sort(struct record *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct record x = r[i];
		size_t j = i;
		for (; j > 0 && r[j - 1].key > x.key; j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void check(uint64_t (*make_key)(uint64_t random, size_t i), size_t n)
{
	struct record *got = calloc(n ? n : 1, sizeof(*got)), *want = calloc(n ? n : 1, sizeof(*want));
	uint64_t state = 0x9e3779b97f4a7c15ULL;

	assert_non_null(got);
	assert_non_null(want);
	for (size_t i = 0; i < n; i++) {
		got[i] = (struct record){ .order = (uint32_t)i, .key = make_key(next_random(&state), i) };
		memcpy(got[i].tag, "ab", 3);
	}
	memcpy(want, got, n * sizeof(*got));
	reference_sort(want, n);
	assert_int_equal(RADIX_SORT_U64(got, n, key), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(got[i].key, want[i].key);
		assert_int_equal(got[i].order, want[i].order);
		assert_string_equal(got[i].tag, "ab");
	}
	free(got);
	free(want);
}

static uint64_t any_key(uint64_t random, size_t i) { return random; }
/* addresses in one file: only the low bytes differ (one, three or an odd number of passes run) */
static uint64_t address_key(uint64_t random, size_t i) { return 0x7f1234000000ULL + (random & 0xffffff); }
static uint64_t low_byte_key(uint64_t random, size_t i) { return 0x400000ULL + (random & 0xff); }
/* few distinct keys: long runs of equal keys must keep their order */
static uint64_t few_keys(uint64_t random, size_t i) { return (random % 5) << 40; }
static uint64_t same_key(uint64_t random, size_t i) { return 42; }
static uint64_t descending(uint64_t random, size_t i) { return UINT64_MAX - i; }

static void test_sorts_like_a_stable_sort(void **state)
{
	(void)state;
	check(any_key, 3000);
	check(address_key, 3000);
	check(low_byte_key, 3000);
	check(few_keys, 3000);
	check(same_key, 100);
	check(descending, 1000);
}

static void test_trivial_sizes(void **state)
{
	(void)state;
	check(any_key, 0);
	check(any_key, 1);
	check(any_key, 2);
	check(descending, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorts_like_a_stable_sort),
		cmocka_unit_test(test_trivial_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
