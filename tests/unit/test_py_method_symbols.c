// SPDX-License-Identifier: MIT
/*
 * Names of a stripped CPython's static C functions from its method tables.
 * The oracle is a CPython that is not stripped: pyenv's libpython has a
 * .symtab, so every function the scanner names can be checked against the
 * C name nm gives at that address. Debian's python3 (stripped) must name the
 * functions the --native acceptance needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/pyenv_path.h"
#include "helpers/sym_test_util.h"
#include "python/py_method_symbols.h"
#include "sym/elf_reader.h"
#include "sym/native_symbols.h"
#include "unwind/cfi_image.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"
#define MAX_NM 40000

struct scanned {
	uint64_t start, size;
	char name[256];
};

struct scan_result {
	struct scanned *items;
	size_t n, cap;
};

static int collect(void *ctx, uint64_t start, uint64_t size, const char *name)
{
	struct scan_result *r = ctx;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->items = realloc(r->items, r->cap * sizeof(*r->items));
		assert_non_null(r->items);
	}
	struct scanned *s = &r->items[r->n++];
	s->start = start;
	s->size = size;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

static long scan_file(const char *path, struct scan_result *r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *elf = elf_reader_open_fd(fd);
	assert_non_null(elf);
	long n = py_method_symbols_scan(elf, collect, r);
	elf_end(elf);
	close(fd);
	return n;
}

static const struct scanned *find(const struct scan_result *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	return NULL;
}

static const struct sym_test_nm_symbol *nm_at(const struct sym_test_nm_symbol *syms, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (syms[i].addr == addr && (syms[i].type == 't' || syms[i].type == 'T'))
			return &syms[i];
	return NULL;
}

/* Python name -> the C function it must land on, in every CPython 3.8-3.15. */
static const struct {
	const char *python, *c;
} known[] = {
	{ "builtins.sum", "builtin_sum" },
	{ "builtins.sorted", "builtin_sorted" },
	{ "builtins.len", "builtin_len" },
	{ "list.sort", "list_sort" },
	{ "list.append", "list_append" },
	{ "map.__next__", "map_next" },
	{ "dict.get", "dict_get" },
};

static void check_against_symtab(const char *libpython)
{
	static struct sym_test_nm_symbol syms[MAX_NM];
	struct scan_result r = { 0 };
	long named = scan_file(libpython, &r);
	size_t nsyms = sym_test_nm(libpython, false, "", syms, MAX_NM);
	assert_true(nsyms > 1000);
	assert_true(named > 1000);
	assert_int_equal((size_t)named, r.n);

	/* every name lands on a real function start with the symbol's size */
	size_t on_function = 0, same_size = 0;
	for (size_t i = 0; i < r.n; i++) {
		const struct sym_test_nm_symbol *s = nm_at(syms, nsyms, r.items[i].start);
		on_function += s != NULL;
		same_size += s && s->size == r.items[i].size;
	}
	printf("  %s: %zu functions named, %zu on a .symtab function start, %zu with its size\n", libpython, r.n,
	       on_function, same_size);
	assert_int_equal(on_function, r.n);
	assert_true(same_size >= r.n * 99 / 100);

	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		const struct scanned *s = find(&r, known[k].python);
		if (!s)
			fail_msg("%s: %s not named", libpython, known[k].python);
		const struct sym_test_nm_symbol *c = nm_at(syms, nsyms, s->start);
		assert_non_null(c);
		/* gcc may suffix a specialized copy: list_sort.lto_priv.0, builtin_sum.cold is a separate part */
		if (strncmp(c->name, known[k].c, strlen(known[k].c)) != 0)
			fail_msg("%s: %s is at %s, not %s", libpython, known[k].python, c->name, known[k].c);
	}
	free(r.items);
}

static void test_matches_symtab_of_unstripped_builds(void **state)
{
	const char *builds[] = {
		pyenv_find("3.8", "lib/libpython3.8.so.1.0"),
		pyenv_find("3.11", "lib/libpython3.11.so.1.0"),
		pyenv_find("3.13", "lib/libpython3.13.so.1.0"),
	};
	size_t checked = 0;
	for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		if (!builds[i] || access(builds[i], R_OK) != 0) {
			printf("  skipped %s: not installed\n", builds[i] ? builds[i] : "a pyenv build");
			continue;
		}
		check_against_symtab(builds[i]);
		checked++;
	}
	if (!checked)
		skip();
}

/*
 * Debian's python3 is stripped: the loaded symbol table names its addresses
 * with the scan's names, with exact extents (the scan runs on the first lookup
 * by address; finding a symbol by name never needs it).
 */
static void test_names_stripped_debian_python(void **state)
{
	struct scan_result r = { 0 };
	assert_true(scan_file(DEBIAN_PYTHON, &r) > 0);
	struct elf_symbols *s = elf_symbols_load_named(DEBIAN_PYTHON, NULL, &py_method_names);
	assert_non_null(s);
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		uint64_t off;
		const struct scanned *m = find(&r, known[k].python);
		if (!m)
			fail_msg("%s not named in %s", known[k].python, DEBIAN_PYTHON);
		uint64_t addr = m->start, size = m->size;
		assert_true(size > 0);
		const char *inside = elf_symbols_lookup(s, addr + size - 1, &off);
		assert_non_null(inside);
		assert_string_equal(inside, known[k].python);
		/* the byte after the function is not attributed to it */
		const char *after = elf_symbols_lookup(s, addr + size, &off);
		assert_true(after == NULL || strcmp(after, known[k].python) != 0);
	}
	/* exported functions keep their own names */
	uint64_t addr, size, off;
	assert_true(elf_symbols_find(s, "PyObject_Call", &addr, &size));
	assert_string_equal(elf_symbols_lookup(s, addr, &off), "PyObject_Call");
	elf_symbols_free(s);
	free(r.items);
}

/*
 * Loaded through a process's /proc/PID/root (a process in a container), the
 * scan's names still come once that process is gone: the same path from
 * here holds the same build.
 */
static void test_names_after_the_first_process_is_gone(void **state)
{
	struct scan_result r = { 0 };
	assert_true(scan_file(DEBIAN_PYTHON, &r) > 0);
	const struct scanned *m = find(&r, known[0].python);
	assert_non_null(m);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root", (int)child);
	struct elf_symbols *s = elf_symbols_load_named(DEBIAN_PYTHON, root, &py_method_names);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_non_null(s);
	uint64_t off;
	const char *name = elf_symbols_lookup(s, m->start, &off); /* the scan runs now */
	assert_non_null(name);
	assert_string_equal(name, known[0].python);
	elf_symbols_free(s);
	free(r.items);
}

static long candidates_of(const char *path, uint64_t **ranges, struct cfi_fde_index_entry **fdes, size_t *nfdes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *elf = elf_reader_open_fd(fd);
	assert_non_null(elf);
	long n = py_method_symbols_candidates(elf, ranges);
	if (fdes) {
		struct cfi_image cfi;
		cfi_image_load(&cfi, elf);
		*nfdes = cfi_image_fde_index(&cfi, fdes);
	}
	elf_end(elf);
	close(fd);
	return n;
}

static bool in_ranges(const uint64_t *ranges, long n, uint64_t addr)
{
	for (long i = 0; i < n; i++)
		if (addr >= ranges[2 * i] && addr < ranges[2 * i + 1])
			return true;
	return false;
}

/*
 * The candidates hold every function the scan names (so a lookup outside them
 * may skip it) and far fewer than all functions (so skipping it is worth it):
 * stripped Debian python3 (absolute pointers) and pyenv's shared libpythons
 * (relocations).
 */
static void test_candidates_hold_every_scanned_function(void **state)
{
	const char *files[] = {
		DEBIAN_PYTHON,
		pyenv_find("3.8", "lib/libpython3.8.so.1.0"),
		pyenv_find("3.13", "lib/libpython3.13.so.1.0"),
	};
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		if (!files[f] || access(files[f], R_OK) != 0)
			continue;
		struct scan_result r = { 0 };
		uint64_t *ranges = NULL;
		struct cfi_fde_index_entry *fdes = NULL;
		size_t nfdes = 0;
		assert_true(scan_file(files[f], &r) > 100);
		long n = candidates_of(files[f], &ranges, &fdes, &nfdes);
		assert_true(n > 0);
		for (long i = 0; i < n; i++) {
			assert_true(ranges[2 * i] < ranges[2 * i + 1]);
			assert_true(i == 0 || ranges[2 * i - 1] <= ranges[2 * i]);
		}
		for (size_t i = 0; i < r.n; i++)
			if (!in_ranges(ranges, n, r.items[i].start) || !in_ranges(ranges, n, r.items[i].start + r.items[i].size - 1))
				fail_msg("%s: %s at 0x%llx is outside every candidate", files[f], r.items[i].name,
					 (unsigned long long)r.items[i].start);
		printf("  %s: %zu named, %ld candidates of %zu functions\n", files[f], r.n, n, nfdes);
		assert_true((size_t)n < nfdes * 3 / 4);
		free(ranges);
		free(fdes);
		free(r.items);
	}
}

/*
 * A lookup the file's own symbols do not answer runs the scan only when the
 * address may be one of its functions: the interpreter's start-up and eval
 * plumbing, on every stack, cost no scan. Answers are the same either way.
 */
static void test_scan_runs_only_for_a_candidate(void **state)
{
	uint64_t *ranges = NULL;
	struct cfi_fde_index_entry *fdes = NULL;
	size_t nfdes = 0;
	long n = candidates_of(DEBIAN_PYTHON, &ranges, &fdes, &nfdes);
	assert_true(n > 0 && nfdes > 0);
	struct elf_symbols *s = elf_symbols_load_named(DEBIAN_PYTHON, NULL, &py_method_names);
	assert_non_null(s);
	size_t before = elf_symbols_function_count(s);
	/* a function the file does not name and no pointer reaches */
	uint64_t plain = 0, off;
	for (size_t i = 0; i < nfdes && !plain; i++)
		if (!in_ranges(ranges, n, fdes[i].pc) && !elf_symbols_lookup(s, fdes[i].pc, &off))
			plain = fdes[i].pc;
	assert_true(plain != 0);
	assert_int_equal(elf_symbols_function_count(s), before);

	struct scan_result r = { 0 };
	assert_true(scan_file(DEBIAN_PYTHON, &r) > 0);
	const struct scanned *m = find(&r, known[0].python);
	assert_non_null(m);
	const char *name = elf_symbols_lookup(s, m->start, &off); /* the scan runs now */
	assert_non_null(name);
	assert_string_equal(name, known[0].python);
	assert_true(elf_symbols_function_count(s) > before);
	assert_null(elf_symbols_lookup(s, plain, &off));
	elf_symbols_free(s);
	free(r.items);
	free(ranges);
	free(fdes);
}

static void test_not_python_names_nothing(void **state)
{
	struct scan_result r = { 0 };
	assert_int_equal(scan_file("/bin/true", &r), 0);
	assert_int_equal(r.n, 0);
	uint64_t *ranges = NULL;
	assert_int_equal(candidates_of("/bin/true", &ranges, NULL, NULL), 0);
	free(r.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_symtab_of_unstripped_builds),
		cmocka_unit_test(test_names_stripped_debian_python),
		cmocka_unit_test(test_names_after_the_first_process_is_gone),
		cmocka_unit_test(test_candidates_hold_every_scanned_function),
		cmocka_unit_test(test_scan_runs_only_for_a_candidate),
		cmocka_unit_test(test_not_python_names_nothing),
	};
	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
