/* SPDX-License-Identifier: MIT */
/*
 * Where the CPython eval loop's machine code is in one ELF file: the
 * _PyEval_EvalFrameDefault symbol, and its GCC-split ".cold" part. In a
 * stripped interpreter (Debian's static python3) the .cold part is a local
 * symbol that is gone, yet with PGO builds much of the loop lives there; it is
 * then found as the .eh_frame FDE that most of the hot part's jumps land in.
 */
#ifndef BPFSPY_PYTHON_PY_EVAL_CODE_H
#define BPFSPY_PYTHON_PY_EVAL_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sym/native_symbols.h"

/* [start, end) in ELF virtual addresses. */
struct code_range {
	uint64_t start, end;
};

enum eval_cold_source {
	EVAL_COLD_NONE = 0,	/* no cold part found */
	EVAL_COLD_SYMBOL,	/* "_PyEval_EvalFrameDefault.cold" in .symtab */
	EVAL_COLD_JUMP_TARGETS, /* the FDE most jumps out of the hot part land in */
};

struct eval_code {
	bool found; /* the file has an eval loop (it is an interpreter: python or libpython) */
	bool legacy_name; /* the loop is PyEval_EvalFrameEx (no _PyEval_EvalFrameDefault) */
	struct code_range hot;
	struct code_range cold; /* empty when cold_source is EVAL_COLD_NONE */
	enum eval_cold_source cold_source;
	size_t cold_votes; /* jumps into the chosen cold FDE (EVAL_COLD_JUMP_TARGETS) */
};

/*
 * Fills out for the file open on fd, whose symbols are syms. Returns 0 (also
 * when the file is no interpreter: out->found is false), or -errno when the
 * file cannot be read as ELF.
 */
int eval_code_find(int fd, const struct elf_symbols *syms, struct eval_code *out);

/* Whether vaddr lies in the eval loop's hot or cold part. */
bool eval_code_contains(const struct eval_code *e, uint64_t vaddr);

/*
 * The cold-part guess on its own, for tests: given the hot part's bytes at
 * hot_vaddr, and the sorted FDE ranges of the file, the index of the FDE most
 * jumps out of the hot part land in, or -1 if fewer than min_votes do.
 */
long eval_code_vote_cold_fde(const uint8_t *hot, size_t hot_size, uint64_t hot_vaddr,
			     const struct code_range *fdes, size_t nfdes, size_t min_votes, size_t *votes);

#endif
