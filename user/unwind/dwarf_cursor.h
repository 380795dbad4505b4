/* SPDX-License-Identifier: MIT */
/*
 * Bounds-checked reader over untrusted DWARF bytes (.eh_frame, .debug_frame).
 * Every read either succeeds inside [pos, end) or sets the sticky error flag
 * and returns 0, so parsers can read a whole record and check once.
 */
#ifndef BPFSPY_UNWIND_DWARF_CURSOR_H
#define BPFSPY_UNWIND_DWARF_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dwarf_cursor {
	const uint8_t *start; /* first byte of the section: offsets are relative to it */
	const uint8_t *pos;
	const uint8_t *end;
	uint64_t section_vaddr; /* address of start in the ELF image, for pcrel */
	bool failed;
};

/* Bases for the DW_EH_PE_* application modes that are not pcrel. */
struct dwarf_pointer_bases {
	uint64_t text;
	uint64_t data;
	uint64_t func;
};

/* Resolves DW_EH_PE_indirect: reads the 8-byte pointer stored at vaddr in the file image. */
typedef bool (*dwarf_read_target_u64)(void *ctx, uint64_t vaddr, uint64_t *out);

struct dwarf_pointer_context {
	struct dwarf_pointer_bases bases;
	dwarf_read_target_u64 read_target;
	void *read_target_ctx;
};

#define DW_EH_PE_OMIT 0xff
#define DW_EH_PE_INDIRECT 0x80

void dwarf_cursor_init(struct dwarf_cursor *c, const uint8_t *start, size_t size, uint64_t section_vaddr);
size_t dwarf_cursor_offset(const struct dwarf_cursor *c);
size_t dwarf_cursor_remaining(const struct dwarf_cursor *c);
bool dwarf_cursor_skip(struct dwarf_cursor *c, uint64_t n);
/* A cursor over the next n bytes; c moves past them. */
struct dwarf_cursor dwarf_cursor_take(struct dwarf_cursor *c, uint64_t n);

uint8_t dwarf_read_u8(struct dwarf_cursor *c);
uint16_t dwarf_read_u16(struct dwarf_cursor *c);
uint32_t dwarf_read_u32(struct dwarf_cursor *c);
uint64_t dwarf_read_u64(struct dwarf_cursor *c);
uint64_t dwarf_read_uleb(struct dwarf_cursor *c);
int64_t dwarf_read_sleb(struct dwarf_cursor *c);

/* Whether a DW_EH_PE byte names a format and application we can decode. */
bool dwarf_pointer_encoding_valid(uint8_t encoding);
/*
 * Reads a pointer in DW_EH_PE encoding `encoding`. DW_EH_PE_omit reads nothing
 * and yields 0. Fails (sets c->failed) on unknown formats and on an indirect
 * pointer that cannot be resolved.
 */
uint64_t dwarf_read_encoded_pointer(struct dwarf_cursor *c, uint8_t encoding,
				    const struct dwarf_pointer_context *pctx);

#endif
