// SPDX-License-Identifier: MIT
#include "unwind/unwind_rules.h"

#include <string.h>

enum {
	DW_OP_deref = 0x06,
	DW_OP_and = 0x1a,
	DW_OP_plus = 0x22,
	DW_OP_plus_uconst = 0x23,
	DW_OP_shl = 0x24,
	DW_OP_ge = 0x2a,
	DW_OP_lit0 = 0x30,
	DW_OP_lit31 = 0x4f,
	DW_OP_breg0 = 0x70,
	DW_OP_breg31 = 0x8f,
};

#define MAX_MATCHED_OPS 9 /* the longest shape we recognise is the 9-op PLT expression */

struct dw_op {
	uint8_t opcode;
	int64_t operand;
};

/* Decodes a short expression; false if it is longer than any shape we match or uses other ops. */
static bool decode_ops(const struct cfa_expression *expr, struct dw_op *ops, size_t *count)
{
	struct dwarf_cursor c;

	dwarf_cursor_init(&c, expr->bytes, expr->length, 0);
	*count = 0;
	while (dwarf_cursor_remaining(&c)) {
		struct dw_op *op = &ops[*count];

		if (*count == MAX_MATCHED_OPS)
			return false;
		op->opcode = dwarf_read_u8(&c);
		op->operand = 0;
		if (op->opcode >= DW_OP_breg0 && op->opcode <= DW_OP_breg31)
			op->operand = dwarf_read_sleb(&c);
		else if (op->opcode == DW_OP_plus_uconst)
			op->operand = (int64_t)dwarf_read_uleb(&c);
		else if (op->opcode >= DW_OP_lit0 && op->opcode <= DW_OP_lit31)
			op->operand = op->opcode - DW_OP_lit0;
		else if (op->opcode != DW_OP_deref && op->opcode != DW_OP_and && op->opcode != DW_OP_plus &&
			 op->opcode != DW_OP_shl && op->opcode != DW_OP_ge)
			return false;
		if (c.failed)
			return false;
		(*count)++;
	}
	return true;
}

static bool is_breg(const struct dw_op *op, unsigned reg)
{
	return op->opcode == DW_OP_breg0 + reg;
}

static bool is_lit(const struct dw_op *op, int64_t value)
{
	return op->opcode >= DW_OP_lit0 && op->opcode <= DW_OP_lit31 && op->operand == value;
}

static bool is_lit_any(const struct dw_op *op)
{
	return op->opcode >= DW_OP_lit0 && op->opcode <= DW_OP_lit31;
}

static bool fits_packed(int64_t a, int64_t b)
{
	return a >= -(1 << 23) && a < (1 << 23) && b >= 0 && b <= 0xff;
}

static int32_t pack(int64_t a, int64_t b)
{
	return (int32_t)(((uint32_t)a << 8) | (uint32_t)b);
}

/* rsp + a + (((rip & 15) >= b) << 3): the lazy-binding PLT entry (GCC and ld emit b = 11 or 10). */
static bool match_plt(const struct dw_op *ops, size_t n, struct unwind_row *row)
{
	if (n != 9 || !is_breg(&ops[0], DWARF_REG_RSP) || !is_breg(&ops[1], DWARF_REG_RIP) || ops[1].operand != 0 ||
	    !is_lit(&ops[2], 15) || ops[3].opcode != DW_OP_and || !is_lit_any(&ops[4]) || ops[5].opcode != DW_OP_ge ||
	    !is_lit(&ops[6], 3) || ops[7].opcode != DW_OP_shl || ops[8].opcode != DW_OP_plus)
		return false;
	if (!fits_packed(ops[0].operand, ops[4].operand))
		return false;
	row->cfa_rule = UNWIND_CFA_PLT;
	row->cfa_offset = pack(ops[0].operand, ops[4].operand);
	return true;
}

/* *(reg + a) [+ b] with reg rsp or rbp: GCC's dynamic stack realign. */
static bool match_deref(const struct dw_op *ops, size_t n, struct unwind_row *row)
{
	int64_t post = 0;

	if (n != 2 && n != 3)
		return false;
	if (ops[1].opcode != DW_OP_deref || (n == 3 && ops[2].opcode != DW_OP_plus_uconst))
		return false;
	if (n == 3)
		post = ops[2].operand;
	if (!fits_packed(ops[0].operand, post))
		return false;
	if (is_breg(&ops[0], DWARF_REG_RSP))
		row->cfa_rule = UNWIND_CFA_DEREF_RSP;
	else if (is_breg(&ops[0], DWARF_REG_RBP))
		row->cfa_rule = UNWIND_CFA_DEREF_RBP;
	else
		return false;
	row->cfa_offset = pack(ops[0].operand, post);
	return true;
}

/* A lone breg is just reg + offset written as an expression. */
static bool match_breg(const struct dw_op *ops, size_t n, struct unwind_row *row)
{
	if (n != 1 || ops[0].operand < INT32_MIN || ops[0].operand > INT32_MAX)
		return false;
	if (is_breg(&ops[0], DWARF_REG_RSP))
		row->cfa_rule = UNWIND_CFA_RSP;
	else if (is_breg(&ops[0], DWARF_REG_RBP))
		row->cfa_rule = UNWIND_CFA_RBP;
	else
		return false;
	row->cfa_offset = (int32_t)ops[0].operand;
	return true;
}

static bool classify_cfa(const struct cfa_state *state, struct unwind_row *row, struct unwind_table_stats *stats)
{
	struct dw_op ops[MAX_MATCHED_OPS];
	size_t n;

	if (state->cfa_kind == CFA_RULE_REG_OFFSET) {
		if (state->cfa_reg != DWARF_REG_RSP && state->cfa_reg != DWARF_REG_RBP) {
			stats->unsupported_cfa_register++;
			return false;
		}
		if (state->cfa_offset < INT32_MIN || state->cfa_offset > INT32_MAX) {
			stats->unsupported_offset_range++;
			return false;
		}
		row->cfa_rule = state->cfa_reg == DWARF_REG_RSP ? UNWIND_CFA_RSP : UNWIND_CFA_RBP;
		row->cfa_offset = (int32_t)state->cfa_offset;
		return true;
	}
	if (state->cfa_kind == CFA_RULE_EXPRESSION && decode_ops(&state->cfa_expr, ops, &n) &&
	    (match_plt(ops, n, row) || match_deref(ops, n, row) || match_breg(ops, n, row)))
		return true;
	stats->unsupported_cfa_expression++;
	return false;
}

static void classify_rbp(const struct cfa_register_rule *rule, struct unwind_row *row)
{
	struct dw_op ops[MAX_MATCHED_OPS];
	size_t n;

	row->rbp_rule = UNWIND_RBP_UNKNOWN;
	row->rbp_offset = 0;
	switch (rule->kind) {
	case CFA_REG_UNSPECIFIED:
	case CFA_REG_SAME_VALUE:
		row->rbp_rule = UNWIND_RBP_SAME;
		return;
	case CFA_REG_OFFSET:
		if (rule->offset >= INT16_MIN && rule->offset <= INT16_MAX) {
			row->rbp_rule = UNWIND_RBP_AT_CFA;
			row->rbp_offset = (int16_t)rule->offset;
		}
		return;
	case CFA_REG_EXPRESSION:
		if (decode_ops(&rule->expr, ops, &n) && n == 1 && is_breg(&ops[0], DWARF_REG_RBP) &&
		    ops[0].operand >= INT16_MIN && ops[0].operand <= INT16_MAX) {
			row->rbp_rule = UNWIND_RBP_AT_RBP;
			row->rbp_offset = (int16_t)ops[0].operand;
		}
		return;
	default:
		return;
	}
}

static bool return_address_at_cfa_minus_8(const struct cfa_register_rule *rule)
{
	return rule->kind == CFA_REG_OFFSET && rule->offset == -8;
}

void unwind_rules_classify(const struct cfa_state *state, uint64_t ra_register, bool signal_frame,
			   struct unwind_row *row, struct unwind_table_stats *stats)
{
	const struct cfa_register_rule *ra;

	row->cfa_offset = 0;
	row->rbp_rule = UNWIND_RBP_SAME;
	row->rbp_offset = 0;
	if (signal_frame) {
		row->cfa_rule = UNWIND_CFA_SIGNAL;
		return;
	}
	if (ra_register >= CFA_TRACKED_REGS) {
		row->cfa_rule = UNWIND_CFA_UNSUPPORTED;
		stats->unsupported_return_address++;
		return;
	}
	ra = &state->regs[ra_register];
	if (ra->kind == CFA_REG_UNDEFINED) {
		row->cfa_rule = UNWIND_CFA_END;
		return;
	}
	if (!return_address_at_cfa_minus_8(ra)) {
		row->cfa_rule = UNWIND_CFA_UNSUPPORTED;
		stats->unsupported_return_address++;
		return;
	}
	if (!classify_cfa(state, row, stats)) {
		row->cfa_rule = UNWIND_CFA_UNSUPPORTED;
		row->cfa_offset = 0;
		return;
	}
	classify_rbp(&state->regs[DWARF_REG_RBP], row);
}
