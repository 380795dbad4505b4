// SPDX-License-Identifier: MIT
/*
 * bpfspy's start-up writes a few MB of fresh memory: unwind rows, symbol
 * arrays, the BPF object's buffers. A 4 KiB page written for the first time
 * costs a page fault, and under a hypervisor that shadows the guest's page
 * tables a fault is slow: on the CI VM, 4 MB written page by page took
 * 11.5 ms, and 0.2 ms in 2 MiB transparent huge pages. So the heap grows in
 * one 8 MiB step that is advised to use huge pages, and large blocks stay on
 * it instead of getting mmaps of their own (4 KiB pages again). The price is
 * resident memory in 2 MiB steps: ~7 MB of heap where it was ~2 MB.
 */
#include "util/heap_pages.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE_BYTES (2u << 20)
#define HEAP_STEP_BYTES (8 << 20)      /* each time the heap grows */
#define HEAP_MMAP_THRESHOLD (32 << 20) /* larger blocks still get an mmap (and go back at free) */

bool heap_prefer_huge_pages(void)
{
	int saved = errno;
	bool advised = false;

	if (!mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD) || !mallopt(M_TOP_PAD, HEAP_STEP_BYTES) ||
	    !mallopt(M_TRIM_THRESHOLD, 2 * HEAP_STEP_BYTES))
		goto out;
	/*
	 * Only the 2 MiB-aligned parts of the heap can be huge pages, and the
	 * heap's first allocations (the recorder's tables) would land in its
	 * unaligned head, page by page. So an unused heap starts one page before
	 * a boundary: that page takes what glibc writes while the heap grows
	 * (before the advice below; a range with a small page already in it is
	 * not made a huge page), and the rest is in whole huge pages. The
	 * skipped addresses are never touched.
	 */
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), brk_now = (uintptr_t)sbrk(0);
	uintptr_t skip = (HUGE_PAGE_BYTES - (brk_now + page) % HUGE_PAGE_BYTES) % HUGE_PAGE_BYTES;
	if (mallinfo2().arena == 0 && brk_now != (uintptr_t)-1 && skip)
		sbrk((intptr_t)skip);
	/* larger than any free space the heap may have yet: it grows now, by the block and a step (volatile: the
	 * compiler keeps the call) */
	void *volatile first = malloc(HEAP_STEP_BYTES / 2);
	uintptr_t top = (uintptr_t)sbrk(0), size = mallinfo2().arena; /* the main arena: the heap, from its start */
	/* a replacement allocator (valgrind's) answers mallopt but does not allocate from the heap */
	bool on_heap = first && top != (uintptr_t)-1 && size <= top && (uintptr_t)first >= top - size &&
		       (uintptr_t)first < top;
	free(first);
	advised = on_heap && madvise((void *)(top - size), size, MADV_HUGEPAGE) == 0;
out:
	errno = saved;
	return advised;
}
