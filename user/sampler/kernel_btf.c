// SPDX-License-Identifier: MIT
#include "sampler/kernel_btf.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sampler/kernel_identity.h"

extern const char kernel_btf_min[], kernel_btf_min_end[];
extern const char kernel_btf_min_kernel[], kernel_btf_min_kernel_end[];

int kernel_btf_min_open(char *path, size_t path_size)
{
	size_t btf_size = (size_t)(kernel_btf_min_end - kernel_btf_min);
	size_t id_size = (size_t)(kernel_btf_min_kernel_end - kernel_btf_min_kernel);
	char id[sizeof(((struct utsname *)0)->release) + 192];
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
