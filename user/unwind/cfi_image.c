// SPDX-License-Identifier: MIT
#include "unwind/cfi_image.h"

#include <stdlib.h>
#include <string.h>

#include "sym/elf_reader.h"
#include "util/array.h"

Elf_Scn *cfi_image_section_at(Elf *elf, uint64_t vaddr, uint64_t length, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS || !(shdr->sh_flags & SHF_ALLOC))
			continue;
		if (vaddr >= shdr->sh_addr && length <= shdr->sh_size && vaddr - shdr->sh_addr <= shdr->sh_size - length)
			return scn;
	}
	return NULL;
}

bool cfi_image_read(Elf *elf, uint64_t vaddr, void *out, size_t length)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = cfi_image_section_at(elf, vaddr, length, &shdr);
	Elf_Data *data;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !data->d_buf)
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

static void load_eh_frame_hdr(struct cfi_image *image)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = elf_reader_find_section(image->elf, ".eh_frame_hdr", &shdr);
	Elf_Data *data = scn && shdr.sh_type == SHT_PROGBITS ? elf_getdata(scn, NULL) : NULL;

	if (!data || !data->d_buf || data->d_size != shdr.sh_size)
		return;
	image->eh_frame_hdr = data->d_buf;
	image->eh_frame_hdr_size = data->d_size;
	image->eh_frame_hdr_vaddr = shdr.sh_addr;
}

size_t cfi_image_load(struct cfi_image *image, Elf *elf)
{
	GElf_Shdr shdr;
	uint64_t got = elf_reader_find_section(elf, ".got", &shdr) ? shdr.sh_addr : 0;

	memset(image, 0, sizeof(*image));
	image->elf = elf;
	load_section(image, ".eh_frame", CFI_SECTION_EH_FRAME, got);
	load_section(image, ".debug_frame", CFI_SECTION_DEBUG_FRAME, got);
	load_eh_frame_hdr(image);
	return image->section_count;
}

/* DW_EH_PE encodings of .eh_frame_hdr as linkers write it */
#define EH_PE_PCREL_SDATA4 0x1b
#define EH_PE_UDATA4 0x03
#define EH_PE_DATAREL_SDATA4 0x3b
#define EH_FRAME_HDR_TABLE 12 /* version, 3 encodings, eh_frame_ptr, fde_count */

static int32_t load_s32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

size_t cfi_image_fde_index(const struct cfi_image *image, struct cfi_fde_index_entry **entries)
{
	const uint8_t *hdr = image->eh_frame_hdr;
	const struct cfi_section *eh = image->section_count ? &image->sections[0] : NULL;
	uint32_t count;

	*entries = NULL;
	if (!hdr || !eh || eh->kind != CFI_SECTION_EH_FRAME || image->eh_frame_hdr_size < EH_FRAME_HDR_TABLE ||
	    hdr[0] != 1 || hdr[1] != EH_PE_PCREL_SDATA4 || hdr[2] != EH_PE_UDATA4 || hdr[3] != EH_PE_DATAREL_SDATA4)
		return 0;
	memcpy(&count, hdr + 8, sizeof(count));
	if (count == 0 || count > (image->eh_frame_hdr_size - EH_FRAME_HDR_TABLE) / 8)
		return 0;
	struct cfi_fde_index_entry *out = malloc(count * sizeof(*out));
	size_t n = 0;
	if (!out)
		return 0;
	array_populate(out, count * sizeof(*out));
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = hdr + EH_FRAME_HDR_TABLE + 8 * (size_t)i;
		uint64_t fde = image->eh_frame_hdr_vaddr + (uint64_t)(int64_t)load_s32(e + 4);
		if (fde < eh->vaddr || fde - eh->vaddr >= eh->size)
			continue;
		out[n++] = (struct cfi_fde_index_entry){
			.pc = image->eh_frame_hdr_vaddr + (uint64_t)(int64_t)load_s32(e), .offset = (size_t)(fde - eh->vaddr),
		};
	}
	if (n == 0) {
		free(out);
		return 0;
	}
	*entries = out;
	return n;
}
