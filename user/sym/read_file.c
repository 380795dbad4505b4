// SPDX-License-Identifier: MIT
#include "sym/read_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

char *read_whole_file(const char *path, size_t max_size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap + 1);
	int err = 0;
	while (buf) {
		if (used == cap) {
			if (cap >= max_size) {
				err = EFBIG;
				break;
			}
			cap = cap * 2 < max_size ? cap * 2 : max_size;
			char *bigger = realloc(buf, cap + 1);
			if (!bigger) {
				err = ENOMEM;
				break;
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0) {
			close(fd);
			buf[used] = '\0';
			*len = used;
			return buf;
		}
		used += (size_t)n;
	}
	free(buf);
	close(fd);
	errno = err ? err : ENOMEM;
	return NULL;
}
