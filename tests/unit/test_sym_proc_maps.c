// SPDX-License-Identifier: MIT
/* /proc/PID/maps parsing: every odd line shape the kernel prints, and a live process. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "sym/native_symbols.h"
#include <valgrind/valgrind.h>

static void test_file_mapping(void **state)
{
	(void)state;
	struct proc_map m;
	assert_int_equal(proc_maps_parse_line("7f2c4a21c000-7f2c4a244000 r-xp 00028000 fd:01 2097171"
					      "                    /usr/lib/x86_64-linux-gnu/libc.so.6\n", &m), 0);
	assert_int_equal(m.start, 0x7f2c4a21c000ull);
	assert_int_equal(m.end, 0x7f2c4a244000ull);
	assert_int_equal(m.offset, 0x28000);
	assert_int_equal(m.dev_major, 0xfd);
	assert_int_equal(m.dev_minor, 1);
	assert_int_equal(m.inode, 2097171);
	assert_true(m.readable && !m.writable && m.executable && !m.shared);
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_false(m.deleted);
	free(m.path);
}

static void test_path_with_spaces_and_deleted(void **state)
{
	(void)state;
	struct proc_map m;
	assert_int_equal(proc_maps_parse_line("55d0c0a00000-55d0c0a01000 rw-s 00000000 00:05 18446744073709551615 "
					      "   /tmp/my dir/lib with spaces.so (deleted)", &m), 0);
	assert_string_equal(m.path, "/tmp/my dir/lib with spaces.so");
	assert_true(m.deleted);
	assert_true(m.shared && m.writable && !m.executable);
	assert_int_equal(m.inode, UINT64_MAX);
	free(m.path);

	assert_int_equal(proc_maps_parse_line("1000-2000 r--p 00000000 08:01 5 /a b  c ", &m), 0);
	assert_string_equal(m.path, "/a b  c "); /* inner and trailing spaces are part of the name */
	assert_false(m.deleted);
	free(m.path);
}

static void test_pseudo_and_anonymous_mappings(void **state)
{
	(void)state;
	struct proc_map m;
	assert_int_equal(proc_maps_parse_line("7ffd5a1f3000-7ffd5a1f5000 r-xp 00000000 00:00 0                          [vdso]", &m), 0);
	assert_string_equal(m.path, "[vdso]");
	assert_int_equal(m.inode, 0);
	free(m.path);
	assert_int_equal(proc_maps_parse_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n", &m), 0);
	assert_int_equal(m.start, 0xffffffffff600000ull);
	assert_string_equal(m.path, "[vsyscall]");
	assert_false(m.readable);
	assert_true(m.executable);
	free(m.path);
	assert_int_equal(proc_maps_parse_line("7f2c4a000000-7f2c4a021000 rw-p 00000000 00:00 0 \n", &m), 0);
	assert_null(m.path);
	assert_int_equal(proc_maps_parse_line("7f2c4a000000-7f2c4a021000 rw-p 00000000 00:00 0", &m), 0);
	assert_null(m.path);
}

static void test_malformed_lines(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"\n",
		"garbage",
		"1000-2000",
		"1000 2000 r-xp 00000000 08:01 5 /x",
		"1000-2000 rxp 00000000 08:01 5 /x",
		"1000-2000 r-xq 00000000 08:01 5 /x",
		"1000-2000 r-xp 00000000 0801 5 /x",
		"1000-2000 r-xp 00000000 08:01 /x",
		"1000-2000 r-xp zz 08:01 5 /x",
		"2000-1000 r-xp 00000000 08:01 5 /x",                /* end before start */
		"10000000000000000-10000000000000001 r-xp 0 0:0 0", /* 17 hex digits */
		"1000-2000 r-xp 00000000 08:01 18446744073709551616 /x", /* inode overflows 64 bits */
		"1000-2000 r-xp 00000000 08:01 5x /x",
		"1000-2000 r-xp 00000000 08:01 5 /x\n1000-2000 r-xp 00000000 08:01 5 /y",
		"-2000 r-xp 00000000 08:01 5 /x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proc_map m;
		if (proc_maps_parse_line(bad[i], &m) != -1)
			fail_msg("accepted malformed line %zu: \"%s\"", i, bad[i]);
		assert_null(m.path);
	}
	assert_int_equal(proc_maps_parse_line(NULL, &(struct proc_map){ 0 }), -1);
}

static void test_buffer_skips_bad_lines_and_sorts(void **state)
{
	(void)state;
	static const char text[] =
		"3000-4000 r-xp 00000000 08:01 7 /lib/b.so\n"
		"this line is not a mapping\n"
		"1000-2000 r-xp 00000000 08:01 5 /bin/a\n"
		"\n"
		"5000-6000 rw-p 00000000 00:00 0\n"
		"7000-8000 r-xp 00000000 00:00 0 [vdso]"; /* no final newline */
	struct proc_maps *maps = proc_maps_parse_buffer(text, sizeof(text) - 1);
	assert_non_null(maps);
	assert_int_equal(maps->n, 4);
	assert_int_equal(maps->maps[0].start, 0x1000);
	assert_string_equal(maps->maps[1].path, "/lib/b.so");
	assert_null(maps->maps[2].path);
	assert_string_equal(maps->maps[3].path, "[vdso]");
	assert_ptr_equal(proc_maps_find(maps, 0x1000), &maps->maps[0]);
	assert_ptr_equal(proc_maps_find(maps, 0x1fff), &maps->maps[0]);
	assert_null(proc_maps_find(maps, 0x2000));
	assert_null(proc_maps_find(maps, 0xfff));
	assert_ptr_equal(proc_maps_find(maps, 0x7fff), &maps->maps[3]);
	assert_null(proc_maps_find(maps, 0x8000));
	proc_maps_free(maps);

	/* the length bounds the parse: the text after it is not read */
	maps = proc_maps_parse_buffer(text, 42);
	assert_non_null(maps);
	assert_int_equal(maps->n, 1);
	assert_string_equal(maps->maps[0].path, "/lib/b.so");
	proc_maps_free(maps);

	maps = proc_maps_parse_buffer("", 0);
	assert_non_null(maps);
	assert_int_equal(maps->n, 0);
	assert_null(proc_maps_find(maps, 0));
	proc_maps_free(maps);
}

__attribute__((noinline)) static int local_function(int x)
{
	return x + 1;
}

static void test_live_process(void **state)
{
	(void)state;
	struct proc_maps *maps = proc_maps_read(getpid());
	assert_non_null(maps);
	assert_true(maps->n > 5);
	for (size_t i = 1; i < maps->n; i++)
		assert_true(maps->maps[i - 1].end <= maps->maps[i].start);

	/* our own code lies in an executable mapping of our executable file */
	const struct proc_map *m = proc_maps_find(maps, (uint64_t)(uintptr_t)&local_function);
	assert_non_null(m);
	assert_true(m->executable);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_non_null(m->path);
	assert_string_equal(m->path, exe);
	struct stat st;
	assert_int_equal(stat(exe, &st), 0);
	assert_int_equal(m->inode, st.st_ino);
	assert_int_equal(makedev(m->dev_major, m->dev_minor), st.st_dev);

	/* the heap and the stack are where the kernel says */
	int on_stack = local_function(1);
	m = proc_maps_find(maps, (uint64_t)(uintptr_t)&on_stack);
	assert_non_null(m);
	if (!RUNNING_ON_VALGRIND) /* valgrind gives its client an anonymous stack mapping */
		assert_string_equal(m->path, "[stack]");
	proc_maps_free(maps);
}

static void test_missing_process(void **state)
{
	(void)state;
	errno = 0;
	assert_null(proc_maps_read(INT_MAX));
	assert_true(errno == ENOENT || errno == ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_mapping),
		cmocka_unit_test(test_path_with_spaces_and_deleted),
		cmocka_unit_test(test_pseudo_and_anonymous_mappings),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_buffer_skips_bad_lines_and_sorts),
		cmocka_unit_test(test_live_process),
		cmocka_unit_test(test_missing_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
