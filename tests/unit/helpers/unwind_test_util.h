/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the unwinder tests: the test process's own executable mappings
 * with their unwind tables (from /proc/self/maps), and running tools.
 */
#ifndef BPFSPY_TESTS_UNWIND_TEST_UTIL_H
#define BPFSPY_TESTS_UNWIND_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "unwind/unwind.h"

#define UNWIND_TEST_MAX_MAPPINGS 64

struct unwind_test_process {
	struct unwind_mapping mappings[UNWIND_TEST_MAX_MAPPINGS];
	struct unwind_table *tables[UNWIND_TEST_MAX_MAPPINGS]; /* owned, one per mapping (NULL: none) */
	size_t count;
	struct unwind_address_space space;
	uint64_t stack_end; /* end of [stack] */
};

/* Reads /proc/self/maps and builds a table for each executable file mapping. 0 on success. */
int unwind_test_process_load(struct unwind_test_process *p);
void unwind_test_process_free(struct unwind_test_process *p);

/* Runs a shell command and returns its stdout (malloc'd), whatever its exit status; NULL if it could not run. */
char *unwind_test_capture_output(const char *command);
/* mkdtemp under /tmp; returns a malloc'd path or NULL. */
char *unwind_test_make_tmpdir(void);
void unwind_test_remove_tree(const char *dir);
int unwind_test_write_file(const char *path, const void *data, size_t size);
/* Reads a whole file (malloc'd); NULL on failure. */
void *unwind_test_read_file(const char *path, size_t *size);

#endif
