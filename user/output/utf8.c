// SPDX-License-Identifier: MIT
#include "output/utf8.h"

#include <stdbool.h>

static bool in_range(unsigned char c, unsigned char lo, unsigned char hi)
{
	return c >= lo && c <= hi;
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
		if (!in_range(s[i], 0x80, 0xBF))
			return 0;
	return len;
}
