// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: CPython line tables (user/python/py_linetable.c) for
 * every format. Input: minor version (u8), lasti kind (u8), lasti (i64),
 * firstlineno (i32), then the table bytes; make_py_seeds.py writes real ones.
 * The table is looked up at the given lasti and at every offset it can
 * describe, as the symbolizer would for any frame of that code object.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python/py_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_SIZE 14
#define MAX_SWEEP 4096

static void check_line(uint32_t version_hex, enum py_lasti_kind kind, const uint8_t *tab, size_t len,
		       int firstlineno, int64_t lasti)
{
	int line = py_linetable_line(version_hex, kind, tab, len, firstlineno, lasti);

	if (line < 0)
		__builtin_trap(); /* documented: never < 0 */
	if ((lasti < 0 || !tab) && line != (firstlineno < 0 ? 0 : firstlineno))
		__builtin_trap(); /* no position: the first line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t lasti;
	int32_t firstlineno;

	if (size < HEADER_SIZE)
		return 0;
	uint32_t version_hex = 0x030000f0u | (uint32_t)(data[0] % 32) << 16;
	enum py_lasti_kind kind = (enum py_lasti_kind)(data[1] % 4);
	memcpy(&lasti, data + 2, sizeof(lasti));
	memcpy(&firstlineno, data + 10, sizeof(firstlineno));
	const uint8_t *tab = data + HEADER_SIZE;
	size_t len = size - HEADER_SIZE;

	check_line(version_hex, kind, tab, len, firstlineno, lasti);
	check_line(version_hex, kind, tab, len, firstlineno, py_lasti_widen((uint32_t)lasti));
	check_line(version_hex, kind, NULL, 0, firstlineno, lasti);
	check_line(version_hex, kind, tab, len, firstlineno, -1);
	/* every instruction the table could cover: each entry spans at most 8 units */
	for (int64_t i = 0; i < (int64_t)len * 8 && i < MAX_SWEEP; i++)
		check_line(version_hex, kind, tab, len, firstlineno, i);
	return 0;
}
