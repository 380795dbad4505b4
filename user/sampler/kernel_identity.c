// SPDX-License-Identifier: MIT
#include "sampler/kernel_identity.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define KERNEL_BTF_PATH "/sys/kernel/btf/vmlinux"
#define KERNEL_NOTES_PATH "/sys/kernel/notes"
#define NT_GNU_BUILD_ID_TYPE 3
#define BUILD_ID_MAX_BYTES 64

static uint32_t u32_at(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The GNU build ID note among the kernel's notes, as lowercase hex. */
static int kernel_build_id(char *hex, size_t size)
{
	unsigned char notes[4096];
	int fd = open(KERNEL_NOTES_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, notes, sizeof(notes));
	close(fd);
	for (size_t at = 0; n > 0 && at + 12 <= (size_t)n;) {
		uint32_t namesz = u32_at(notes + at), descsz = u32_at(notes + at + 4), type = u32_at(notes + at + 8);
		size_t name = at + 12, desc = name + ((namesz + 3ull) & ~3ull), next = desc + ((descsz + 3ull) & ~3ull);
		if (namesz > sizeof(notes) || descsz > sizeof(notes) || next > (size_t)n)
			break;
		if (type == NT_GNU_BUILD_ID_TYPE && namesz == 4 && memcmp(notes + name, "GNU", 4) == 0 && descsz &&
		    descsz <= BUILD_ID_MAX_BYTES && size > 2 * (size_t)descsz) {
			for (uint32_t i = 0; i < descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", notes[desc + i]);
			return 0;
		}
		at = next;
	}
	return -1;
}

int kernel_btf_identity(char *out, size_t size)
{
	struct utsname u;
	struct stat st;
	char build_id[2 * BUILD_ID_MAX_BYTES + 1];
	if (stat(KERNEL_BTF_PATH, &st) != 0 || kernel_build_id(build_id, sizeof(build_id)) != 0 || uname(&u) != 0)
		return -1;
	int len = snprintf(out, size, "%s\n%lld\n%s\n", u.release, (long long)st.st_size, build_id);
	return len > 0 && (size_t)len < size ? 0 : -1;
}
