/* SPDX-License-Identifier: MIT */
#include "python/py_objects.h"

#include <stdlib.h>

/* Enough for the largest header a compact string has (≤3.11 free-threaded would be 0x58). */
#define UNICODE_HEADER_READ 0x40

char *py_read_string(const struct py_mem *mem, const struct py_target *t, uint64_t addr)
{
	struct py_unicode_layout layout = { .version_hex = t->version_hex, .free_threaded = t->free_threaded };
	uint8_t hdr[UNICODE_HEADER_READ], *data;
	uint64_t length, data_offset;
	unsigned kind;
	size_t out_cap;
	char *out;

	if (!addr || py_mem_read(mem, addr, hdr, sizeof(hdr)) < 0 ||
	    py_unicode_header(&layout, hdr, sizeof(hdr), &length, &kind, &data_offset) < 0)
		return NULL;
	if (length > PY_STRING_MAX_CHARS)
		length = PY_STRING_MAX_CHARS;
	data = malloc(length * kind + 1);
	out_cap = length * 4 + 1;
	out = malloc(out_cap);
	if (!data || !out || py_mem_read(mem, addr + data_offset, data, length * kind) < 0 ||
	    py_unicode_to_utf8(kind, data, length, out, out_cap) < 0) {
		free(data);
		free(out);
		return NULL;
	}
	free(data);
	return out;
}

int py_read_bytes(const struct py_mem *mem, const struct py_target *t, uint64_t addr, uint8_t **data,
		  size_t *len)
{
	uint64_t size;
	uint8_t *buf;

	if (!addr || py_mem_read_u64(mem, addr + t->obj.bytes_size, &size) < 0 || size > PY_LINETABLE_MAX)
		return -1;
	buf = malloc(size ? size : 1);
	if (!buf || py_mem_read(mem, addr + t->obj.bytes_data, buf, size) < 0) {
		free(buf);
		return -1;
	}
	*data = buf;
	*len = size;
	return 0;
}
