/* SPDX-License-Identifier: MIT */
/* Bounded reads of another process's memory (/proc/PID/mem, else process_vm_readv). */
#ifndef BPFSPY_PY_MEMORY_H
#define BPFSPY_PY_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes of the target captured earlier (by the BPF walker), served before the live process. */
struct py_mem_region {
	uint64_t addr;
	const uint8_t *bytes;
	size_t len;
};

struct py_mem {
	pid_t pid;
	int fd; /* /proc/PID/mem, or -1 to use process_vm_readv */
	const struct py_mem_region *overlay;
	size_t noverlay;
};

/* Always succeeds in giving a usable handle; reads fail later if the process is gone. */
void py_mem_open(struct py_mem *m, pid_t pid);
void py_mem_close(struct py_mem *m);
/* Reads exactly len bytes at addr. Returns 0, or -1 on a short or failed read. */
int py_mem_read(const struct py_mem *m, uint64_t addr, void *buf, size_t len);
int py_mem_read_u64(const struct py_mem *m, uint64_t addr, uint64_t *out);
/*
 * Reads len bytes at each of n addresses into out (n * len bytes) with as few
 * system calls as possible (process_vm_readv, 1024 addresses a call), so the
 * bytes are as close to one moment as a running target allows. Returns 0 or -1.
 */
int py_mem_read_many(const struct py_mem *m, const uint64_t *addrs, size_t n, size_t len, void *out);

/* One piece of a gathered read: len bytes at addr into buf. */
struct py_mem_span {
	uint64_t addr;
	void *buf;
	size_t len;
};
/* py_mem_read_many with a length and a destination per address. */
int py_mem_read_spans(const struct py_mem *m, const struct py_mem_span *spans, size_t n);

#endif
