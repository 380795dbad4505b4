// SPDX-License-Identifier: MIT
#include "sym/elf_reader.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

/* A section may inflate to at most this: bounds memory on hostile input. */
#define MAX_INFLATED_SECTION (512ull << 20)
/* zlib cannot expand data by more than about 1032:1. */
#define MAX_DEFLATE_RATIO 1032ull

static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;
static bool libelf_ready;

static void libelf_init(void)
{
	libelf_ready = elf_version(EV_CURRENT) != EV_NONE;
}

static bool range_inside(uint64_t offset, uint64_t size, uint64_t file_size)
{
	return offset <= file_size && size <= file_size - offset;
}

static bool headers_inside(Elf *elf, uint64_t file_size)
{
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh))
		return false;
	size_t phnum, shnum;
	if (elf_getphdrnum(elf, &phnum) != 0 || elf_getshdrnum(elf, &shnum) != 0)
		return false;
	if (phnum && !range_inside(eh.e_phoff, (uint64_t)phnum * eh.e_phentsize, file_size))
		return false;
	/*
	 * libelf quietly reports no sections when the section header table lies
	 * beyond the end: the ELF header's own count tells a truncated file.
	 */
	uint64_t declared = eh.e_shnum ? eh.e_shnum : (eh.e_shoff ? 1 : 0);
	if (shnum > declared)
		declared = shnum;
	if (declared && !range_inside(eh.e_shoff, declared * eh.e_shentsize, file_size))
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			return false;
		if (ph.p_type == PT_LOAD && !range_inside(ph.p_offset, ph.p_filesz, file_size))
			return false;
	}
	return true;
}

static Elf *checked(Elf *elf, uint64_t file_size)
{
	if (elf && elf_kind(elf) == ELF_K_ELF && headers_inside(elf, file_size))
		return elf;
	if (elf)
		elf_end(elf);
	errno = ENOEXEC;
	return NULL;
}

Elf *elf_reader_open_fd(int fd)
{
	pthread_once(&libelf_once, libelf_init);
	struct stat st;
	if (!libelf_ready || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errno = ENOEXEC;
		return NULL;
	}
	/* ELF_C_READ, not MMAP: a file truncated under us then fails a read instead of raising SIGBUS. */
	return checked(elf_begin(fd, ELF_C_READ, NULL), (uint64_t)st.st_size);
}

Elf *elf_reader_open_mem(char *image, size_t size)
{
	pthread_once(&libelf_once, libelf_init);
	if (!libelf_ready || !image) {
		errno = ENOEXEC;
		return NULL;
	}
	return checked(elf_memory(image, size), size);
}

static bool inflate_compressed(Elf_Scn *scn, const GElf_Shdr *sh)
{
	GElf_Chdr ch;
	if (!gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB)
		return false;
	if (ch.ch_size > MAX_INFLATED_SECTION || ch.ch_size / MAX_DEFLATE_RATIO > sh->sh_size)
		return false;
	return elf_compress(scn, 0, 0) >= 0;
}

/* Legacy GNU format: "ZLIB", 8-byte big-endian size, zlib stream. */
static bool inflate_zdebug(Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *raw = elf_rawdata(scn, NULL);
	if (!raw || !raw->d_buf || raw->d_size < 12 || memcmp(raw->d_buf, "ZLIB", 4) != 0)
		return true; /* not actually compressed: use as is */
	const unsigned char *p = (const unsigned char *)raw->d_buf + 4;
	uint64_t size = 0;
	for (int i = 0; i < 8; i++)
		size = size << 8 | p[i];
	if (size > MAX_INFLATED_SECTION || size / MAX_DEFLATE_RATIO > sh->sh_size)
		return false;
	return elf_compress_gnu(scn, 0, 0) >= 0;
}

Elf_Data *elf_reader_section_data(Elf *elf, Elf_Scn *scn)
{
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
		return NULL;
	if (sh.sh_flags & SHF_COMPRESSED) {
		if (!inflate_compressed(scn, &sh))
			return NULL;
	} else {
		size_t shstrndx;
		const char *name = NULL;
		if (elf_getshdrstrndx(elf, &shstrndx) == 0)
			name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strncmp(name, ".zdebug", 7) == 0 && !inflate_zdebug(scn, &sh))
			return NULL;
	}
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || (!d->d_buf && d->d_size))
		return NULL;
	return d;
}

Elf_Scn *elf_reader_find_section(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		if (!gelf_getshdr(scn, shdr))
			return NULL;
		const char *n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

const char *elf_reader_string(const Elf_Data *strtab, size_t offset)
{
	if (!strtab || !strtab->d_buf || offset >= strtab->d_size)
		return NULL;
	const char *s = (const char *)strtab->d_buf + offset;
	return memchr(s, '\0', strtab->d_size - offset) ? s : NULL;
}

static bool build_id_from_notes(Elf_Data *d, char out[ELF_BUILD_ID_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off, next;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0 &&
		    nh.n_descsz > 0 && nh.n_descsz <= ELF_BUILD_ID_MAX) {
			const unsigned char *id = (const unsigned char *)d->d_buf + desc_off;
			for (size_t i = 0; i < nh.n_descsz; i++) {
				out[2 * i] = hex[id[i] >> 4];
				out[2 * i + 1] = hex[id[i] & 15];
			}
			out[2 * nh.n_descsz] = '\0';
			return true;
		}
		off = next;
	}
	return false;
}

bool elf_reader_build_id(Elf *elf, char out[ELF_BUILD_ID_HEX_SIZE])
{
	out[0] = '\0';
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (d && d->d_buf && build_id_from_notes(d, out))
			return true;
	}
	/* No section headers (e.g. a stripped-by-sstrip file): try the PT_NOTE segments. */
	size_t phnum;
	if (elf_getphdrnum(elf, &phnum) != 0)
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (d && d->d_buf && build_id_from_notes(d, out))
			return true;
	}
	return false;
}
