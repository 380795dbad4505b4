// SPDX-License-Identifier: MIT
#include "unwind/dwarf_cursor.h"

#include <string.h>

void dwarf_cursor_init(struct dwarf_cursor *c, const uint8_t *start, size_t size, uint64_t section_vaddr)
{
	c->start = start;
	c->pos = start;
	c->end = start + size;
	c->section_vaddr = section_vaddr;
	c->failed = false;
}

size_t dwarf_cursor_offset(const struct dwarf_cursor *c)
{
	return (size_t)(c->pos - c->start);
}

size_t dwarf_cursor_remaining(const struct dwarf_cursor *c)
{
	return c->failed ? 0 : (size_t)(c->end - c->pos);
}

bool dwarf_cursor_skip(struct dwarf_cursor *c, uint64_t n)
{
	if (c->failed || n > (uint64_t)(c->end - c->pos)) {
		c->failed = true;
		return false;
	}
	c->pos += n;
	return true;
}

struct dwarf_cursor dwarf_cursor_take(struct dwarf_cursor *c, uint64_t n)
{
	struct dwarf_cursor sub = *c;

	if (!dwarf_cursor_skip(c, n)) {
		sub.failed = true;
		return sub;
	}
	sub.end = c->pos;
	return sub;
}

static bool read_bytes(struct dwarf_cursor *c, void *out, size_t n)
{
	if (c->failed || n > (size_t)(c->end - c->pos)) {
		c->failed = true;
		memset(out, 0, n);
		return false;
	}
	memcpy(out, c->pos, n); /* little-endian host and target (x86_64 only) */
	c->pos += n;
	return true;
}

uint8_t dwarf_read_u8(struct dwarf_cursor *c)
{
	uint8_t v;

	read_bytes(c, &v, sizeof(v));
	return v;
}

uint16_t dwarf_read_u16(struct dwarf_cursor *c)
{
	uint16_t v;

	read_bytes(c, &v, sizeof(v));
	return v;
}

uint32_t dwarf_read_u32(struct dwarf_cursor *c)
{
	uint32_t v;

	read_bytes(c, &v, sizeof(v));
	return v;
}

uint64_t dwarf_read_u64(struct dwarf_cursor *c)
{
	uint64_t v;

	read_bytes(c, &v, sizeof(v));
	return v;
}

/* LEB128 longer than 10 bytes cannot encode a 64-bit value: treat it as corrupt. */
#define LEB128_MAX_BYTES 10

uint64_t dwarf_read_uleb(struct dwarf_cursor *c)
{
	uint64_t value = 0;

	for (unsigned i = 0; i < LEB128_MAX_BYTES; i++) {
		uint8_t byte = dwarf_read_u8(c);

		if (c->failed)
			return 0;
		value |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80))
			return value;
	}
	c->failed = true;
	return 0;
}

int64_t dwarf_read_sleb(struct dwarf_cursor *c)
{
	uint64_t value = 0;
	unsigned shift = 0;

	for (unsigned i = 0; i < LEB128_MAX_BYTES; i++) {
		uint8_t byte = dwarf_read_u8(c);

		if (c->failed)
			return 0;
		value |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
		if (!(byte & 0x80)) {
			if (shift < 64 && (byte & 0x40))
				value |= ~(uint64_t)0 << shift;
			return (int64_t)value;
		}
	}
	c->failed = true;
	return 0;
}

enum {
	PE_FORMAT_MASK = 0x0f,
	PE_APPLICATION_MASK = 0x70,
	PE_ABSPTR = 0x00,
	PE_ULEB128 = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
	PE_TEXTREL = 0x20,
	PE_DATAREL = 0x30,
	PE_FUNCREL = 0x40,
	PE_ALIGNED = 0x50,
};

bool dwarf_pointer_encoding_valid(uint8_t encoding)
{
	if (encoding == DW_EH_PE_OMIT)
		return true;
	switch (encoding & PE_FORMAT_MASK) {
	case PE_ABSPTR: case PE_ULEB128: case PE_UDATA2: case PE_UDATA4: case PE_UDATA8:
	case PE_SLEB128: case PE_SDATA2: case PE_SDATA4: case PE_SDATA8:
		break;
	default:
		return false;
	}
	return (encoding & PE_APPLICATION_MASK) <= PE_ALIGNED;
}

static uint64_t read_pointer_format(struct dwarf_cursor *c, uint8_t format)
{
	switch (format) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		return dwarf_read_u64(c);
	case PE_ULEB128:
		return dwarf_read_uleb(c);
	case PE_UDATA2:
		return dwarf_read_u16(c);
	case PE_UDATA4:
		return dwarf_read_u32(c);
	case PE_SLEB128:
		return (uint64_t)dwarf_read_sleb(c);
	case PE_SDATA2:
		return (uint64_t)(int64_t)(int16_t)dwarf_read_u16(c);
	case PE_SDATA4:
		return (uint64_t)(int64_t)(int32_t)dwarf_read_u32(c);
	default:
		c->failed = true;
		return 0;
	}
}

uint64_t dwarf_read_encoded_pointer(struct dwarf_cursor *c, uint8_t encoding,
				    const struct dwarf_pointer_context *pctx)
{
	uint64_t base = 0, value;

	if (encoding == DW_EH_PE_OMIT)
		return 0;
	if (!dwarf_pointer_encoding_valid(encoding)) {
		c->failed = true;
		return 0;
	}
	switch (encoding & PE_APPLICATION_MASK) {
	case PE_PCREL:
		base = c->section_vaddr + dwarf_cursor_offset(c);
		break;
	case PE_TEXTREL:
		base = pctx ? pctx->bases.text : 0;
		break;
	case PE_DATAREL:
		base = pctx ? pctx->bases.data : 0;
		break;
	case PE_FUNCREL:
		base = pctx ? pctx->bases.func : 0;
		break;
	case PE_ALIGNED: {
		uint64_t misalign = (c->section_vaddr + dwarf_cursor_offset(c)) % 8;

		if (misalign)
			dwarf_cursor_skip(c, 8 - misalign);
		break;
	}
	default:
		break;
	}
	value = read_pointer_format(c, encoding & PE_FORMAT_MASK) + base;
	if (c->failed)
		return 0;
	if (encoding & DW_EH_PE_INDIRECT) {
		uint64_t target;

		if (!pctx || !pctx->read_target || !pctx->read_target(pctx->read_target_ctx, value, &target)) {
			c->failed = true;
			return 0;
		}
		value = target;
	}
	return value;
}
