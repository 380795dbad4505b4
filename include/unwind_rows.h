/* SPDX-License-Identifier: MIT */
/*
 * The compact CFI row format, shared by the user-space table builder
 * (user/unwind/) and the in-kernel unwinder (bpf/native_unwind.bpf.h): one
 * sorted array of 16-byte rows per ELF file, copied as is into a BPF array.
 * Only unsigned arithmetic is needed to decode it (clang 14 has no BPF signed
 * division): the packed pairs below decode with one arithmetic shift and a mask.
 */
#ifndef BPFSPY_UNWIND_ROWS_H
#define BPFSPY_UNWIND_ROWS_H

#include "bpfspy_types.h"

/*
 * How to compute the CFA (the caller's rsp; the return address is always at
 * CFA - 8 on x86-64). For the two-parameter kinds cfa_offset is packed as
 * (a << 8) | b with a signed 24-bit a and an unsigned 8-bit b:
 *   a = cfa_offset >> 8 (arithmetic), b = cfa_offset & 0xff.
 */
enum unwind_cfa_rule {
	UNWIND_CFA_NONE = 0,	/* no CFI covers this pc (gap between FDEs, or after the last) */
	UNWIND_CFA_RSP,		/* CFA = rsp + cfa_offset */
	UNWIND_CFA_RBP,		/* CFA = rbp + cfa_offset */
	UNWIND_CFA_PLT,		/* CFA = rsp + a + ((ip & 15) >= b ? 8 : 0); GCC/ld PLT, b is 11 or 10 */
	UNWIND_CFA_DEREF_RSP,	/* CFA = *(rsp + a) + b: stack realign (DW_OP_breg7; deref; plus_uconst) */
	UNWIND_CFA_DEREF_RBP,	/* CFA = *(rbp + a) + b: stack realign (DW_OP_breg6 -8; deref) */
	UNWIND_CFA_SIGNAL,	/* sigreturn trampoline: registers are in the ucontext at rsp + 40 */
	UNWIND_CFA_END,		/* return address undefined: outermost frame (_start, clone), stop cleanly */
	UNWIND_CFA_UNSUPPORTED, /* CFI exists but we cannot evaluate it (CFA in another register, other
				   expressions, return address not at CFA - 8): stop */
	UNWIND_CFA_RULE_COUNT,
};

/* Where the caller's rbp is. */
enum unwind_rbp_rule {
	UNWIND_RBP_SAME = 0,	/* unchanged (never saved, or same_value) */
	UNWIND_RBP_AT_CFA,	/* rbp = *(CFA + rbp_offset) */
	UNWIND_RBP_AT_RBP,	/* rbp = *(rbp + rbp_offset): stack realign, DW_CFA_expression DW_OP_breg6 */
	UNWIND_RBP_UNKNOWN,	/* a rule we cannot evaluate: the caller's rbp is unknown */
	UNWIND_RBP_RULE_COUNT,
};

/* One row holds from pc until the next row's pc. pc is an ELF virtual address of the file. */
struct unwind_row {
	__u64 pc;
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa_rule; /* enum unwind_cfa_rule */
	__u8 rbp_rule; /* enum unwind_rbp_rule */
};

/* Why an unwind (in the kernel or over a snapshot) ended. */
enum unwind_stop_reason {
	UNWIND_STOP_END_OF_STACK, /* outermost frame reached (RA undefined or zero) */
	UNWIND_STOP_NO_TABLE,	  /* no mapping or no CFI for a pc, and frame pointers did not help */
	UNWIND_STOP_LEFT_SNAPSHOT, /* needed a stack word outside the copy (kernel: unreadable memory) */
	UNWIND_STOP_BAD_RULE,	  /* unsupported rule, or a CFA that does not move up the stack */
	UNWIND_STOP_DEPTH,	  /* max_frames reached */
	UNWIND_STOP_REASONS,
};

/*
 * struct rt_sigframe: pretcode, then the ucontext, whose uc_mcontext.gregs
 * start 40 bytes in; REG_RBP/REG_RSP/REG_RIP index them (<sys/ucontext.h>).
 */
#define UNWIND_SIGFRAME_GREGS_OFFSET 40
#define UNWIND_GREG_RBP 10
#define UNWIND_GREG_RSP 15
#define UNWIND_GREG_RIP 16

#endif
