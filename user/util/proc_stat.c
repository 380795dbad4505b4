// SPDX-License-Identifier: MIT
#include "util/proc_stat.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/procfs.h"

#define PF_KTHREAD 0x00200000ul

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char buf[1024];
	const char *fields = procfs_stat_fields(pid, 0, buf, sizeof(buf));
	int ppid = 0;
	if (!fields || sscanf(fields, "%c %d %*d %*d %*d %*d %lu", &out->state, &ppid, &out->flags) != 3)
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
	char value[32];
	if (procfs_status_field(tid, 0, "Tgid", value, sizeof(value)) != 0)
		return 0;
	return (pid_t)strtol(value, NULL, 10);
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

struct descendants {
	pid_t root;
	pid_t *out;
	size_t n, max;
};

static int add_if_descendant(void *ctx, pid_t pid)
{
	struct descendants *d = ctx;
	if (pid != d->root && proc_descends_from(pid, &d->root, 1))
		d->out[d->n++] = pid;
	return d->n == d->max;
}

size_t proc_list_descendants(pid_t root, pid_t *out, size_t max)
{
	size_t n = 0;
	if (max == 0)
		return 0;
	/* from the root down: a few reads for a small tree, instead of one or more per process on the host */
	if (procfs_append_children(root, out, &n, max) == 0) {
		for (size_t i = 0; i < n && n < max; i++)
			procfs_append_children(out[i], out, &n, max);
		return n;
	}
	struct descendants d = { .root = root, .out = out, .max = max };
	procfs_for_each_pid(add_if_descendant, &d);
	return d.n;
}
