// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: PyUnicodeObject decoding (user/python/py_unicode.c).
 * Input: one byte (minor version in the low 7 bits, free-threaded in bit 7),
 * then the raw memory of a str object, header and characters, as bpfspy
 * reads it from a process (py_objects.c reads a 0x40-byte header, then
 * length * kind bytes at the data offset the header gives).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/py_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_READ 0x40 /* UNICODE_HEADER_READ in py_objects.c */
#define SMALL_OUT 7      /* forces truncation inside multi-byte characters */

static void check_utf8(unsigned kind, const uint8_t *chars, uint64_t length, size_t outlen)
{
	char *out = malloc(outlen);
	int n;

	if (!out)
		return;
	n = py_unicode_to_utf8(kind, chars, length, out, outlen);
	if (n >= 0 && ((size_t)n >= outlen || out[n] != '\0'))
		__builtin_trap(); /* within outlen and NUL-terminated */
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t length, data_offset;
	unsigned kind;

	if (size < 1)
		return 0;
	struct py_unicode_layout layout = {
		.version_hex = 0x030000f0u | (uint32_t)(data[0] & 0x7f) << 16,
		.free_threaded = data[0] >> 7,
	};
	const uint8_t *obj = data + 1;
	size_t objlen = size - 1;

	if (py_unicode_header(&layout, obj, objlen < HEADER_READ ? objlen : HEADER_READ, &length, &kind,
			      &data_offset) < 0)
		return 0;
	if (kind != 1 && kind != 2 && kind != 4)
		__builtin_trap();
	/* the characters present in the input; a longer claimed length would be a failed read */
	uint64_t avail = data_offset < objlen ? (objlen - data_offset) / kind : 0;
	if (length > avail)
		length = avail;
	const uint8_t *chars = obj + (data_offset < objlen ? data_offset : objlen);
	check_utf8(kind, chars, length, length * 4 + 1);
	check_utf8(kind, chars, length, SMALL_OUT);
	check_utf8(kind, chars, length, 1);
	return 0;
}
