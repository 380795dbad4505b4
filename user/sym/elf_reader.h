/* SPDX-License-Identifier: MIT */
/*
 * Checked access to ELF files through libelf: every helper here bounds what
 * it reads by the file (or buffer) size, because the files come from
 * arbitrary processes and may be truncated or corrupt.
 */
#ifndef BPFSPY_SYM_ELF_READER_H
#define BPFSPY_SYM_ELF_READER_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>

/* Build-ids are at most this many bytes here (GNU uses 20; longer ones are refused). */
#define ELF_BUILD_ID_MAX 64
#define ELF_BUILD_ID_HEX_SIZE (2 * ELF_BUILD_ID_MAX + 1)

/*
 * An ELF image opened for reading. NULL with errno = ENOEXEC if it is not ELF,
 * or if its program or section headers, or a PT_LOAD segment, lie beyond its
 * end (a truncated file).
 */
Elf *elf_reader_open_fd(int fd);
Elf *elf_reader_open_mem(char *image, size_t size);

/* Ends an image from either: always this, never elf_end (a mapped file is forgotten here). */
void elf_reader_close(Elf *elf);

/*
 * The contents of a section, inflated first if it is SHF_COMPRESSED or a
 * legacy ".zdebug" section. NULL for SHT_NOBITS, or on any error.
 */
Elf_Data *elf_reader_section_data(Elf *elf, Elf_Scn *scn);

/* The first section called name, or NULL. */
Elf_Scn *elf_reader_find_section(Elf *elf, const char *name, GElf_Shdr *shdr);

/* The NUL-terminated string at offset in a string table, or NULL if it runs off the end. */
const char *elf_reader_string(const Elf_Data *strtab, size_t offset);

/* The GNU build-id as lowercase hex into out; false if there is none. */
bool elf_reader_build_id(Elf *elf, char out[ELF_BUILD_ID_HEX_SIZE]);

#endif
