/* SPDX-License-Identifier: MIT */
#ifndef BPFSPY_HEAP_PAGES_H
#define BPFSPY_HEAP_PAGES_H

#include <stdbool.h>

/*
 * Grows the heap in 8 MiB steps, keeps blocks up to 32 MiB on it, and asks
 * the kernel to back it with transparent huge pages (THP "madvise" mode,
 * Debian's default). Called first thing in main. Returns false when glibc's
 * allocator is not the one in use (sanitizers, valgrind) or the kernel
 * refused the advice: then nothing changed but the allocator's thresholds.
 */
bool heap_prefer_huge_pages(void);

#endif
