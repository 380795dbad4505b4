// SPDX-License-Identifier: MIT
#include "util/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

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
	*items = grown;
	*cap = new_cap;
	return 0;
}
