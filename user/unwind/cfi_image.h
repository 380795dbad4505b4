/* SPDX-License-Identifier: MIT */
/*
 * The call-frame information of one ELF image: its .eh_frame and
 * .debug_frame, with what pointer decoding needs from the rest of the image
 * (the GOT base, reads of indirect pointers). Used by the unwind-table
 * builder and by anything that needs function boundaries of a stripped file.
 */
#ifndef BPFSPY_UNWIND_CFI_IMAGE_H
#define BPFSPY_UNWIND_CFI_IMAGE_H

#include <gelf.h>

#include "unwind/cfi_entries.h"

#define CFI_IMAGE_MAX_SECTIONS 2 /* .eh_frame, .debug_frame */

struct cfi_image {
	Elf *elf;
	struct cfi_section sections[CFI_IMAGE_MAX_SECTIONS]; /* .eh_frame first: it wins where both describe a pc */
	size_t section_count;
	const uint8_t *eh_frame_hdr; /* NULL if there is none */
	size_t eh_frame_hdr_size;
	uint64_t eh_frame_hdr_vaddr;
};

/* An entry of .eh_frame_hdr's search table: where a function starts, and its FDE's record in .eh_frame. */
struct cfi_fde_index_entry {
	uint64_t pc;
	size_t offset;
};

/* Fills image from elf (which must outlive it); returns the number of CFI sections found. */
size_t cfi_image_load(struct cfi_image *image, Elf *elf);

/*
 * The search table of .eh_frame_hdr, which the linker writes sorted by pc
 * for unwinders' binary search: every FDE of .eh_frame in address order
 * without walking the section or sorting. Only the layout GNU and LLVM
 * linkers write (version 1, table in datarel sdata4); entries whose record
 * lies outside .eh_frame are dropped. Returns the count with *entries
 * malloc'd, 0 if there is no such table (or out of memory).
 */
size_t cfi_image_fde_index(const struct cfi_image *image, struct cfi_fde_index_entry **entries);

/* The allocated section with file bytes holding [vaddr, vaddr + length), its header in *shdr; NULL if none. */
Elf_Scn *cfi_image_section_at(Elf *elf, uint64_t vaddr, uint64_t length, GElf_Shdr *shdr);

/* Copies length bytes at vaddr from the file's allocated sections; false if not all there. */
bool cfi_image_read(Elf *elf, uint64_t vaddr, void *out, size_t length);

#endif
