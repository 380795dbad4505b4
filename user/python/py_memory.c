/* SPDX-License-Identifier: MIT */
#include "python/py_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

void py_mem_open(struct py_mem *m, pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	m->pid = pid;
	m->overlay = NULL;
	m->noverlay = 0;
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
}

void py_mem_close(struct py_mem *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

static int read_vm(const struct py_mem *m, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);

	return n == (ssize_t)len ? 0 : -1;
}

static bool read_overlay(const struct py_mem *m, uint64_t addr, void *buf, size_t len)
{
	for (size_t i = 0; i < m->noverlay; i++) {
		const struct py_mem_region *r = &m->overlay[i];
		if (r->addr && addr >= r->addr && len <= r->len && addr - r->addr <= r->len - len) {
			memcpy(buf, r->bytes + (addr - r->addr), len);
			return true;
		}
	}
	return false;
}

int py_mem_read(const struct py_mem *m, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	if (len == 0)
		return 0;
	if (read_overlay(m, addr, buf, len))
		return 0;
	/* A null page or a kernel address is never valid user data. */
	if (addr < 4096 || addr + len < addr || addr + len > 0x0000800000000000ull)
		return -1;
	if (m->fd < 0)
		return read_vm(m, addr, buf, len);
	while (done < len) {
		ssize_t n = pread(m->fd, (char *)buf + done, len - done, (off_t)(addr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int py_mem_read_u64(const struct py_mem *m, uint64_t addr, uint64_t *out)
{
	return py_mem_read(m, addr, out, sizeof(*out));
}
