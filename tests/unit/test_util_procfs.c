// SPDX-License-Identifier: MIT
/* util/procfs on this test's own process: comm, cmdline, stat, status, the pid and thread lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/procfs.h"

static void test_comm_of_process_and_thread(void **state)
{
	(void)state;
	char comm[32];

	assert_int_equal(prctl(PR_SET_NAME, "procfs test"), 0); /* a space, as comm may hold */
	assert_int_equal(procfs_comm(getpid(), 0, comm, sizeof(comm)), 0);
	assert_string_equal(comm, "procfs test");
	assert_int_equal(procfs_comm(getpid(), gettid(), comm, sizeof(comm)), 0);
	assert_string_equal(comm, "procfs test");
	assert_int_equal(procfs_comm(getpid(), gettid(), comm, 5), 0); /* truncated, no newline */
	assert_string_equal(comm, "proc");
	assert_int_equal(procfs_comm(0x3fffffff, 0, comm, sizeof(comm)), -1);
	assert_string_equal(comm, "");
}

static void test_cmdline_joins_arguments(void **state)
{
	char cmdline[4096];
	const char *argv0 = *(const char **)*state;
	size_t n = procfs_cmdline(getpid(), cmdline, sizeof(cmdline));

	assert_int_equal(n, strlen(cmdline));
	assert_true(strncmp(cmdline, argv0, strlen(argv0)) == 0);
	assert_int_equal(procfs_cmdline(getpid(), cmdline, 4), 3);
	assert_int_equal(procfs_cmdline(0x3fffffff, cmdline, sizeof(cmdline)), 0);
	assert_string_equal(cmdline, "");
}

static void test_stat_state_and_status(void **state)
{
	(void)state;
	char buf[1024], value[64];
	const char *fields = procfs_stat_fields(getpid(), 0, buf, sizeof(buf));

	assert_non_null(fields);
	assert_int_equal(fields[0], 'R'); /* this process is running while it reads its own stat */
	assert_int_equal(procfs_state(getpid(), gettid()), 'R');
	assert_int_equal(procfs_state(0x3fffffff, 0), 0);
	assert_int_equal(procfs_status_field(getpid(), 0, "Tgid", value, sizeof(value)), 0);
	assert_int_equal(atoi(value), getpid());
	assert_int_equal(procfs_status_field(getpid(), 0, "NoSuchField", value, sizeof(value)), -1);
	assert_int_equal(procfs_status_field(getpid(), 0, "Tgi", value, sizeof(value)), -1); /* whole names only */
}

struct find_pid {
	pid_t want;
	int seen;
};

static int look_for_pid(void *ctx, pid_t pid)
{
	struct find_pid *f = ctx;

	f->seen++;
	return pid == f->want;
}

static void test_pid_list_and_threads(void **state)
{
	(void)state;
	struct find_pid f = { .want = getpid() };

	procfs_for_each_pid(look_for_pid, &f);
	assert_true(f.seen >= 1);
	assert_int_equal(procfs_count_threads(getpid()), 1);
	assert_int_equal(procfs_count_threads(0x3fffffff), 0);
}

static void test_read_whole_and_small(void **state)
{
	(void)state;
	size_t len = 0;
	char small[8];
	char *maps = procfs_read_whole("/proc/self/maps", 1 << 24, &len);

	assert_non_null(maps);
	assert_int_equal(strlen(maps), len);
	free(maps);
	assert_int_equal(procfs_read_small("/proc/self/maps", small, sizeof(small)), 7);
	assert_int_equal(procfs_read_small("/nonexistent", small, sizeof(small)), -1);
	assert_string_equal(small, "");
}

static const char *argv0;

int main(int argc, char **argv)
{
	(void)argc;
	argv0 = argv[0];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comm_of_process_and_thread),
		cmocka_unit_test_prestate(test_cmdline_joins_arguments, &argv0),
		cmocka_unit_test(test_stat_state_and_status),
		cmocka_unit_test(test_pid_list_and_threads),
		cmocka_unit_test(test_read_whole_and_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
