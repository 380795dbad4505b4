/* SPDX-License-Identifier: MIT */
/* The fs_base and user registers of every thread of a process, read with a BPF task iterator. */
#ifndef BPFSPY_DUMP_FSBASE_H
#define BPFSPY_DUMP_FSBASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct thread_fsbase {
	pid_t tid;
	uint64_t fsbase; /* pthread_self() of the thread on x86-64 glibc */
	/* user registers where the thread last entered the kernel; valid unless on_cpu */
	uint64_t ip, sp, bp;
	bool on_cpu;     /* running on another CPU as we looked: the registers are stale */
};

/*
 * Fills out[0..*n) (at most cap entries) with pid's threads. Returns 0, or -1
 * with one line in err (BPF unavailable, iterator not supported).
 */
int dump_read_fsbases(pid_t pid, struct thread_fsbase *out, size_t cap, size_t *n, char *err, size_t errlen);

#endif
