// SPDX-License-Identifier: MIT
#include "unwind/cfa_program.h"

#include <string.h>

/* GCC nests remember_state at most a few levels; deeper means corrupt input. */
#define CFA_STATE_STACK_DEPTH 16

enum {
	DW_CFA_advance_loc = 0x40,
	DW_CFA_offset = 0x80,
	DW_CFA_restore = 0xc0,
	DW_CFA_nop = 0x00,
	DW_CFA_set_loc = 0x01,
	DW_CFA_advance_loc1 = 0x02,
	DW_CFA_advance_loc2 = 0x03,
	DW_CFA_advance_loc4 = 0x04,
	DW_CFA_offset_extended = 0x05,
	DW_CFA_restore_extended = 0x06,
	DW_CFA_undefined = 0x07,
	DW_CFA_same_value = 0x08,
	DW_CFA_register = 0x09,
	DW_CFA_remember_state = 0x0a,
	DW_CFA_restore_state = 0x0b,
	DW_CFA_def_cfa = 0x0c,
	DW_CFA_def_cfa_register = 0x0d,
	DW_CFA_def_cfa_offset = 0x0e,
	DW_CFA_def_cfa_expression = 0x0f,
	DW_CFA_expression = 0x10,
	DW_CFA_offset_extended_sf = 0x11,
	DW_CFA_def_cfa_sf = 0x12,
	DW_CFA_def_cfa_offset_sf = 0x13,
	DW_CFA_val_offset = 0x14,
	DW_CFA_val_offset_sf = 0x15,
	DW_CFA_val_expression = 0x16,
	DW_CFA_GNU_args_size = 0x2e,
	DW_CFA_GNU_negative_offset_extended = 0x2f,
};

struct cfa_machine {
	const struct cfi_fde *fde;
	struct cfa_state state;
	struct cfa_state initial; /* after the CIE: what DW_CFA_restore returns to */
	struct cfa_state saved[CFA_STATE_STACK_DEPTH];
	unsigned saved_count;
	uint64_t loc;
	bool in_fde; /* false while running the CIE's initial instructions */
	cfa_row_fn emit;
	void *emit_ctx;
};

/* Factored offsets from corrupt input can overflow: wrap instead of invoking signed overflow. */
static int64_t factored(uint64_t operand, int64_t factor)
{
	return (int64_t)(operand * (uint64_t)factor);
}

static struct cfa_register_rule *tracked(struct cfa_machine *m, uint64_t reg)
{
	return reg < CFA_TRACKED_REGS ? &m->state.regs[reg] : NULL;
}

static void set_rule(struct cfa_machine *m, uint64_t reg, uint8_t kind, int64_t offset)
{
	struct cfa_register_rule *rule = tracked(m, reg);

	if (rule) {
		memset(rule, 0, sizeof(*rule));
		rule->kind = kind;
		rule->offset = offset;
	}
}

/* Reads a DW_FORM_block operand: uleb length then bytes, all inside the program. */
static bool read_expression(struct dwarf_cursor *c, struct cfa_expression *expr)
{
	uint64_t length = dwarf_read_uleb(c);
	const uint8_t *bytes = c->pos;

	if (length > UINT32_MAX || !dwarf_cursor_skip(c, length))
		return false;
	expr->bytes = bytes;
	expr->length = (uint32_t)length;
	return true;
}

/* Emits the row for [loc, new_loc) and moves there; advancing past the FDE end clamps. */
static int advance_to(struct cfa_machine *m, uint64_t new_loc)
{
	int ret = 0;

	if (!m->in_fde)
		return 0; /* location operators in a CIE have no range to describe */
	if (new_loc > m->fde->pc_end)
		new_loc = m->fde->pc_end;
	if (new_loc > m->loc)
		ret = m->emit(m->emit_ctx, m->loc, new_loc, &m->state);
	if (new_loc > m->loc)
		m->loc = new_loc;
	return ret;
}

static int advance_by(struct cfa_machine *m, uint64_t delta)
{
	uint64_t scaled = delta * m->fde->cie.code_align;

	if (m->fde->cie.code_align && scaled / m->fde->cie.code_align != delta)
		return CFA_PROGRAM_MALFORMED;
	if (scaled > UINT64_MAX - m->loc)
		return CFA_PROGRAM_MALFORMED;
	return advance_to(m, m->loc + scaled);
}

static int set_loc(struct cfa_machine *m, struct dwarf_cursor *c)
{
	uint64_t new_loc = dwarf_read_encoded_pointer(c, m->fde->cie.fde_pointer_encoding, &m->fde->pointers);

	/* Going backwards would make rows overlap; the spec requires forward motion. */
	if (c->failed || new_loc < m->loc)
		return CFA_PROGRAM_MALFORMED;
	return advance_to(m, new_loc);
}

static int restore_register(struct cfa_machine *m, uint64_t reg)
{
	struct cfa_register_rule *rule = tracked(m, reg);

	if (rule)
		*rule = m->initial.regs[reg];
	return 0;
}

static int remember_state(struct cfa_machine *m)
{
	if (m->saved_count == CFA_STATE_STACK_DEPTH)
		return CFA_PROGRAM_STATE_OVERFLOW;
	m->saved[m->saved_count++] = m->state;
	return 0;
}

/* The CFA is part of the remembered state: GCC's epilogues rely on that. */
static int restore_state(struct cfa_machine *m)
{
	if (m->saved_count == 0)
		return CFA_PROGRAM_STATE_UNDERFLOW;
	m->state = m->saved[--m->saved_count];
	return 0;
}

static void def_cfa(struct cfa_machine *m, uint64_t reg, int64_t offset)
{
	m->state.cfa_kind = CFA_RULE_REG_OFFSET;
	m->state.cfa_reg = reg;
	m->state.cfa_offset = offset;
}

static int register_expression(struct cfa_machine *m, struct dwarf_cursor *c, uint8_t kind)
{
	uint64_t reg = dwarf_read_uleb(c);
	struct cfa_expression expr;

	if (!read_expression(c, &expr))
		return CFA_PROGRAM_MALFORMED;
	set_rule(m, reg, kind, 0);
	if (tracked(m, reg))
		tracked(m, reg)->expr = expr;
	return 0;
}

static int run_extended(struct cfa_machine *m, struct dwarf_cursor *c, uint8_t opcode)
{
	int64_t daf = m->fde->cie.data_align;
	uint64_t reg, operand;

	switch (opcode) {
	case DW_CFA_nop:
		return 0;
	case DW_CFA_set_loc:
		return set_loc(m, c);
	case DW_CFA_advance_loc1:
		return advance_by(m, dwarf_read_u8(c));
	case DW_CFA_advance_loc2:
		return advance_by(m, dwarf_read_u16(c));
	case DW_CFA_advance_loc4:
		return advance_by(m, dwarf_read_u32(c));
	case DW_CFA_offset_extended:
		reg = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_OFFSET, factored(dwarf_read_uleb(c), daf));
		return 0;
	case DW_CFA_offset_extended_sf:
		reg = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_OFFSET, factored((uint64_t)dwarf_read_sleb(c), daf));
		return 0;
	case DW_CFA_GNU_negative_offset_extended:
		reg = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_OFFSET, factored(0 - dwarf_read_uleb(c), daf));
		return 0;
	case DW_CFA_val_offset:
		reg = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_VAL_OFFSET, factored(dwarf_read_uleb(c), daf));
		return 0;
	case DW_CFA_val_offset_sf:
		reg = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_VAL_OFFSET, factored((uint64_t)dwarf_read_sleb(c), daf));
		return 0;
	case DW_CFA_restore_extended:
		return restore_register(m, dwarf_read_uleb(c));
	case DW_CFA_undefined:
		set_rule(m, dwarf_read_uleb(c), CFA_REG_UNDEFINED, 0);
		return 0;
	case DW_CFA_same_value:
		set_rule(m, dwarf_read_uleb(c), CFA_REG_SAME_VALUE, 0);
		return 0;
	case DW_CFA_register:
		reg = dwarf_read_uleb(c);
		operand = dwarf_read_uleb(c);
		set_rule(m, reg, CFA_REG_REGISTER, 0);
		if (tracked(m, reg))
			tracked(m, reg)->reg = operand > UINT16_MAX ? UINT16_MAX : (uint16_t)operand;
		return 0;
	case DW_CFA_remember_state:
		return remember_state(m);
	case DW_CFA_restore_state:
		return restore_state(m);
	case DW_CFA_def_cfa:
		reg = dwarf_read_uleb(c);
		def_cfa(m, reg, (int64_t)dwarf_read_uleb(c));
		return 0;
	case DW_CFA_def_cfa_sf:
		reg = dwarf_read_uleb(c);
		def_cfa(m, reg, factored((uint64_t)dwarf_read_sleb(c), daf));
		return 0;
	case DW_CFA_def_cfa_register:
		/* Keeps the offset; after an expression CFA there is none, which is what zero gives. */
		reg = dwarf_read_uleb(c);
		def_cfa(m, reg, m->state.cfa_kind == CFA_RULE_REG_OFFSET ? m->state.cfa_offset : 0);
		return 0;
	case DW_CFA_def_cfa_offset:
		m->state.cfa_kind = CFA_RULE_REG_OFFSET;
		m->state.cfa_offset = (int64_t)dwarf_read_uleb(c);
		return 0;
	case DW_CFA_def_cfa_offset_sf:
		m->state.cfa_kind = CFA_RULE_REG_OFFSET;
		m->state.cfa_offset = factored((uint64_t)dwarf_read_sleb(c), daf);
		return 0;
	case DW_CFA_def_cfa_expression:
		if (!read_expression(c, &m->state.cfa_expr))
			return CFA_PROGRAM_MALFORMED;
		m->state.cfa_kind = CFA_RULE_EXPRESSION;
		return 0;
	case DW_CFA_expression:
		return register_expression(m, c, CFA_REG_EXPRESSION);
	case DW_CFA_val_expression:
		return register_expression(m, c, CFA_REG_VAL_EXPRESSION);
	case DW_CFA_GNU_args_size:
		dwarf_read_uleb(c); /* only matters for landing pads */
		return 0;
	default:
		return CFA_PROGRAM_MALFORMED;
	}
}

static int run_instruction(struct cfa_machine *m, struct dwarf_cursor *c)
{
	uint8_t opcode = dwarf_read_u8(c);
	uint8_t operand = opcode & 0x3f;
	int ret;

	switch (opcode & 0xc0) {
	case DW_CFA_advance_loc:
		ret = advance_by(m, operand);
		break;
	case DW_CFA_offset:
		set_rule(m, operand, CFA_REG_OFFSET, factored(dwarf_read_uleb(c), m->fde->cie.data_align));
		ret = 0;
		break;
	case DW_CFA_restore:
		ret = restore_register(m, operand);
		break;
	default:
		ret = run_extended(m, c, opcode);
		break;
	}
	if (c->failed)
		return CFA_PROGRAM_MALFORMED;
	return ret;
}

static int run_instructions(struct cfa_machine *m, struct dwarf_cursor program)
{
	while (dwarf_cursor_remaining(&program)) {
		int ret = run_instruction(m, &program);

		if (ret)
			return ret;
	}
	return program.failed ? CFA_PROGRAM_MALFORMED : 0;
}

int cfa_program_run(const struct cfi_fde *fde, cfa_row_fn fn, void *ctx)
{
	static __thread struct cfa_machine machine; /* ~20 KiB: too big for callers' stacks */
	struct cfa_machine *m = &machine;
	int ret;

	/* field by field: zeroing the whole machine would clear its ~20 KiB remember stack once per FDE, which
	 * was a tenth of building a table; saved[] is only read below saved_count */
	memset(&m->state, 0, sizeof(m->state));
	memset(&m->initial, 0, sizeof(m->initial)); /* a restore inside the CIE's own instructions */
	m->fde = fde;
	m->saved_count = 0;
	m->in_fde = false;
	m->emit = fn;
	m->emit_ctx = ctx;
	m->loc = fde->pc_begin;
	ret = run_instructions(m, fde->cie.initial_instructions);
	if (ret)
		return ret;
	m->initial = m->state;
	m->saved_count = 0; /* remembered states do not carry from CIE into FDE */
	m->in_fde = true;
	ret = run_instructions(m, fde->instructions);
	if (ret)
		return ret;
	return advance_to(m, fde->pc_end);
}
