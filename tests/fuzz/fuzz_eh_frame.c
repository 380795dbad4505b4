// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the CFI parser. The first input byte picks what the
 * rest is: raw .eh_frame bytes, raw .debug_frame bytes (both walked and every
 * FDE's CFA program run and classified), or a whole ELF image given to the
 * table builder.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "unwind/cfa_program.h"
#include "unwind/cfi_entries.h"
#include "unwind/unwind.h"
#include "unwind/unwind_rules.h"

struct fuzz_rows {
	struct unwind_table_stats stats;
	uint64_t ra_register;
	bool signal_frame;
	uint64_t last_end;
};

static int check_row(void *ctx, uint64_t begin, uint64_t end, const struct cfa_state *state)
{
	struct fuzz_rows *rows = ctx;
	struct unwind_row row = { .pc = begin };

	if (begin >= end || begin < rows->last_end)
		__builtin_trap(); /* rows must be non-empty and move forward */
	rows->last_end = end;
	unwind_rules_classify(state, rows->ra_register, rows->signal_frame, &row, &rows->stats);
	return 0;
}

static int run_fde(void *ctx, const struct cfi_fde *fde)
{
	struct fuzz_rows *rows = ctx;

	rows->ra_register = fde->cie.ra_register;
	rows->signal_frame = fde->cie.signal_frame;
	rows->last_end = fde->pc_begin;
	cfa_program_run(fde, check_row, rows);
	return 0;
}

static bool fake_indirect_target(void *ctx, uint64_t vaddr, uint64_t *out)
{
	*out = vaddr ^ 0x5555;
	return (vaddr & 1) == 0;
}

static void fuzz_section(const uint8_t *data, size_t size, enum cfi_section_kind kind)
{
	struct cfi_section section = {
		.kind = kind, .data = data, .size = size, .vaddr = 0x400000,
		.pointers = { .bases = { .data = 0x600000 }, .read_target = fake_indirect_target },
	};
	struct fuzz_rows rows = { 0 };
	struct cfi_walk_stats stats;

	cfi_section_walk(&section, run_fde, &rows, &stats);
}

static void fuzz_elf(const uint8_t *data, size_t size)
{
	struct unwind_table *table;

	if (unwind_table_build_from_memory(data, size, &table) != 0)
		return;
	for (size_t i = 1; i < table->row_count; i++)
		if (table->rows[i - 1].pc >= table->rows[i].pc)
			__builtin_trap();
	unwind_table_lookup(table, size);
	unwind_table_free(table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_section(data + 1, size - 1, CFI_SECTION_EH_FRAME);
		break;
	case 1:
		fuzz_section(data + 1, size - 1, CFI_SECTION_DEBUG_FRAME);
		break;
	default:
		fuzz_elf(data + 1, size - 1);
		break;
	}
	return 0;
}
