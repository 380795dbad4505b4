/* SPDX-License-Identifier: MIT */
/* What /proc/PID/stat says about a process, and the checks every command makes on a PID it is given. */
#ifndef BPFSPY_PROC_STAT_H
#define BPFSPY_PROC_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc_stat {
	char state;          /* 'R', 'S', 'D', 'Z', ... */
	pid_t ppid;
	unsigned long flags; /* PF_* */
};

/* Returns 0, or -1 if the process is gone or its stat line is unreadable. */
int proc_stat_read(pid_t pid, struct proc_stat *out);

bool proc_is_kernel_thread(pid_t pid);

/* The process exists and has not exited (a zombie has). */
bool proc_is_alive(pid_t pid);

/*
 * For a PID the user named: exists, is a user process, has not exited.
 * Prints one "bpfspy: ..." line and returns -1 if not. A thread id is
 * replaced by its process's id (with a note): samples are per process.
 */
int proc_check_target(pid_t *pid);

/* True if pid is one of ancestors or descends from one (following ppid up to 64 levels). */
bool proc_descends_from(pid_t pid, const pid_t *ancestors, size_t n);

/* The processes descending from root (not root itself), at most max, in /proc order. */
size_t proc_list_descendants(pid_t root, pid_t *out, size_t max);

#endif
