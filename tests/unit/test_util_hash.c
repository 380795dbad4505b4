// SPDX-License-Identifier: MIT
/*
 * util/hash_map and its typed uses (u32map, id_table, id_map): growth,
 * colliding hashes, deletion inside probe runs, key sizes, and a reference
 * model checked after every operation of a random sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash_map.h"
#include "util/id_table.h"
#include "util/u32map.h"

struct wide_key {
	uint64_t dev, inode;
	char tag[5]; /* an odd size: the generic comparison */
};

static struct wide_key wide(uint64_t i)
{
	struct wide_key k;

	memset(&k, 0, sizeof(k)); /* padding takes part in the byte comparison */
	k.dev = i >> 3;
	k.inode = i + 1;
	memcpy(k.tag, "abcd", 5);
	return k;
}

static void test_grows_and_keeps_every_entry(void **state)
{
	(void)state;
	struct hash_map m;

	hash_map_init(&m, sizeof(struct wide_key), sizeof(uint64_t));
	for (uint64_t i = 0; i < 10000; i++) {
		struct wide_key k = wide(i);
		uint64_t v = i * 3;

		assert_int_equal(hash_map_find(&m, hash_bytes(HASH_SEED, &k, sizeof(k)), &k, NULL, NULL),
				 HASH_MAP_NONE);
		assert_int_not_equal(hash_map_insert(&m, hash_bytes(HASH_SEED, &k, sizeof(k)), &k, &v), HASH_MAP_NONE);
	}
	assert_int_equal(m.len, 10000);
	assert_true(m.cap >= 2 * m.len); /* load factor at most 1/2 */
	assert_int_equal(m.cap & (m.cap - 1), 0);
	for (uint64_t i = 0; i < 10000; i++) {
		struct wide_key k = wide(i);
		size_t slot = hash_map_find(&m, hash_bytes(HASH_SEED, &k, sizeof(k)), &k, NULL, NULL);

		assert_int_not_equal(slot, HASH_MAP_NONE);
		assert_int_equal(*(uint64_t *)hash_map_val(&m, slot), i * 3);
	}
	hash_map_free(&m);
	assert_int_equal(m.len, 0);
	assert_int_equal(m.key_size, sizeof(struct wide_key)); /* usable again */
}

/* Every key gets the same hash (and 0, which the table stores as 1): one long probe run. */
/* Reserving room up front: one table that inserts never grow, whatever it held before. */
static void test_reserve_makes_room_once(void **state)
{
	(void)state;
	struct hash_map m;

	hash_map_init(&m, sizeof(uint64_t), 0);
	for (uint64_t i = 0; i < 5; i++)
		assert_int_not_equal(hash_map_insert(&m, hash_u64(i), &i, NULL), HASH_MAP_NONE);
	assert_int_equal(hash_map_reserve(&m, 3000), 0);
	size_t cap = m.cap;
	assert_true(cap >= 6000);
	assert_int_equal(cap & (cap - 1), 0);
	for (uint64_t i = 5; i < 3000; i++)
		assert_int_not_equal(hash_map_insert(&m, hash_u64(i), &i, NULL), HASH_MAP_NONE);
	assert_int_equal(m.cap, cap);
	for (uint64_t i = 0; i < 3000; i++)
		assert_int_not_equal(hash_map_find(&m, hash_u64(i), &i, NULL, NULL), HASH_MAP_NONE);
	/* asking for less than it has changes nothing */
	assert_int_equal(hash_map_reserve(&m, 10), 0);
	assert_int_equal(m.cap, cap);
	hash_map_free(&m);
}

static void test_colliding_hashes_and_removal_in_runs(void **state)
{
	(void)state;
	struct hash_map m = HASH_MAP_INIT(sizeof(uint32_t), 0);
	enum { N = 40 };

	for (uint32_t k = 0; k < N; k++)
		assert_int_not_equal(hash_map_insert(&m, k % 2 ? 0 : 1, &k, NULL), HASH_MAP_NONE);
	/* remove every third key from the middle of the run; the rest stay reachable */
	for (uint32_t k = 0; k < N; k += 3) {
		size_t slot = hash_map_find(&m, k % 2 ? 0 : 1, &k, NULL, NULL);

		assert_int_not_equal(slot, HASH_MAP_NONE);
		hash_map_remove_at(&m, slot);
	}
	for (uint32_t k = 0; k < N; k++) {
		size_t slot = hash_map_find(&m, k % 2 ? 0 : 1, &k, NULL, NULL);

		if (k % 3 == 0)
			assert_int_equal(slot, HASH_MAP_NONE);
		else
			assert_int_equal(*(uint32_t *)hash_map_key(&m, slot), k);
	}
	assert_int_equal(m.len, N - (N + 2) / 3);
	hash_map_clear(&m);
	assert_int_equal(m.len, 0);
	for (size_t i = 0; i < m.cap; i++)
		assert_false(hash_map_slot_used(&m, i));
	hash_map_free(&m);
}

/* Low hash bits that wrap around the end of the table: backward shift across slot 0. */
static void test_removal_across_the_table_end(void **state)
{
	(void)state;
	struct hash_map m = HASH_MAP_INIT(sizeof(uint64_t), 0);
	uint64_t keys[6];

	for (int i = 0; i < 6; i++) {
		keys[i] = (uint64_t)i;
		/* after the first insert cap is 64: home slots 62, 63, 62, 63, 0, 62 */
		static const uint64_t homes[] = { 62, 63, 62, 63, 0, 62 };
		assert_int_not_equal(hash_map_insert(&m, homes[i] | 0x1000, &keys[i], NULL), HASH_MAP_NONE);
	}
	assert_int_equal(m.cap, 64);
	static const uint64_t homes[] = { 62, 63, 62, 63, 0, 62 };
	for (int victim = 0; victim < 6; victim++) {
		size_t slot = hash_map_find(&m, homes[victim] | 0x1000, &keys[victim], NULL, NULL);

		assert_int_not_equal(slot, HASH_MAP_NONE);
		hash_map_remove_at(&m, slot);
		for (int i = victim + 1; i < 6; i++)
			assert_int_not_equal(hash_map_find(&m, homes[i] | 0x1000, &keys[i], NULL, NULL), HASH_MAP_NONE);
	}
	assert_int_equal(m.len, 0);
	for (size_t i = 0; i < m.cap; i++) /* removal leaves all-zero keys behind */
		assert_int_equal(*(uint64_t *)hash_map_key(&m, i), 0);
	hash_map_free(&m);
}

static uintptr_t freed_sum;

static void count_freed(void *value)
{
	freed_sum += (uintptr_t)value;
}

/* A random sequence of puts and removes against a plain array as the reference. */
static void test_u32map_against_a_model(void **state)
{
	(void)state;
	enum { KEYS = 512, STEPS = 200000 };
	static void *model[KEYS];
	struct u32map m = { 0 };
	uint64_t rng = 12345;

	memset(model, 0, sizeof(model));
	assert_null(u32map_get(&m, 7));
	assert_null(u32map_remove(&m, 7));
	assert_int_equal(u32map_put(&m, 0, NULL), -1); /* 0 marks empty slots */
	for (int step = 0; step < STEPS; step++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t key = 1 + (uint32_t)(rng >> 33) % (KEYS - 1);
		void *val = (void *)(uintptr_t)(rng >> 40 | 1);

		if ((rng >> 20) % 3 == 0) {
			assert_ptr_equal(u32map_remove(&m, key), model[key]);
			model[key] = NULL;
		} else {
			assert_int_equal(u32map_put(&m, key, val), 0);
			model[key] = val;
		}
		assert_ptr_equal(u32map_get(&m, key), model[key]);
	}
	/* the iteration the header documents sees exactly the model's entries */
	size_t seen = 0, live = 0;
	for (size_t i = 0; i < m.cap; i++) {
		if (m.keys && m.keys[i]) {
			assert_ptr_equal(m.vals[i], model[m.keys[i]]);
			seen++;
		}
	}
	for (int k = 0; k < KEYS; k++)
		live += model[k] != NULL;
	assert_int_equal(seen, live);
	assert_int_equal(m.len, live);
	u32map_free(&m);
	assert_int_equal(m.cap, 0);

	/* u32map_free_with hands every value over, once */
	for (uintptr_t k = 1; k <= 100; k++)
		assert_int_equal(u32map_put(&m, (uint32_t)k, (void *)k), 0);
	freed_sum = 0;
	u32map_free_with(&m, count_freed);
	assert_int_equal(freed_sum, 100 * 101 / 2);
	assert_int_equal(m.len, 0);
}

static const char *const words[] = { "main", "fib", "g", "", "main ", "fib" };

static bool same_word(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const char *const *)ctx)[id], key) == 0;
}

static void test_id_table_and_id_map(void **state)
{
	(void)state;
	struct id_table t = { 0 };
	struct id_map m = { 0 };

	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(id_table_find(&t, hash_string(words[i]), same_word, words, words[i]), ID_NONE);
		assert_int_equal(id_table_insert(&t, hash_string(words[i]), i), 0);
	}
	assert_int_equal(id_table_find(&t, hash_string(words[5]), same_word, words, words[5]), 1);
	assert_int_equal(id_table_find(&t, hash_string(""), same_word, words, ""), 3);
	id_table_free(&t);

	/* integer keys compare exactly: 0 and the neighbours of ID_NONE included */
	const uint64_t keys[] = { 0, 1, (uint64_t)ID_NONE << 32, ((uint64_t)ID_NONE << 32) | 1, UINT64_MAX };
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(id_map_put(&m, keys[i], i * 10), 0);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(id_map_get(&m, keys[i]), i * 10);
	assert_int_equal(id_map_get(&m, 2), ID_NONE);
	for (uint64_t k = 100; k < 5000; k++)
		assert_int_equal(id_map_put(&m, k, (uint32_t)k), 0);
	for (uint64_t k = 100; k < 5000; k++)
		assert_int_equal(id_map_get(&m, k), (uint32_t)k);
	id_map_free(&m);
}

static void test_hash_functions(void **state)
{
	(void)state;
	/* FNV-1a's published value for "a", and the bijection's fixed point */
	assert_int_equal(hash_string("a"), 0xaf63dc4c8601ec8cULL);
	assert_int_equal(hash_string(""), HASH_SEED);
	assert_int_equal(hash_u64(0), 0);
	assert_int_not_equal(hash_u64(1), hash_u64(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_and_keeps_every_entry),
		cmocka_unit_test(test_reserve_makes_room_once),
		cmocka_unit_test(test_colliding_hashes_and_removal_in_runs),
		cmocka_unit_test(test_removal_across_the_table_end),
		cmocka_unit_test(test_u32map_against_a_model),
		cmocka_unit_test(test_id_table_and_id_map),
		cmocka_unit_test(test_hash_functions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
