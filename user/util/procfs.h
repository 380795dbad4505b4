/* SPDX-License-Identifier: MIT */
/*
 * Reading /proc: the one place that knows its paths and file formats. Its
 * files report st_size 0, so they are read to EOF; a process or thread can
 * go away between any two reads, so every reader reports "gone" instead of
 * failing loudly.
 */
#ifndef BPFSPY_UTIL_PROCFS_H
#define BPFSPY_UTIL_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads path entirely, at most max_size bytes, NUL-terminated. NULL with errno set (EFBIG if larger). */
char *procfs_read_whole(const char *path, size_t max_size, size_t *len);

/*
 * Reads the first size-1 bytes of path into buf, NUL-terminated: enough for
 * the one-line files (comm, stat). Returns the length, or -1 (buf is "").
 */
ssize_t procfs_read_small(const char *path, char *buf, size_t size);

/*
 * A process's or thread's file: /proc/PID/NAME when tid is 0, else
 * /proc/PID/task/TID/NAME. Returns snprintf's count (>= size: truncated).
 */
int procfs_path(char *buf, size_t size, pid_t pid, pid_t tid, const char *name);

/* Opens /proc/PID/NAME (tid 0) or /proc/PID/task/TID/NAME read-only; an fd or -1. */
int procfs_open(pid_t pid, pid_t tid, const char *name);

/* A malloc'd copy of size bytes at addr in pid's memory (/proc/PID/mem), or NULL. */
void *procfs_read_mem(pid_t pid, uint64_t addr, size_t size);

/*
 * The name of process pid (tid 0) or of its thread tid, without the newline.
 * Returns 0, or -1 with out "" if it is gone.
 */
int procfs_comm(pid_t pid, pid_t tid, char *out, size_t size);

/*
 * The command line of pid, its arguments separated by spaces (truncated to
 * size-1 bytes). Returns the length: 0 with out "" for a kernel thread, a
 * zombie or a process that is gone.
 */
size_t procfs_cmdline(pid_t pid, char *out, size_t size);

/*
 * The stat line of pid (tid 0) or of its thread tid, read into buf; returns
 * where its fields resume after "(comm) ", i.e. at the state letter, or NULL
 * if it is gone. The comm may hold spaces and parentheses, so the fields are
 * found after the last ')'.
 */
const char *procfs_stat_fields(pid_t pid, pid_t tid, char *buf, size_t size);

/* The state letter ('R', 'S', 'Z', ...) of pid (tid 0) or of its thread tid, or 0 if it is gone. */
char procfs_state(pid_t pid, pid_t tid);

/*
 * The value of the "NAME:" line of /proc/PID/status (tid 0) or of
 * /proc/PID/task/TID/status, without leading white space and the newline.
 * Returns 0, or -1 (out "") if it is gone or has no such line.
 */
int procfs_status_field(pid_t pid, pid_t tid, const char *name, char *out, size_t size);

/* Calls fn(ctx, pid) for every process in /proc, in /proc order; stops early when fn returns nonzero. */
void procfs_for_each_pid(int (*fn)(void *ctx, pid_t pid), void *ctx);

/* How many threads pid has (entries of /proc/PID/task), 0 if it is gone. */
unsigned procfs_count_threads(pid_t pid);

/*
 * Appends to out[*n..max) the children of every thread of pid
 * (/proc/PID/task/TID/children) that out does not hold yet. Returns -1 if
 * this kernel keeps no such list (CONFIG_PROC_CHILDREN), else 0 (nothing
 * appended for a process that is gone).
 */
int procfs_append_children(pid_t pid, pid_t *out, size_t *n, size_t max);

#endif
