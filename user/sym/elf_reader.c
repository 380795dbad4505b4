// SPDX-License-Identifier: MIT
#include "sym/elf_reader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	elf_reader_close(elf);
	errno = ENOEXEC;
	return NULL;
}

/*
 * Files are mapped, not read: reading a section copies it into fresh memory,
 * and a page fault there costs more than the copy (a third of --native's
 * start went to faults on symbol and data sections read that way). A mapped
 * file truncated under us raises SIGBUS on a read past its new end: the
 * handler puts a page of zeros there, so the parsers see bad data, which
 * they survive, instead of bpfspy dying. Only inside the files mapped here;
 * any other SIGBUS goes to the handler that was there before.
 */
#define MAX_MAPPED_FILES 64

static struct mapped_file {
	_Atomic uintptr_t start, end;
} mapped_files[MAX_MAPPED_FILES];
static struct sigaction sigbus_before;
static uintptr_t page_size;

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
	uintptr_t at = (uintptr_t)info->si_addr;
	for (size_t i = 0; i < MAX_MAPPED_FILES; i++) {
		if (at >= atomic_load(&mapped_files[i].start) && at < atomic_load(&mapped_files[i].end)) {
			void *page = (void *)(at & ~(page_size - 1));
			if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
				return; /* the read is retried and sees zeros */
			break;
		}
	}
	/* not ours: as before (returning retries the access, which faults again under that action) */
	sigaction(SIGBUS, &sigbus_before, NULL);
	(void)sig;
	(void)uc;
}

/* At every open: a handler installed since (the terminal's restorer in top, a test harness) comes after ours. */
static void install_sigbus_handler(void)
{
	struct sigaction now, sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	if (sigaction(SIGBUS, NULL, &now) != 0 || ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_sigbus))
		return;
	struct sigaction before;
	page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
	sigemptyset(&sa.sa_mask);
	/* two threads racing here: the loser saw ours, which must not become the one to fall back to */
	if (sigaction(SIGBUS, &sa, &before) == 0 && !((before.sa_flags & SA_SIGINFO) && before.sa_sigaction == on_sigbus))
		sigbus_before = before;
}

static bool track_mapping(Elf *elf, bool add)
{
	size_t size = 0;
	char *image = elf_rawfile(elf, &size);
	uintptr_t start = (uintptr_t)image;
	if (!image || !size)
		return false;
	for (size_t i = 0; i < MAX_MAPPED_FILES; i++) {
		uintptr_t expected = add ? 0 : start;
		if (atomic_compare_exchange_strong(&mapped_files[i].start, &expected, add ? start : 0)) {
			atomic_store(&mapped_files[i].end, add ? start + size : 0);
			return true;
		}
	}
	return false;
}

Elf *elf_reader_open_fd(int fd)
{
	pthread_once(&libelf_once, libelf_init);
	struct stat st;
	if (!libelf_ready || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errno = ENOEXEC;
		return NULL;
	}
	install_sigbus_handler();
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	/* no slot left to guard it (or libelf read it instead of mapping it): read, as sections are needed */
	if (elf && !track_mapping(elf, true)) {
		elf_end(elf);
		elf = elf_begin(fd, ELF_C_READ, NULL);
	}
	return checked(elf, (uint64_t)st.st_size);
}

void elf_reader_close(Elf *elf)
{
	if (!elf)
		return;
	track_mapping(elf, false);
	elf_end(elf);
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
