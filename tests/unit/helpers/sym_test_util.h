/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the symbolization tests: building test binaries with cc at run
 * time, and reading expected values from independent tools (nm, readelf,
 * c++filt) rather than from the code under test.
 */
#ifndef BPFSPY_TESTS_SYM_TEST_UTIL_H
#define BPFSPY_TESTS_SYM_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs a shell command built from fmt; returns its exit status (or -1). */
int sym_test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command and returns its stdout (malloc'd, NUL-terminated), or NULL. */
char *sym_test_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes text to path; 0 on success. */
int sym_test_write_file(const char *path, const char *text);
/* A fresh directory under /tmp (malloc'd path), or NULL. */
char *sym_test_make_tmpdir(void);
void sym_test_remove_tree(const char *dir);

/*
 * A test child: path runs with a pipe on stdin (it exits when the pipe
 * closes) and prints naddrs hex addresses on stdout, read into addrs.
 */
struct sym_test_child {
	int pid;
	int stdin_fd;
};
void sym_test_child_start(const char *path, struct sym_test_child *c, uint64_t *addrs, size_t naddrs);
/* Closes its stdin and waits for a clean exit. */
void sym_test_child_stop(struct sym_test_child *c);

struct sym_test_nm_symbol {
	char name[256];
	char type;
	uint64_t addr, size;
};

/*
 * The defined symbols `nm -S` lists for file (dynamic: `nm -D`), whose names
 * start with prefix. Returns how many (at most max).
 */
size_t sym_test_nm(const char *file, bool dynamic, const char *prefix, struct sym_test_nm_symbol *out, size_t max);
/* The value and size of one symbol per nm, false if absent. */
bool sym_test_nm_find(const char *file, bool dynamic, const char *name, uint64_t *addr, uint64_t *size);
/* The build-id per `readelf -n`, lowercase hex; false if none. */
bool sym_test_readelf_build_id(const char *file, char *out, size_t size);

/* Compresses the named section of an ELF file in place (SHF_COMPRESSED, zlib) with libelf. 0 on success. */
int sym_test_compress_section(const char *path, const char *section);

#endif
