// SPDX-License-Identifier: MIT
#include "sym/elf_debug_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "sym/elf_reader.h"

static bool format_path(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < size;
}

static bool build_id_matches(int fd, const char *build_id)
{
	Elf *elf = elf_reader_open_fd(fd);
	if (!elf)
		return false;
	char found[ELF_BUILD_ID_HEX_SIZE];
	bool same = elf_reader_build_id(elf, found) && strcmp(found, build_id) == 0;
	elf_reader_close(elf);
	return same;
}

static int open_by_build_id(const char *root, const char *build_id)
{
	char path[PATH_MAX];
	if (strlen(build_id) < 3 ||
	    !format_path(path, sizeof(path), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, build_id, build_id + 2))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && !build_id_matches(fd, build_id)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool crc_matches(int fd, uint32_t expected)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	ssize_t n;
	off_t pos = 0;
	while ((n = pread(fd, buf, sizeof(buf), pos)) > 0) {
		crc = crc32(crc, buf, (uInt)n);
		pos += n;
	}
	return n == 0 && (uint32_t)crc == expected;
}

/* .gnu_debuglink: file name, NUL, padding to 4 bytes, CRC32 in the file's byte order. */
static bool read_debuglink(Elf *elf, char *name, size_t name_size, uint32_t *crc)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_reader_section_data(elf, elf_reader_find_section(elf, ".gnu_debuglink", &sh));
	if (!d || d->d_size < 8)
		return false;
	const unsigned char *p = d->d_buf;
	const unsigned char *nul = memchr(p, '\0', d->d_size);
	if (!nul || nul == p)
		return false;
	size_t len = (size_t)(nul - p);
	size_t crc_off = (len + 4) & ~(size_t)3;
	if (len >= name_size || crc_off + 4 > d->d_size || memchr(p, '/', len))
		return false;
	memcpy(name, p, len + 1);
	GElf_Ehdr eh;
	bool big = gelf_getehdr(elf, &eh) && eh.e_ident[EI_DATA] == ELFDATA2MSB;
	const unsigned char *c = p + crc_off;
	*crc = big ? (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]
		   : (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[1] << 8 | c[0];
	return true;
}

static int open_by_debuglink(Elf *elf, const char *logical_path, const char *root)
{
	char name[256];
	uint32_t crc;
	if (!logical_path || !read_debuglink(elf, name, sizeof(name), &crc))
		return -1;
	const char *slash = strrchr(logical_path, '/');
	int dir_len = slash ? (int)(slash - logical_path) : 0;
	if (!slash || logical_path[0] != '/')
		return -1;
	static const char *const patterns[] = { "%s%.*s/%s", "%s%.*s/.debug/%s", "%s/usr/lib/debug%.*s/%s" };
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		char path[PATH_MAX];
		if (!format_path(path, sizeof(path), patterns[i], root, dir_len, logical_path, name))
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (crc_matches(fd, crc))
			return fd;
		close(fd);
	}
	return -1;
}

int elf_debug_file_open(Elf *elf, const char *build_id, const char *logical_path, const char *root)
{
	const char *r = root ? root : "";
	int fd = -1;
	if (build_id && build_id[0]) {
		fd = open_by_build_id(r, build_id);
		/* A build-id names one exact build, so the host's debug files are safe to use too. */
		if (fd < 0 && r[0])
			fd = open_by_build_id("", build_id);
	}
	if (fd < 0)
		fd = open_by_debuglink(elf, logical_path, r);
	return fd;
}
