// SPDX-License-Identifier: MIT
#include "util/proc_stat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define PF_KTHREAD 0x00200000ul

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the comm field may hold spaces and parentheses: fields resume after the last ')' */
	char *p = strrchr(buf, ')');
	int ppid = 0;
	if (!p || sscanf(p + 1, " %c %d %*d %*d %*d %*d %lu", &out->state, &ppid, &out->flags) != 3)
		return -1;
	out->ppid = ppid;
	return 0;
}

bool proc_is_kernel_thread(pid_t pid)
{
	struct proc_stat st;
	return proc_stat_read(pid, &st) == 0 && (st.flags & PF_KTHREAD);
}

bool proc_is_alive(pid_t pid)
{
	struct proc_stat st;
	return proc_stat_read(pid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

/* The process a thread id belongs to (Tgid in /proc/TID/status), or 0. */
static pid_t proc_thread_group(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *f = fopen(path, "r");
	pid_t tgid = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int proc_check_target(pid_t *target)
{
	struct proc_stat st;
	pid_t pid = *target;
	pid_t tgid = proc_thread_group(pid);
	if (tgid > 0 && tgid != pid) {
		log_info("%d is a thread of process %d: profiling process %d", pid, tgid, tgid);
		*target = pid = tgid;
	}
	if (proc_stat_read(pid, &st) != 0) {
		log_error("no process with PID %d", pid);
		return -1;
	}
	if (st.flags & PF_KTHREAD) {
		log_error("PID %d is a kernel thread; bpfspy profiles user processes (use -a --kernel for kernel time)",
			  pid);
		return -1;
	}
	if (st.state == 'Z' || st.state == 'X') {
		log_error("PID %d is a zombie (it has exited; its parent has not reaped it): nothing to sample", pid);
		return -1;
	}
	return 0;
}

bool proc_descends_from(pid_t pid, const pid_t *ancestors, size_t n)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		for (size_t i = 0; i < n; i++)
			if (ancestors[i] == pid)
				return true;
		struct proc_stat st;
		if (proc_stat_read(pid, &st) != 0)
			return false;
		pid = st.ppid;
	}
	return false;
}

size_t proc_list_descendants(pid_t root, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	size_t n = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == root)
			continue;
		if (proc_descends_from((pid_t)pid, &root, 1))
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}
