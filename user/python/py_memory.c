/* SPDX-License-Identifier: MIT */
#include "python/py_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/procfs.h"

void py_mem_open(struct py_mem *m, pid_t pid)
{
	m->pid = pid;
	m->overlay = NULL;
	m->noverlay = 0;
	m->fd = procfs_open(pid, 0, "mem");
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

#define READV_MAX 1024

static bool user_range(uint64_t a, size_t len)
{
	return a >= 4096 && a + len >= a && a + len <= 0x0000800000000000ull;
}

int py_mem_read_spans(const struct py_mem *m, const struct py_mem_span *spans, size_t n)
{
	struct iovec local[READV_MAX], remote[READV_MAX];

	for (size_t done = 0; done < n;) {
		size_t k = n - done < READV_MAX ? n - done : READV_MAX, total = 0;

		for (size_t i = 0; i < k; i++) {
			const struct py_mem_span *s = &spans[done + i];

			if (!user_range(s->addr, s->len))
				return -1;
			local[i] = (struct iovec){ .iov_base = s->buf, .iov_len = s->len };
			remote[i] = (struct iovec){ .iov_base = (void *)(uintptr_t)s->addr, .iov_len = s->len };
			total += s->len;
		}
		if (m->noverlay || process_vm_readv(m->pid, local, k, remote, k, 0) != (ssize_t)total) {
			/* no process_vm_readv (or a short read): one read per span */
			for (size_t i = 0; i < k; i++)
				if (py_mem_read(m, spans[done + i].addr, spans[done + i].buf, spans[done + i].len) < 0)
					return -1;
		}
		done += k;
	}
	return 0;
}

int py_mem_read_many(const struct py_mem *m, const uint64_t *addrs, size_t n, size_t len, void *out)
{
	struct py_mem_span *spans = malloc((n ? n : 1) * sizeof(*spans));
	uint8_t *dst = out;
	int r;

	if (!spans)
		return -1;
	for (size_t i = 0; i < n; i++)
		spans[i] = (struct py_mem_span){ addrs[i], dst + i * len, len };
	r = py_mem_read_spans(m, spans, n);
	free(spans);
	return r;
}
