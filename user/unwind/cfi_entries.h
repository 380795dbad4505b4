/* SPDX-License-Identifier: MIT */
/*
 * CIE/FDE records of .eh_frame and .debug_frame (DWARF 5 §6.4.1, LSB
 * "Exception Frames"). Walks a section and hands each well-formed FDE, with
 * the CIE fields it needs, to a callback. Malformed records are counted and
 * skipped when their length is trustworthy; a broken length ends the walk.
 */
#ifndef BPFSPY_UNWIND_CFI_ENTRIES_H
#define BPFSPY_UNWIND_CFI_ENTRIES_H

#include "unwind/dwarf_cursor.h"

enum cfi_section_kind {
	CFI_SECTION_EH_FRAME,
	CFI_SECTION_DEBUG_FRAME,
};

struct cfi_section {
	enum cfi_section_kind kind;
	const uint8_t *data;
	size_t size;
	uint64_t vaddr;
	struct dwarf_pointer_context pointers; /* datarel base, indirect resolver */
};

struct cfi_cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_register;
	uint8_t fde_pointer_encoding;
	bool has_augmentation_data; /* 'z' */
	bool signal_frame;	    /* 'S' */
	struct dwarf_cursor initial_instructions;
};

struct cfi_fde {
	size_t offset;             /* of its record in the section: cfi_fde_at parses it again from there */
	uint64_t pc_begin, pc_end; /* [begin, end) */
	struct cfi_cie cie;
	struct dwarf_cursor instructions;
	struct dwarf_pointer_context pointers; /* for DW_CFA_set_loc */
};

struct cfi_walk_stats {
	size_t cie_parses; /* CIEs decoded (a CIE shared by interleaved FDEs may count twice) */
	size_t fdes;
	size_t bad_records; /* skipped CIEs/FDEs with unparseable contents */
	bool truncated;	    /* a record length ran past the section: rest not read */
};

/* Return nonzero from the callback to stop the walk with that value. */
typedef int (*cfi_fde_fn)(void *ctx, const struct cfi_fde *fde);

/* Returns 0, or the callback's nonzero value. Malformed input only shows in stats. */
int cfi_section_walk(const struct cfi_section *section, cfi_fde_fn fn, void *ctx,
		     struct cfi_walk_stats *stats);

/* The last CIE parsed: FDEs share a handful of them. Zeroed: empty. */
struct cfi_cie_cache {
	bool valid;
	size_t offset;
	bool parsed_ok;
	struct cfi_cie cie;
};

/*
 * The FDE whose record starts at offset (a cfi_fde's offset from a walk of
 * the same section), parsed again: a caller that sorts FDEs keeps 32 bytes
 * of each instead of the whole cfi_fde. false if it is not an FDE that parses.
 */
bool cfi_fde_at(const struct cfi_section *section, size_t offset, struct cfi_cie_cache *cache,
		struct cfi_fde *fde);

#endif
