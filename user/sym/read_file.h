/* SPDX-License-Identifier: MIT */
/* Whole-file reads of /proc files, whose st_size is 0 so the size is only known at EOF. */
#ifndef BPFSPY_SYM_READ_FILE_H
#define BPFSPY_SYM_READ_FILE_H

#include <stddef.h>

/* Reads path entirely, at most max_size bytes, NUL-terminated. NULL with errno set (EFBIG if larger). */
char *read_whole_file(const char *path, size_t max_size, size_t *len);

#endif
