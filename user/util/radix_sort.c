// SPDX-License-Identifier: MIT
#include "util/radix_sort.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t key_at(const char *records, size_t i, size_t stride, size_t key_offset)
{
	uint64_t key;

	memcpy(&key, records + i * stride + key_offset, sizeof(key));
	return key;
}

int radix_sort_u64(void *records, size_t count, size_t stride, size_t key_offset)
{
	size_t counts[8][256] = { { 0 } };

	if (count < 2)
		return 0;
	for (size_t i = 0; i < count; i++) {
		uint64_t key = key_at(records, i, stride, key_offset);
		for (int byte = 0; byte < 8; byte++)
			counts[byte][(key >> (8 * byte)) & 0xff]++;
	}
	char *from = records, *to = NULL;
	for (int byte = 0; byte < 8; byte++) {
		size_t *c = counts[byte];
		if (c[(key_at(from, 0, stride, key_offset) >> (8 * byte)) & 0xff] == count)
			continue; /* every record has the same byte here */
		if (!to && !(to = malloc(count * stride))) {
			errno = ENOMEM;
			return -1;
		}
		size_t start = 0;
		for (int d = 0; d < 256; d++) {
			size_t n = c[d];
			c[d] = start;
			start += n;
		}
		for (size_t i = 0; i < count; i++) {
			unsigned d = (key_at(from, i, stride, key_offset) >> (8 * byte)) & 0xff;
			memcpy(to + c[d]++ * stride, from + i * stride, stride);
		}
		char *swap = from;
		from = to;
		to = swap;
	}
	if (from != records) {
		memcpy(records, from, count * stride);
		to = from;
	}
	free(to);
	return 0;
}
