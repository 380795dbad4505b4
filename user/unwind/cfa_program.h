/* SPDX-License-Identifier: MIT */
/*
 * The DWARF call frame instruction interpreter (DWARF 5 §6.4.2): runs a CIE's
 * initial instructions and an FDE's instructions and reports, for each address
 * range of the FDE, the rule set that holds there.
 */
#ifndef BPFSPY_UNWIND_CFA_PROGRAM_H
#define BPFSPY_UNWIND_CFA_PROGRAM_H

#include "unwind/cfi_entries.h"

/* DWARF register numbers of the x86-64 psABI. */
enum {
	DWARF_REG_RBP = 6,
	DWARF_REG_RSP = 7,
	DWARF_REG_RIP = 16, /* also the return-address column */
	CFA_TRACKED_REGS = 17, /* rax..r15 and RA; vector registers are parsed but not kept */
};

enum cfa_register_rule_kind {
	CFA_REG_UNSPECIFIED, /* never mentioned: callee-saved registers keep their value */
	CFA_REG_UNDEFINED,
	CFA_REG_SAME_VALUE,
	CFA_REG_OFFSET,	    /* saved at CFA + offset */
	CFA_REG_VAL_OFFSET, /* value is CFA + offset */
	CFA_REG_REGISTER,   /* value is in register `reg` */
	CFA_REG_EXPRESSION, /* saved at the address the expression computes */
	CFA_REG_VAL_EXPRESSION,
};

struct cfa_expression {
	const uint8_t *bytes; /* points into the section data */
	uint32_t length;
};

struct cfa_register_rule {
	uint8_t kind;
	uint16_t reg;
	int64_t offset;
	struct cfa_expression expr;
};

enum cfa_rule_kind {
	CFA_RULE_UNSET,
	CFA_RULE_REG_OFFSET,
	CFA_RULE_EXPRESSION,
};

struct cfa_state {
	uint8_t cfa_kind;
	uint64_t cfa_reg;
	int64_t cfa_offset;
	struct cfa_expression cfa_expr;
	struct cfa_register_rule regs[CFA_TRACKED_REGS];
};

/* Called once per non-empty range [begin, end) with the rules in force there. A positive return stops the run. */
typedef int (*cfa_row_fn)(void *ctx, uint64_t begin, uint64_t end, const struct cfa_state *state);

enum cfa_program_error {
	CFA_PROGRAM_OK = 0,
	CFA_PROGRAM_MALFORMED = -1,	  /* truncated operand, unknown opcode, bad set_loc */
	CFA_PROGRAM_STATE_OVERFLOW = -2,  /* remember_state nested too deep */
	CFA_PROGRAM_STATE_UNDERFLOW = -3, /* restore_state without remember_state */
};

/*
 * Runs the program. Rows reported before an error are correct; the caller
 * decides whether to keep them. Returns a cfa_program_error or the callback's
 * positive value.
 */
int cfa_program_run(const struct cfi_fde *fde, cfa_row_fn fn, void *ctx);

#endif
