/* SPDX-License-Identifier: MIT */
/*
 * Instruction offset -> line number, for the three line-table formats:
 * co_lnotab (3.8/3.9), co_linetable pairs (3.10, Objects/lnotab_notes.txt),
 * the location table (3.11+, Objects/locations.md). Every read is bounded by
 * the table length; a malformed table just ends the search.
 */
#include "python/py_layout.h"

#include <limits.h>

#define NO_LINE (-1)

/* Lines are summed in 64 bits and kept this small, so a hostile table or co_firstlineno
 * (both read from the target) cannot overflow; the caller rejects anything beyond INT_MAX. */
#define LINE_LIMIT (INT64_C(1) << 40)

static int64_t add_line(int64_t line, int64_t delta)
{
	line += delta;
	return line > LINE_LIMIT ? LINE_LIMIT : line < -LINE_LIMIT ? -LINE_LIMIT : line;
}

/* 3.8/3.9: (byte delta u8, line delta i8) pairs; a line applies from its address on. */
static int64_t lnotab_line(const uint8_t *tab, size_t len, int firstlineno, int64_t off_bytes)
{
	int64_t addr = 0, line = firstlineno;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > off_bytes)
			break;
		line += (int8_t)tab[i + 1]; /* at most 2^20 steps of 128: no overflow */
	}
	return line;
}

/* 3.10: (byte length u8, line delta i8) pairs; delta -128 means the range has no line. */
static int64_t pairs_line(const uint8_t *tab, size_t len, int firstlineno, int64_t off_bytes)
{
	int64_t end = 0, line = firstlineno;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int64_t start = end;
		int8_t delta = (int8_t)tab[i + 1];

		end += tab[i];
		if (delta != -128)
			line += delta;
		if (start <= off_bytes && off_bytes < end)
			return delta == -128 ? NO_LINE : line;
	}
	return NO_LINE;
}

struct cursor {
	const uint8_t *p, *end;
};

/* 6-bit little-endian groups; 0x40 says another byte follows. Continuation bytes have bit 7 clear. */
static uint64_t read_varint(struct cursor *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end && !(*c->p & 0x80)) {
		uint8_t b = *c->p++;

		if (shift < 58)
			v |= (uint64_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64))
			break;
	}
	return v;
}

static int64_t read_svarint(struct cursor *c)
{
	uint64_t v = read_varint(c);

	return (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
}

enum location_code { LOC_SHORT_MAX = 9, LOC_ONE_LINE0 = 10, LOC_ONE_LINE2 = 12, LOC_NO_COLUMNS = 13,
		     LOC_LONG = 14, LOC_NONE = 15 };

/* 3.11+: entries of (code, length in code units) with a code-specific payload. */
static int64_t location_line(const uint8_t *tab, size_t len, int firstlineno, int64_t off_units)
{
	struct cursor c = { tab, tab + len };
	int64_t addr = 0, line = firstlineno;

	while (c.p < c.end) {
		uint8_t head = *c.p++;
		unsigned code = (head >> 3) & 15, units = (head & 7) + 1;

		if (!(head & 0x80))
			continue; /* out of sync: resynchronise on the next entry header */
		if (code == LOC_LONG || code == LOC_NO_COLUMNS)
			line = add_line(line, read_svarint(&c));
		else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2)
			line += code - LOC_ONE_LINE0;
		/* Column payloads (and the long form's end line / columns) don't matter for lines. */
		while (c.p < c.end && !(*c.p & 0x80))
			c.p++;
		if (addr <= off_units && off_units < addr + units)
			return code == LOC_NONE ? NO_LINE : line;
		addr += units;
	}
	return NO_LINE;
}

int py_linetable_line(uint32_t version_hex, enum py_lasti_kind kind, const uint8_t *tab, size_t len,
		      int firstlineno, int64_t lasti)
{
	unsigned minor = PY_MINOR(version_hex);
	int64_t off_bytes, line;

	if (lasti < 0 || lasti > UINT32_MAX || !tab) /* the walker reports a u32 */
		return firstlineno < 0 ? 0 : firstlineno;
	off_bytes = kind == PY_LASTI_BYTES ? lasti : lasti * 2;
	if (minor <= 9)
		line = lnotab_line(tab, len, firstlineno, off_bytes);
	else if (minor == 10)
		line = pairs_line(tab, len, firstlineno, off_bytes);
	else
		line = location_line(tab, len, firstlineno, off_bytes / 2);
	if (line < 0 || line > INT_MAX)
		line = firstlineno;
	return line < 0 ? 0 : (int)line;
}
