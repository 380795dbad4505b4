/* SPDX-License-Identifier: MIT */
/*
 * Turns the full DWARF rule set at one address into a compact unwind_row:
 * recognises the few CFA expression shapes compilers and glibc emit (PLT,
 * stack realign) and maps everything else to UNWIND_CFA_UNSUPPORTED.
 */
#ifndef BPFSPY_UNWIND_RULES_H
#define BPFSPY_UNWIND_RULES_H

#include "unwind/cfa_program.h"
#include "unwind/unwind.h"

/*
 * Fills row->cfa_rule, cfa_offset, rbp_rule, rbp_offset (not pc). Counts the
 * reason in stats when the row is unsupported. signal_frame: the FDE belongs
 * to a sigreturn trampoline.
 */
void unwind_rules_classify(const struct cfa_state *state, uint64_t ra_register, bool signal_frame,
			   struct unwind_row *row, struct unwind_table_stats *stats);

#endif
