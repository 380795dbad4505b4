/* SPDX-License-Identifier: MIT */
/*
 * The binary search over records sorted by a uint64_t field (addresses,
 * timestamps) that symbol tables, maps, unwind tables and the profile's runs
 * all do. Inline: several callers are on the per-frame path.
 */
#ifndef BPFSPY_UTIL_SORTED_H
#define BPFSPY_UTIL_SORTED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * How many of the count records (stride bytes apart, sorted by the uint64_t
 * at key_offset in each) have a key at or below key: the index of the first
 * record whose key is above it.
 */
static inline size_t sorted_count_at_or_below(const void *records, size_t count, size_t stride, size_t key_offset,
					      uint64_t key)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t have;

		memcpy(&have, (const char *)records + mid * stride + key_offset, sizeof(have));
		if (have <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The same over an array of struct type with the uint64_t member field. */
#define SORTED_COUNT_AT_OR_BELOW(array, count, field, key) \
	sorted_count_at_or_below((array), (count), sizeof(*(array)), offsetof(__typeof__(*(array)), field), (key))

#endif
