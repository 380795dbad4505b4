// SPDX-License-Identifier: MIT
#include "util/utf8.h"

static bool in_range(unsigned char c, unsigned char lo, unsigned char hi)
{
	return c >= lo && c <= hi;
}

static bool is_continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;

	/* the allowed range of the second byte depends on the lead byte (RFC 3629 table) */
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (in_range(c, 0xC2, 0xDF)) {
		len = 2;
	} else if (in_range(c, 0xE0, 0xEF)) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (in_range(c, 0xF0, 0xF4)) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || !in_range(s[1], lo, hi))
		return 0;
	for (size_t i = 2; i < len; i++)
		if (!is_continuation(s[i]))
			return 0;
	return len;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = utf8_sequence_length(s, n);

	if (len == 0) {
		*cp = 0xFFFD;
		return 0;
	}
	/* the lead byte keeps 7, 5, 4 or 3 payload bits */
	*cp = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++)
		*cp = *cp << 6 | (s[i] & 0x3F);
	return len;
}

bool utf8_is_valid(const unsigned char *s, size_t n)
{
	while (n > 0) {
		size_t len = utf8_sequence_length(s, n);

		if (len == 0)
			return false;
		s += len;
		n -= len;
	}
	return true;
}

size_t utf8_encode(uint32_t cp, char out[UTF8_MAX_SEQUENCE])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t utf8_count_chars(const char *s)
{
	size_t chars = 0;

	for (; *s; s++)
		chars += !is_continuation((unsigned char)*s);
	return chars;
}

size_t utf8_truncate(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	/* s[max] is the first byte cut off: while it continues a character, that character goes too */
	while (max > 0 && is_continuation((unsigned char)s[max]))
		max--;
	return max;
}
