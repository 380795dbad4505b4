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
};

/* Fills image from elf (which must outlive it); returns the number of CFI sections found. */
size_t cfi_image_load(struct cfi_image *image, Elf *elf);

/* Copies length bytes at vaddr from the file's allocated sections; false if not all there. */
bool cfi_image_read(Elf *elf, uint64_t vaddr, void *out, size_t length);

#endif
