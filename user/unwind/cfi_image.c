// SPDX-License-Identifier: MIT
#include "unwind/cfi_image.h"

#include <string.h>

#include "sym/elf_reader.h"

static Elf_Scn *section_containing(Elf *elf, uint64_t vaddr, uint64_t length)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS || !(shdr.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr >= shdr.sh_addr && length <= shdr.sh_size && vaddr - shdr.sh_addr <= shdr.sh_size - length)
			return scn;
	}
	return NULL;
}

bool cfi_image_read(Elf *elf, uint64_t vaddr, void *out, size_t length)
{
	Elf_Scn *scn = section_containing(elf, vaddr, length);
	GElf_Shdr shdr;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &shdr) || !(data = elf_getdata(scn, NULL)) || !data->d_buf)
		return false;
	if (vaddr - shdr.sh_addr > data->d_size || length > data->d_size - (vaddr - shdr.sh_addr))
		return false;
	memcpy(out, (const uint8_t *)data->d_buf + (vaddr - shdr.sh_addr), length);
	return true;
}

static bool read_image_u64(void *elf, uint64_t vaddr, uint64_t *out)
{
	return cfi_image_read(elf, vaddr, out, sizeof(*out));
}

static bool load_section(struct cfi_image *image, const char *name, enum cfi_section_kind kind, uint64_t got)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_reader_find_section(image->elf, name, &shdr);
	struct cfi_section *section = &image->sections[image->section_count];
	Elf_Data *data;

	if (!scn || shdr.sh_type == SHT_NOBITS)
		return false;
	if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return false;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size == 0)
		return false;
	memset(section, 0, sizeof(*section));
	section->kind = kind;
	section->data = data->d_buf;
	section->size = data->d_size;
	section->vaddr = kind == CFI_SECTION_EH_FRAME ? shdr.sh_addr : 0;
	/* x86-64 toolchains do not emit datarel in .eh_frame; the GOT is what libgcc would use. */
	section->pointers.bases.data = got;
	section->pointers.read_target = read_image_u64;
	section->pointers.read_target_ctx = image->elf;
	image->section_count++;
	return true;
}

size_t cfi_image_load(struct cfi_image *image, Elf *elf)
{
	GElf_Shdr shdr;
	uint64_t got = elf_reader_find_section(elf, ".got", &shdr) ? shdr.sh_addr : 0;

	memset(image, 0, sizeof(*image));
	image->elf = elf;
	load_section(image, ".eh_frame", CFI_SECTION_EH_FRAME, got);
	load_section(image, ".debug_frame", CFI_SECTION_DEBUG_FRAME, got);
	return image->section_count;
}
