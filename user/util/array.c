// SPDX-License-Identifier: MIT
#include "util/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int array_reserve(void **items, size_t *cap, size_t need, size_t item_size)
{
	if (need <= *cap)
		return 0;
	size_t new_cap = *cap ? *cap : 16;

	while (new_cap < need) {
		if (new_cap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		new_cap *= 2;
	}
	void *grown = reallocarray(*items, new_cap, item_size);

	if (!grown) {
		errno = ENOMEM;
		return -1;
	}
	/* the new part is about to be filled: mapped in one call (array_populate) rather than a fault a page */
	array_populate((char *)grown + *cap * item_size, (new_cap - *cap) * item_size);
	*items = grown;
	*cap = new_cap;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define POPULATE_MIN_BYTES (64u << 10)

void array_populate(void *items, size_t bytes)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)items + page - 1) & ~(page - 1), end = ((uintptr_t)items + bytes) & ~(page - 1);

	if (!items || bytes < POPULATE_MIN_BYTES || end <= start)
		return;
	int saved = errno;
	madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	errno = saved;
}
