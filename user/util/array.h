/* SPDX-License-Identifier: MIT */
/* Growable arrays: the one place that doubles a capacity and reallocates. */
#ifndef BPFSPY_UTIL_ARRAY_H
#define BPFSPY_UTIL_ARRAY_H

#include <stddef.h>

/*
 * Grows *items (of item_size bytes each, *cap of them) so that it holds at
 * least need, doubling from 16. Returns 0, or -1 with errno ENOMEM (the
 * array is then unchanged).
 */
int array_reserve(void **items, size_t *cap, size_t need, size_t item_size);

/*
 * Maps the pages of a fresh allocation that is about to be written in full,
 * in one call: a page fault per page costs ten times as much (measured on a
 * VM: 13.6 us a fault, 1.2 us a page populated). Best effort (kernels before
 * 5.14 lack MADV_POPULATE_WRITE); small blocks are left alone.
 */
void array_populate(void *items, size_t bytes);

#endif
