// SPDX-License-Identifier: MIT
#include "output/json_string.h"

#include <stdbool.h>
#include <string.h>

#include "util/utf8.h"

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

static void write_escape(FILE *f, unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", f); break;
	case '\\': fputs("\\\\", f); break;
	case '\b': fputs("\\b", f); break;
	case '\f': fputs("\\f", f); break;
	case '\n': fputs("\\n", f); break;
	case '\r': fputs("\\r", f); break;
	case '\t': fputs("\\t", f); break;
	default: fprintf(f, "\\u%04x", c); break;
	}
}

int json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	putc('"', f);
	while (n) {
		/* copy the longest stretch of plain ASCII in one call */
		size_t plain = 0;

		while (plain < n && !needs_escape(p[plain]))
			plain++;
		fwrite(p, 1, plain, f);
		p += plain;
		n -= plain;
		if (!n)
			break;
		if (*p < 0x80) {
			write_escape(f, *p);
			p++;
			n--;
			continue;
		}
		size_t len = utf8_sequence_length(p, n);

		if (len) {
			fwrite(p, 1, len, f);
		} else {
			fputs(UTF8_REPLACEMENT, f);
			len = 1;
		}
		p += len;
		n -= len;
	}
	putc('"', f);
	return ferror(f) ? -1 : 0;
}
