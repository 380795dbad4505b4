// SPDX-License-Identifier: MIT
#include "unwind/cfi_entries.h"

#include <string.h>

#define DWARF64_ESCAPE 0xffffffffu
#define DEBUG_FRAME_CIE_ID32 0xffffffffu
#define DEBUG_FRAME_CIE_ID64 0xffffffffffffffffull
#define CIE_AUGMENTATION_MAX 16 /* real ones are "zR", "zPLR", "zRS": longer is corrupt */

/* One length-prefixed record: its body and where the id field sits. */
struct cfi_record {
	size_t offset; /* of the length field */
	bool dwarf64;
	struct dwarf_cursor body; /* after the length, through the end of the record */
};

/* Reads the next record header. false at the terminator or when the length cannot be trusted. */
static bool next_record(struct dwarf_cursor *section, struct cfi_record *rec, bool *truncated)
{
	uint64_t length;

	*truncated = false;
	if (dwarf_cursor_remaining(section) == 0)
		return false;
	rec->offset = dwarf_cursor_offset(section);
	length = dwarf_read_u32(section);
	rec->dwarf64 = length == DWARF64_ESCAPE;
	if (rec->dwarf64)
		length = dwarf_read_u64(section);
	if (section->failed || length == 0) {
		*truncated = section->failed;
		return false;
	}
	rec->body = dwarf_cursor_take(section, length);
	if (rec->body.failed) {
		*truncated = true;
		return false;
	}
	return true;
}

static bool is_cie_id(const struct cfi_section *section, const struct cfi_record *rec, uint64_t id)
{
	if (section->kind == CFI_SECTION_EH_FRAME)
		return id == 0;
	return rec->dwarf64 ? id == DEBUG_FRAME_CIE_ID64 : id == DEBUG_FRAME_CIE_ID32;
}

static uint64_t read_id(struct cfi_record *rec)
{
	return rec->dwarf64 ? dwarf_read_u64(&rec->body) : dwarf_read_u32(&rec->body);
}

static bool parse_augmentation_data(struct dwarf_cursor *c, const char *augmentation, struct cfi_cie *cie,
				    const struct cfi_section *section)
{
	uint64_t length = dwarf_read_uleb(c);
	struct dwarf_cursor data = dwarf_cursor_take(c, length);

	for (const char *a = augmentation + 1; *a && !data.failed; a++) {
		switch (*a) {
		case 'R':
			cie->fde_pointer_encoding = dwarf_read_u8(&data);
			if (!dwarf_pointer_encoding_valid(cie->fde_pointer_encoding))
				return false;
			break;
		case 'L':
			dwarf_read_u8(&data); /* LSDA encoding: the LSDA itself lives in FDE augmentation data, skipped by length */
			break;
		case 'P': {
			/* The personality routine is irrelevant for unwinding: decode only to stay in sync,
			 * never dereference. */
			uint8_t encoding = dwarf_read_u8(&data) & (uint8_t)~DW_EH_PE_INDIRECT;

			dwarf_read_encoded_pointer(&data, encoding, &section->pointers);
			break;
		}
		case 'S':
			cie->signal_frame = true;
			break;
		case 'B': /* AArch64 BTI / MTE markers: no data */
		case 'G':
			break;
		default:
			return false; /* unknown letter: cannot know whether FDE encodings change */
		}
	}
	return !data.failed && !c->failed;
}

static bool parse_cie(const struct cfi_section *section, struct cfi_record *rec, struct cfi_cie *cie)
{
	struct dwarf_cursor *c = &rec->body;
	char augmentation[CIE_AUGMENTATION_MAX + 1];
	size_t aug_len = 0;
	uint8_t version = dwarf_read_u8(c);

	memset(cie, 0, sizeof(*cie));
	if (version != 1 && version != 3 && version != 4)
		return false;
	for (;;) {
		uint8_t ch = dwarf_read_u8(c);

		if (c->failed || aug_len == CIE_AUGMENTATION_MAX)
			return false;
		augmentation[aug_len] = (char)ch;
		if (!ch)
			break;
		aug_len++;
	}
	if (aug_len && augmentation[0] != 'z')
		return false; /* "eh" (pre-GCC 3) and other exotic forms */
	if (version == 4) {
		uint8_t address_size = dwarf_read_u8(c), segment_size = dwarf_read_u8(c);

		if (address_size != 8 || segment_size != 0)
			return false;
	}
	cie->code_align = dwarf_read_uleb(c);
	cie->data_align = dwarf_read_sleb(c);
	cie->ra_register = version == 1 ? dwarf_read_u8(c) : dwarf_read_uleb(c);
	cie->fde_pointer_encoding = 0; /* absptr */
	if (aug_len) {
		cie->has_augmentation_data = true;
		if (!parse_augmentation_data(c, augmentation, cie, section))
			return false;
	}
	cie->initial_instructions = *c;
	return !c->failed;
}

/* Parses the CIE at a section offset; cached because FDEs share a handful of CIEs. */
static bool lookup_cie(const struct cfi_section *section, size_t offset, struct cfi_cie_cache *cache,
		       struct cfi_walk_stats *stats)
{
	struct dwarf_cursor c;
	struct cfi_record rec;
	bool truncated;
	uint64_t id;

	if (cache->valid && cache->offset == offset)
		return cache->parsed_ok;
	cache->valid = true;
	cache->offset = offset;
	cache->parsed_ok = false;
	if (offset >= section->size)
		return false;
	dwarf_cursor_init(&c, section->data, section->size, section->vaddr);
	dwarf_cursor_skip(&c, offset);
	if (!next_record(&c, &rec, &truncated))
		return false;
	id = read_id(&rec);
	if (rec.body.failed || !is_cie_id(section, &rec, id))
		return false;
	cache->parsed_ok = parse_cie(section, &rec, &cache->cie);
	if (cache->parsed_ok && stats)
		stats->cie_parses++;
	return cache->parsed_ok;
}

static bool parse_fde(const struct cfi_section *section, struct cfi_record *rec, const struct cfi_cie *cie,
		      struct cfi_fde *fde)
{
	struct dwarf_cursor *c = &rec->body;
	uint8_t encoding = cie->fde_pointer_encoding;
	uint64_t range;

	fde->cie = *cie;
	fde->pointers = section->pointers;
	fde->pc_begin = dwarf_read_encoded_pointer(c, encoding, &section->pointers);
	/* The range is a length: same format, no application, never indirect. */
	range = dwarf_read_encoded_pointer(c, encoding & 0x0f, NULL);
	if (c->failed || range > UINT64_MAX - fde->pc_begin)
		return false;
	fde->pc_end = fde->pc_begin + range;
	fde->pointers.bases.func = fde->pc_begin;
	if (cie->has_augmentation_data)
		dwarf_cursor_skip(c, dwarf_read_uleb(c));
	fde->instructions = *c;
	return !c->failed;
}

static size_t fde_cie_offset(const struct cfi_section *section, size_t id_offset, uint64_t id, bool *ok)
{
	*ok = true;
	if (section->kind == CFI_SECTION_DEBUG_FRAME)
		return (size_t)id;
	/* .eh_frame: the id is the distance back from the id field to the CIE. */
	if (id > id_offset) {
		*ok = false;
		return 0;
	}
	return id_offset - (size_t)id;
}

/* The FDE in rec, whose id (read from id_offset) is not a CIE's; false if it does not parse. */
static bool fde_of_record(const struct cfi_section *section, struct cfi_record *rec, size_t id_offset, uint64_t id,
			  struct cfi_cie_cache *cache, struct cfi_walk_stats *stats, struct cfi_fde *fde)
{
	bool ok;
	size_t cie_offset = fde_cie_offset(section, id_offset, id, &ok);

	if (!ok || !lookup_cie(section, cie_offset, cache, stats) || !parse_fde(section, rec, &cache->cie, fde))
		return false;
	fde->offset = rec->offset;
	return true;
}

int cfi_section_walk(const struct cfi_section *section, cfi_fde_fn fn, void *ctx, struct cfi_walk_stats *stats)
{
	struct dwarf_cursor c;
	struct cfi_record rec;
	struct cfi_cie_cache cache = { 0 };
	bool truncated;

	memset(stats, 0, sizeof(*stats));
	dwarf_cursor_init(&c, section->data, section->size, section->vaddr);
	while (next_record(&c, &rec, &truncated)) {
		size_t id_offset = dwarf_cursor_offset(&rec.body);
		uint64_t id = read_id(&rec);
		struct cfi_fde fde;
		int ret;

		if (rec.body.failed) {
			stats->bad_records++;
			continue;
		}
		if (is_cie_id(section, &rec, id))
			continue; /* parsed on demand from its FDEs */
		if (!fde_of_record(section, &rec, id_offset, id, &cache, stats, &fde)) {
			stats->bad_records++;
			continue;
		}
		stats->fdes++;
		ret = fn(ctx, &fde);
		if (ret)
			return ret;
	}
	stats->truncated = truncated;
	return 0;
}

bool cfi_fde_at(const struct cfi_section *section, size_t offset, struct cfi_cie_cache *cache, struct cfi_fde *fde)
{
	struct dwarf_cursor c;
	struct cfi_record rec;
	bool truncated;

	if (offset >= section->size)
		return false;
	dwarf_cursor_init(&c, section->data, section->size, section->vaddr);
	if (!dwarf_cursor_skip(&c, offset) || !next_record(&c, &rec, &truncated))
		return false;
	size_t id_offset = dwarf_cursor_offset(&rec.body);
	uint64_t id = read_id(&rec);
	return !rec.body.failed && !is_cie_id(section, &rec, id) &&
	       fde_of_record(section, &rec, id_offset, id, cache, NULL, fde);
}
