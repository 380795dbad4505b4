// SPDX-License-Identifier: MIT
#include "sampler/kernel_btf.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

extern const char kernel_btf_min[], kernel_btf_min_end[];
extern const char kernel_btf_min_kernel[], kernel_btf_min_kernel_end[];

#define KERNEL_BTF_PATH "/sys/kernel/btf/vmlinux"

int kernel_btf_identity(char *out, size_t size)
{
	struct utsname u;
	int fd = open(KERNEL_BTF_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	static unsigned char buf[1 << 16];
	uLong crc = crc32(0, Z_NULL, 0);
	long long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		crc = crc32(crc, buf, (uInt)n);
		total += n;
	}
	close(fd);
	if (n < 0 || uname(&u) != 0)
		return -1;
	int len = snprintf(out, size, "%s\n%lld\n%lu\n", u.release, total, (unsigned long)crc);
	return len > 0 && (size_t)len < size ? 0 : -1;
}

int kernel_btf_min_open(char *path, size_t path_size)
{
	size_t btf_size = (size_t)(kernel_btf_min_end - kernel_btf_min);
	size_t id_size = (size_t)(kernel_btf_min_kernel_end - kernel_btf_min_kernel);
	char id[sizeof(((struct utsname *)0)->release) + 64];
	if (!btf_size || !id_size || kernel_btf_identity(id, sizeof(id)) != 0 || strlen(id) != id_size ||
	    memcmp(id, kernel_btf_min_kernel, id_size) != 0)
		return -1;
	int fd = memfd_create("bpfspy-kernel-btf", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	int n = snprintf(path, path_size, "/proc/self/fd/%d", fd);
	if (n <= 0 || (size_t)n >= path_size || write(fd, kernel_btf_min, btf_size) != (ssize_t)btf_size) {
		close(fd);
		return -1;
	}
	return fd;
}
