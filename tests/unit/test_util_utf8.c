// SPDX-License-Identifier: MIT
/* util/utf8: validation, decoding, encoding, counting and truncation agree with each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

static void test_encode_decode_round_trip(void **state)
{
	(void)state;
	static const uint32_t cps[] = { 0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF,
					0x10000, 0x10FFFF };

	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char buf[UTF8_MAX_SEQUENCE];
		uint32_t back;
		size_t n = utf8_encode(cps[i], buf);

		assert_int_equal(utf8_sequence_length((const unsigned char *)buf, n), n);
		assert_int_equal(utf8_decode((const unsigned char *)buf, n, &back), n);
		assert_int_equal(back, cps[i]);
		assert_true(utf8_is_valid((const unsigned char *)buf, n));
	}
}

static void test_ill_formed_is_rejected(void **state)
{
	(void)state;
	static const char *const bad[] = { "\xC0\x80", "\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xF0\x8F\xBF\xBF",
					   "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\x80", "\xE2\x82", "\xFF" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const unsigned char *s = (const unsigned char *)bad[i];
		uint32_t cp;

		assert_false(utf8_is_valid(s, strlen(bad[i])));
		assert_int_equal(utf8_decode(s, strlen(bad[i]), &cp), 0);
		assert_int_equal(cp, 0xFFFD);
	}
	assert_true(utf8_is_valid((const unsigned char *)"a\0b", 3)); /* NUL is a character */
}

static void test_count_and_truncate(void **state)
{
	(void)state;
	const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"; /* a, e-acute, euro, emoji: 1+2+3+4 bytes */

	assert_int_equal(utf8_count_chars(s), 4);
	assert_int_equal(utf8_count_chars(""), 0);
	assert_int_equal(utf8_truncate(s, 10, 20), 10);
	assert_int_equal(utf8_truncate(s, 10, 9), 6);  /* not inside the emoji */
	assert_int_equal(utf8_truncate(s, 10, 5), 3);  /* not inside the euro sign */
	assert_int_equal(utf8_truncate(s, 10, 3), 3);
	assert_int_equal(utf8_truncate(s, 10, 2), 1);
	assert_int_equal(utf8_truncate(s, 10, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_ill_formed_is_rejected),
		cmocka_unit_test(test_count_and_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
