// SPDX-License-Identifier: MIT
#include "util/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Room for "/proc/PID/task/TID/" and a file name. */
#define PROCFS_PATH_MAX 96

char *procfs_read_whole(const char *path, size_t max_size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap + 1);
	int err = 0;
	while (buf) {
		if (used == cap) {
			if (cap >= max_size) {
				err = EFBIG;
				break;
			}
			cap = cap * 2 < max_size ? cap * 2 : max_size;
			char *bigger = realloc(buf, cap + 1);
			if (!bigger) {
				err = ENOMEM;
				break;
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0) {
			close(fd);
			buf[used] = '\0';
			*len = used;
			return buf;
		}
		used += (size_t)n;
	}
	free(buf);
	close(fd);
	errno = err ? err : ENOMEM;
	return NULL;
}

ssize_t procfs_read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	buf[0] = '\0';
	if (fd < 0)
		return -1;
	while (used < size - 1) {
		ssize_t n = read(fd, buf + used, size - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			buf[0] = '\0';
			errno = err;
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	return (ssize_t)used;
}

int procfs_path(char *buf, size_t size, pid_t pid, pid_t tid, const char *name)
{
	if (tid)
		return snprintf(buf, size, "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
	return snprintf(buf, size, "/proc/%d/%s", (int)pid, name);
}

/* Reads the small file name of pid/tid into buf; its length, or -1. */
static ssize_t read_task_file(pid_t pid, pid_t tid, const char *name, char *buf, size_t size)
{
	char path[PROCFS_PATH_MAX];

	procfs_path(path, sizeof(path), pid, tid, name);
	return procfs_read_small(path, buf, size);
}


int procfs_open(pid_t pid, pid_t tid, const char *name)
{
	char path[PROCFS_PATH_MAX];

	procfs_path(path, sizeof(path), pid, tid, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void *procfs_read_mem(pid_t pid, uint64_t addr, size_t size)
{
	int fd = procfs_open(pid, 0, "mem");
	char *copy = fd >= 0 ? malloc(size) : NULL;

	if (copy && pread(fd, copy, size, (off_t)addr) != (ssize_t)size) {
		free(copy);
		copy = NULL;
	}
	if (fd >= 0)
		close(fd);
	return copy;
}

int procfs_comm(pid_t pid, pid_t tid, char *out, size_t size)
{
	if (read_task_file(pid, tid, "comm", out, size) < 0)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

size_t procfs_cmdline(pid_t pid, char *out, size_t size)
{
	ssize_t got = read_task_file(pid, 0, "cmdline", out, size);
	size_t n = got > 0 ? (size_t)got : 0;

	while (n > 0 && out[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[n] = '\0';
	return n;
}

const char *procfs_stat_fields(pid_t pid, pid_t tid, char *buf, size_t size)
{
	if (read_task_file(pid, tid, "stat", buf, size) < 0)
		return NULL;
	const char *p = strrchr(buf, ')');

	return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

char procfs_state(pid_t pid, pid_t tid)
{
	char buf[512];
	const char *fields = procfs_stat_fields(pid, tid, buf, sizeof(buf));

	return fields ? fields[0] : 0;
}

int procfs_status_field(pid_t pid, pid_t tid, const char *name, char *out, size_t size)
{
	char path[PROCFS_PATH_MAX], line[512];
	size_t name_len = strlen(name);
	int rc = -1;

	out[0] = '\0';
	procfs_path(path, sizeof(path), pid, tid, "status");
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, name_len) != 0 || line[name_len] != ':')
			continue;
		const char *value = line + name_len + 1;

		value += strspn(value, " \t");
		snprintf(out, size, "%.*s", (int)strcspn(value, "\n"), value);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

void procfs_for_each_pid(int (*fn)(void *ctx, pid_t pid), void *ctx)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (fn(ctx, (pid_t)pid))
			break;
	}
	closedir(d);
}

unsigned procfs_count_threads(pid_t pid)
{
	char path[PROCFS_PATH_MAX];
	unsigned n = 0;
	struct dirent *de;

	procfs_path(path, sizeof(path), pid, 0, "task");
	DIR *d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool listed(const pid_t *out, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == pid)
			return true;
	return false;
}

struct children_list {
	pid_t *out;
	size_t *n, max;
};

static bool append_thread_children(struct children_list *c, pid_t pid, pid_t tid)
{
	char buf[4096], *end;
	if (read_task_file(pid, tid, "children", buf, sizeof(buf)) < 0)
		return false; /* the thread is gone */
	for (char *p = buf; *c->n < c->max; p = end) {
		long child = strtol(p, &end, 10);
		if (end == p)
			break;
		if (child > 0 && !listed(c->out, *c->n, (pid_t)child))
			c->out[(*c->n)++] = (pid_t)child;
	}
	return *c->n >= c->max;
}

int procfs_append_children(pid_t pid, pid_t *out, size_t *n, size_t max)
{
	static int kernel_lists = -1;
	if (kernel_lists < 0) {
		char path[PROCFS_PATH_MAX];
		procfs_path(path, sizeof(path), getpid(), gettid(), "children");
		kernel_lists = access(path, R_OK) == 0;
	}
	if (!kernel_lists)
		return -1;
	struct children_list list = { out, n, max };
	char path[PROCFS_PATH_MAX];
	procfs_path(path, sizeof(path), pid, 0, "task");
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		if (append_thread_children(&list, pid, (pid_t)tid))
			break;
	}
	if (d)
		closedir(d);
	return 0;
}
