// SPDX-License-Identifier: MIT
/*
 * util/heap_pages: once advised, the heap is one mapping the kernel may back
 * with huge pages (VmFlags "hg"), and a large block comes from it rather than
 * from an mmap of its own. Skipped where glibc's allocator is not in use
 * (valgrind, sanitizers) or the kernel has transparent huge pages off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/heap_pages.h"

static bool thp_enabled(void)
{
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return false;
	bool ok = fgets(mode, sizeof(mode), f) && !strstr(mode, "[never]");
	fclose(f);
	return ok;
}

/* The VmFlags line of the mapping that holds addr, from /proc/self/smaps. */
static bool vm_flags_of(uintptr_t addr, char *flags, size_t len)
{
	char line[512];
	bool inside = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			inside = addr >= start && addr < end;
		} else if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%.*s", (int)(len - 1), line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void test_large_blocks_come_from_an_advised_heap(void **state)
{
	(void)state;
	if (!thp_enabled())
		skip();
	if (!heap_prefer_huge_pages())
		skip(); /* a replacement allocator: nothing was changed */
	char *block = malloc(1 << 20); /* above glibc's default mmap threshold (128 KiB) */
	assert_non_null(block);
	uintptr_t top = (uintptr_t)sbrk(0);
	assert_true((uintptr_t)block < top);
	char flags[512];
	assert_true(vm_flags_of((uintptr_t)block, flags, sizeof(flags)));
	assert_non_null(strstr(flags, " hg"));
	char brk_flags[512];
	assert_true(vm_flags_of(top - 1, brk_flags, sizeof(brk_flags))); /* one mapping: the heap */
	assert_string_equal(flags, brk_flags);
	free(block);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_blocks_come_from_an_advised_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
