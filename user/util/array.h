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

#endif
