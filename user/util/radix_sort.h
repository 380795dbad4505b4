/* SPDX-License-Identifier: MIT */
/*
 * A stable sort of records by a uint64_t field (symbol addresses): radix
 * passes over the key's bytes, skipping every byte that is the same in all
 * records (addresses of one file differ in three or four). qsort's merge sort
 * moved each 24-byte record with memcpy and was most of loading a symbol table.
 */
#ifndef BPFSPY_UTIL_RADIX_SORT_H
#define BPFSPY_UTIL_RADIX_SORT_H

#include <stddef.h>

/* Sorts count records, stride bytes apart, by the uint64_t at key_offset in each. 0, or -1 out of memory. */
int radix_sort_u64(void *records, size_t count, size_t stride, size_t key_offset);

/* The same over an array of struct type with the uint64_t member field. */
#define RADIX_SORT_U64(array, count, field) \
	radix_sort_u64((array), (count), sizeof(*(array)), offsetof(__typeof__(*(array)), field))

#endif
