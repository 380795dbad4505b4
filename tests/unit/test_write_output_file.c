// SPDX-License-Identifier: MIT
/* output_file: atomic replace, cleanup on failure, and clear errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/output_file.h"

struct tmp_dir {
	char path[256];
};

static int make_dir(void **state)
{
	struct tmp_dir *d = calloc(1, sizeof(*d));
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(d->path, sizeof(d->path), "%s/bpfspy-output-file-XXXXXX", base);
	if (!mkdtemp(d->path))
		return -1;
	*state = d;
	return 0;
}

static void empty_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(dir), e->d_name, 0);
	closedir(dir);
}

static int remove_dir(void **state)
{
	struct tmp_dir *d = *state;

	umount2(d->path, MNT_DETACH); /* in case a test mounted a tmpfs there */
	empty_dir(d->path);
	rmdir(d->path);
	free(d);
	return 0;
}

static int count_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dir);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void assert_file_is(const char *path, const char *text)
{
	char buf[256] = { 0 };
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) < sizeof(buf) - 1);
	fclose(f);
	assert_string_equal(buf, text);
}

static struct output_file *open_in(const struct tmp_dir *d, const char *name, char *path, size_t len,
				   char *err, size_t errlen)
{
	snprintf(path, len, "%s/%s", d->path, name);
	return output_file_open(path, err, errlen);
}

static void test_commit_creates_file_with_umask_mode(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";
	struct stat st;
	mode_t old = umask(027);
	struct output_file *of = open_in(d, "out.json", path, sizeof(path), err, sizeof(err));

	umask(old);
	assert_non_null(of);
	/* until commit the data lives in a temporary, not under the final name */
	fputs("hello\n", output_file_stream(of));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	assert_file_is(path, "hello\n");
	assert_int_equal(count_entries(d->path), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640); /* 0644 & ~027 */
}

static void test_commit_replaces_existing_file(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/out.txt", d->path);
	write_file(path, "old\n");
	struct output_file *of = open_in(d, "out.txt", path, sizeof(path), err, sizeof(err));

	assert_non_null(of);
	fputs("new\n", output_file_stream(of));
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	assert_file_is(path, "new\n");
	assert_int_equal(count_entries(d->path), 1);
}

static void test_abort_leaves_nothing_and_keeps_old_file(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/out.txt", d->path);
	write_file(path, "old\n");
	struct output_file *of = open_in(d, "out.txt", path, sizeof(path), err, sizeof(err));

	assert_non_null(of);
	fputs("partial", output_file_stream(of));
	assert_int_equal(count_entries(d->path), 2);
	output_file_abort(of);
	assert_file_is(path, "old\n");
	assert_int_equal(count_entries(d->path), 1);
}

/* A symlink planted at the target is replaced by the file, never written through. */
static void test_symlink_at_target_is_replaced_not_followed(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], victim[512], err[256];
	struct stat st;

	snprintf(victim, sizeof(victim), "%s/victim", d->path);
	snprintf(path, sizeof(path), "%s/out.txt", d->path);
	write_file(victim, "precious\n");
	assert_int_equal(symlink(victim, path), 0);
	struct output_file *of = open_in(d, "out.txt", path, sizeof(path), err, sizeof(err));

	assert_non_null(of);
	fputs("profile\n", output_file_stream(of));
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	assert_file_is(victim, "precious\n");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file_is(path, "profile\n");
}

static void test_missing_directory_is_explained(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir/out.json", d->path);
	errno = 0;
	assert_null(output_file_open(path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, "/no/such/dir"));

	err[0] = '\0';
	assert_int_equal(output_path_check(path, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "does not exist"));
}

static void test_directory_as_target_is_refused(void **state)
{
	struct tmp_dir *d = *state;
	char err[256] = "";

	assert_int_equal(output_path_check(d->path, err, sizeof(err)), -1);
	assert_int_equal(errno, EISDIR);
	assert_non_null(strstr(err, "is a directory"));
	assert_int_equal(count_entries(d->path), 0);
}

static void test_path_check_leaves_no_trace(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/later.json", d->path);
	assert_int_equal(output_path_check(path, err, sizeof(err)), 0);
	assert_int_equal(count_entries(d->path), 0);
}

static bool mount_tmpfs(const char *dir, const char *options)
{
	return mount("tmpfs", dir, "tmpfs", 0, options) == 0;
}

static void test_read_only_directory(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";

	if (!mount_tmpfs(d->path, "size=64k") ||
	    mount(NULL, d->path, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
		skip(); /* needs root (CAP_SYS_ADMIN) */
	snprintf(path, sizeof(path), "%s/out.json", d->path);
	assert_int_equal(output_path_check(path, err, sizeof(err)), -1);
	assert_int_equal(errno, EROFS);
	assert_non_null(strstr(err, "read-only"));
}

/* Permission is checked by the kernel; as root, a child drops to nobody to see EACCES. */
static void test_unwritable_directory_for_unprivileged_user(void **state)
{
	struct tmp_dir *d = *state;
	char path[512];
	int status;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(d->path, 0755), 0);
	snprintf(path, sizeof(path), "%s/out.json", d->path);
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		char err[256] = "";

		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (output_path_check(path, err, sizeof(err)) != -1 || errno != EACCES)
			_exit(3);
		_exit(strstr(err, "no permission") ? 0 : 4);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_full_disk_fails_cleanly(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";
	static char chunk[4096];

	if (!mount_tmpfs(d->path, "size=64k"))
		skip();
	snprintf(path, sizeof(path), "%s/out.json", d->path);
	write_file(path, "old\n");
	struct output_file *of = open_in(d, "out.json", path, sizeof(path), err, sizeof(err));

	assert_non_null(of);
	memset(chunk, 'x', sizeof(chunk));
	/* 1 MB into a 64 KB file system; stdio may report the error only at commit */
	for (int i = 0; i < 256; i++)
		fwrite(chunk, 1, sizeof(chunk), output_file_stream(of));
	errno = 0;
	assert_int_equal(output_file_commit(of, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(err, "no space left"));
	assert_file_is(path, "old\n");
	assert_int_equal(count_entries(d->path), 1);
}

/* Under sudo (root with SUDO_UID/SUDO_GID), files are created as the invoking user. */
static void set_sudo_env(const char *uid, const char *gid)
{
	setenv("SUDO_UID", uid, 1);
	setenv("SUDO_GID", gid, 1);
}

static void clear_sudo_env(void)
{
	unsetenv("SUDO_UID");
	unsetenv("SUDO_GID");
}

static void test_file_belongs_to_invoking_user(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256];
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(d->path, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/mine.json", d->path);
	set_sudo_env("65534", "65534");
	struct output_file *of = output_file_open(path, err, sizeof(err));

	assert_non_null(of);
	fputs("{}", output_file_stream(of));
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	clear_sudo_env();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	/* and our own identity is root again */
	assert_int_equal(access("/root", W_OK), 0);
}

/* A root-owned directory refuses the invoking user, and an existing file there is untouched. */
static void test_invoking_user_cannot_write_root_directory(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(d->path, 0755), 0);
	snprintf(path, sizeof(path), "%s/root-file", d->path);
	write_file(path, "root's\n");
	set_sudo_env("65534", "65534");
	errno = 0;
	assert_int_equal(output_path_check(path, err, sizeof(err)), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(err, "no permission"));
	assert_null(output_file_open(path, err, sizeof(err)));
	clear_sudo_env();
	assert_file_is(path, "root's\n");
	assert_int_equal(count_entries(d->path), 1);
}

/* "-" and /dev/fd/N write to our descriptor in place, whatever it is (here a regular file). */
static void test_descriptor_targets_write_in_place(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], fdpath[64], err[256];

	snprintf(path, sizeof(path), "%s/redirected", d->path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	assert_true(output_path_is_stream(fdpath));
	assert_true(output_path_is_stream("-"));
	assert_true(output_path_is_stream("/dev/stdout"));
	assert_int_equal(output_path_check(fdpath, err, sizeof(err)), 0);
	struct output_file *of = output_file_open(fdpath, err, sizeof(err));
	assert_non_null(of);
	fputs("in place\n", output_file_stream(of));
	assert_int_equal(output_file_commit(of, err, sizeof(err)), 0);
	close(fd);
	assert_file_is(path, "in place\n");
	assert_int_equal(count_entries(d->path), 1); /* no temporary, no rename */
}

/* Nothing under /dev is created, replaced or reached through a symlink. */
static void test_dev_is_never_created_or_followed(void **state)
{
	char err[256] = "";

	errno = 0;
	assert_int_equal(output_path_check("/dev/bpfspy-test-no-such-file", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "never creates"));
	assert_null(output_file_open("/dev/bpfspy-test-no-such-file", err, sizeof(err)));
	assert_int_equal(access("/dev/bpfspy-test-no-such-file", F_OK), -1);
	/* /dev/core or /dev/fd are symlinks on most systems; any symlink under /dev is refused */
	struct stat st;
	if (lstat("/dev/core", &st) == 0 && S_ISLNK(st.st_mode)) {
		assert_int_equal(output_path_check("/dev/core", err, sizeof(err)), -1);
		assert_int_equal(errno, ELOOP);
	}
	/* a device is written in place */
	assert_int_equal(output_path_check("/dev/null", err, sizeof(err)), 0);
}

/* A FIFO nobody reads is an error at once, never a hang. */
static void test_fifo_without_reader_fails(void **state)
{
	struct tmp_dir *d = *state;
	char path[512], err[256] = "";

	snprintf(path, sizeof(path), "%s/fifo", d->path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(output_path_check(path, err, sizeof(err)), 0);
	errno = 0;
	assert_null(output_file_open(path, err, sizeof(err)));
	assert_int_equal(errno, ENXIO);
	assert_non_null(strstr(err, "no process is reading"));
}

/* /proc accepts no files: say so, not "directory /proc does not exist". */
static void test_kernel_file_system_is_explained(void **state)
{
	char err[256] = "";

	assert_int_equal(output_path_check("/proc/version", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kernel file system"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_creates_file_with_umask_mode, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_commit_replaces_existing_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing_and_keeps_old_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_symlink_at_target_is_replaced_not_followed, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_missing_directory_is_explained, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_directory_as_target_is_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_path_check_leaves_no_trace, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_read_only_directory, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_unwritable_directory_for_unprivileged_user, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_full_disk_fails_cleanly, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_file_belongs_to_invoking_user, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_invoking_user_cannot_write_root_directory, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_descriptor_targets_write_in_place, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_dev_is_never_created_or_followed, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_fifo_without_reader_fails, make_dir, remove_dir),
		cmocka_unit_test(test_kernel_file_system_is_explained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
