// SPDX-License-Identifier: MIT
/*
 * Unwind tables from damaged ELF images and unwinding over garbage stacks:
 * every case must end in an error or a partial, well-formed table, never a
 * crash, hang or out-of-bounds read (run the ASan build for the last part).
 * The .eh_frame location comes from libelf directly, not from the code under
 * test.
 */
#include <gelf.h>
#include <libelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/unwind_test_util.h"
#include "unwind/unwind.h"

#define SUBJECT "/lib/x86_64-linux-gnu/libc.so.6"

struct image {
	uint8_t *bytes;
	size_t size;
	size_t eh_frame_offset, eh_frame_size;
	uint64_t eh_frame_addr;
	size_t eh_frame_hdr_offset; /* 0: none */
};

static struct image original;

static int load_subject(void **state)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	original.bytes = unwind_test_read_file(SUBJECT, &original.size);
	if (!original.bytes || elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	elf = elf_memory((char *)original.bytes, original.size);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return -1;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (gelf_getshdr(scn, &shdr) && (name = elf_strptr(elf, shstrndx, shdr.sh_name)) &&
		    strcmp(name, ".eh_frame") == 0) {
			original.eh_frame_offset = shdr.sh_offset;
			original.eh_frame_size = shdr.sh_size;
			original.eh_frame_addr = shdr.sh_addr;
		}
		if (gelf_getshdr(scn, &shdr) && (name = elf_strptr(elf, shstrndx, shdr.sh_name)) &&
		    strcmp(name, ".eh_frame_hdr") == 0)
			original.eh_frame_hdr_offset = shdr.sh_offset;
	}
	elf_end(elf);
	return original.eh_frame_size ? 0 : -1;
}

static int free_subject(void **state)
{
	free(original.bytes);
	return 0;
}

static uint8_t *copy_of_original(void)
{
	uint8_t *copy = malloc(original.size);

	assert_non_null(copy);
	memcpy(copy, original.bytes, original.size);
	return copy;
}

static void assert_well_formed(const struct unwind_table *t)
{
	for (size_t i = 0; i < t->row_count; i++) {
		assert_true(t->rows[i].cfa_rule < UNWIND_CFA_RULE_COUNT);
		assert_true(t->rows[i].rbp_rule < UNWIND_RBP_RULE_COUNT);
		if (i)
			assert_true(t->rows[i - 1].pc < t->rows[i].pc);
	}
}

/* Walks the record headers (length, id) the way the format defines them, to pick a record to damage. */
static size_t offset_of_record(const uint8_t *eh_frame, size_t size, size_t index)
{
	size_t offset = 0;

	for (size_t i = 0; i < index && offset + 4 <= size; i++) {
		uint32_t length;

		memcpy(&length, eh_frame + offset, 4);
		offset += 4 + length;
	}
	return offset;
}

static void test_intact_image_builds_full_table(void **state)
{
	struct unwind_table *t;

	assert_int_equal(unwind_table_build_from_memory(original.bytes, original.size, &t), 0);
	assert_false(t->stats.truncated);
	assert_int_equal(t->stats.fdes_rejected, 0);
	assert_true(t->stats.fdes > 1000);
	assert_well_formed(t);
	unwind_table_free(t);
}

/*
 * A record length running past the section: walking .eh_frame ends there
 * (the FDEs before it stay, exactly); with .eh_frame_hdr's search table
 * only that record's FDE is lost.
 */
static void test_broken_length_gives_partial_table(void **state)
{
	uint8_t *copy = copy_of_original();
	uint8_t *eh_frame = copy + original.eh_frame_offset;
	size_t offset = offset_of_record(eh_frame, original.eh_frame_size, 1000);
	uint32_t huge = 0xfffffff0;
	struct unwind_table *full, *indexed, *partial;
	size_t checked = 0;

	assert_true(offset + 8 < original.eh_frame_size);
	assert_true(original.eh_frame_hdr_offset > 0);
	memcpy(eh_frame + offset, &huge, 4);
	assert_int_equal(unwind_table_build_from_memory(original.bytes, original.size, &full), 0);
	assert_int_equal(unwind_table_build_from_memory(copy, original.size, &indexed), 0);
	assert_false(indexed->stats.truncated);
	assert_int_equal(indexed->stats.fdes_rejected, 1);
	assert_int_equal(indexed->stats.fdes, full->stats.fdes - 1);
	assert_well_formed(indexed);
	unwind_table_free(indexed);
	copy[original.eh_frame_hdr_offset] = 0; /* a search table of an unknown version: walked */
	assert_int_equal(unwind_table_build_from_memory(copy, original.size, &partial), 0);
	assert_true(partial->stats.truncated);
	assert_true(partial->stats.fdes < full->stats.fdes);
	assert_true(partial->stats.fdes >= 900);
	assert_well_formed(partial);
	/* Wherever the partial table has CFI, it agrees with the full one. */
	for (size_t i = 0; i < partial->row_count; i++) {
		const struct unwind_row *p = &partial->rows[i], *f = unwind_table_lookup(full, p->pc);

		if (p->cfa_rule == UNWIND_CFA_NONE)
			continue;
		assert_non_null(f);
		assert_int_equal(p->cfa_rule, f->cfa_rule);
		assert_int_equal(p->cfa_offset, f->cfa_offset);
		assert_int_equal(p->rbp_rule, f->rbp_rule);
		checked++;
	}
	assert_true(checked > 5000);
	unwind_table_free(full);
	unwind_table_free(partial);
	free(copy);
}

/* The first record of libc's .eh_frame is the CIE every FDE uses: an unknown version rejects them all. */
static void test_bad_cie_rejects_its_fdes(void **state)
{
	uint8_t *copy = copy_of_original();
	struct unwind_table *t;

	copy[original.eh_frame_offset + 8] = 99; /* length(4) id(4) version */
	assert_int_equal(unwind_table_build_from_memory(copy, original.size, &t), 0);
	assert_true(t->stats.fdes_rejected > 1000);
	assert_well_formed(t);
	unwind_table_free(t);
	free(copy);
}

static void test_truncated_files(void **state)
{
	static const double cuts[] = { 0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 0.999 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		size_t size = (size_t)((double)original.size * cuts[i]);
		uint8_t *copy = malloc(size ? size : 1);
		struct unwind_table *t = NULL;
		int ret;

		memcpy(copy, original.bytes, size);
		ret = unwind_table_build_from_memory(copy, size, &t);
		if (ret == 0)
			assert_well_formed(t);
		else
			assert_null(t);
		unwind_table_free(t);
		free(copy);
	}
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void test_random_byte_damage(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t errors = 0, partial = 0;

	for (int round = 0; round < 150; round++) {
		uint8_t *copy = copy_of_original();
		struct unwind_table *t;
		int flips = 1 + (int)(next_random(&seed) % 64);

		for (int i = 0; i < flips; i++)
			copy[original.eh_frame_offset + next_random(&seed) % original.eh_frame_size] =
				(uint8_t)next_random(&seed);
		if (unwind_table_build_from_memory(copy, original.size, &t) != 0) {
			errors++;
		} else {
			assert_well_formed(t);
			partial += t->stats.fdes_rejected > 0 || t->stats.truncated;
			unwind_table_free(t);
		}
		free(copy);
	}
	printf("random damage: 150 images, %zu errors, %zu partial tables\n", errors, partial);
	assert_true(partial > 0); /* the damage did reach the parser */
}

/* Garbage stacks with real tables: the walk must end inside the bounds, whatever it finds. */
static void test_unwinding_garbage_stacks(void **state)
{
	struct unwind_test_process p;
	uint64_t seed = 12345, frames[64];
	static uint64_t stack[2048];

	assert_int_equal(unwind_test_process_load(&p), 0);
	for (int round = 0; round < 300; round++) {
		struct unwind_result result;
		const struct unwind_mapping *m = &p.mappings[next_random(&seed) % p.count];
		struct unwind_snapshot_input in = {
			.regs = { .ip = m->start + next_random(&seed) % (m->end - m->start),
				  .sp = 0x7ffc00000000 + 8 * (next_random(&seed) % 1024),
				  .bp = 0x7ffc00000000 + next_random(&seed) % 20000 },
			.stack = (const uint8_t *)stack,
			.stack_size = sizeof(stack) - 8 * (next_random(&seed) % 64),
			.find_mapping = unwind_address_space_find,
			.find_mapping_ctx = &p.space,
		};

		/* Words that look like code addresses and stack addresses, and noise. */
		for (size_t i = 0; i < sizeof(stack) / sizeof(stack[0]); i++) {
			uint64_t r = next_random(&seed);
			const struct unwind_mapping *target = &p.mappings[r % p.count];

			stack[i] = (r >> 8) % 3 == 0   ? target->start + (r >> 16) % (target->end - target->start)
				   : (r >> 8) % 3 == 1 ? in.regs.sp + (r >> 20) % 20000
						       : r;
		}
		assert_int_equal(unwind_snapshot(&in, frames, 64, &result), 0);
		assert_true(result.frame_count >= 1 && result.frame_count <= 64);
	}
	unwind_test_process_free(&p);
}

/*
 * A sample interrupted at the first instruction of code without CFI (a
 * module's _init, in the page fault of its first touch): the return address
 * on top of the stack is used when it returns into code with CFI, and only
 * then; a return address that is a return address is never taken so.
 */
static void test_leaf_without_cfi_at_entry(void **state)
{
	(void)state;
	/* ELF 0x1000-0x1100: a function whose CFA is rsp + 8; from 0x1100 on: no CFI */
	struct unwind_row rows[] = {
		{ .pc = 0x1000, .cfa_offset = 8, .cfa_rule = UNWIND_CFA_RSP, .rbp_rule = UNWIND_RBP_SAME },
		{ .pc = 0x1100, .cfa_rule = UNWIND_CFA_NONE },
	};
	struct unwind_table table = { .rows = rows, .row_count = 2 };
	struct unwind_mapping mapping = { .start = 0x400000, .end = 0x410000, .bias = 0x400000, .table = &table };
	struct unwind_address_space space = { .mappings = &mapping, .count = 1 };
	uint64_t stack[4] = { 0x401010 /* into the function with CFI */, 0 /* its caller: the end */ };
	uint64_t frames[8];
	struct unwind_result result;
	struct unwind_snapshot_input in = {
		.regs = { .ip = 0x402000, .sp = 0x7ffc00000000, .bp = 0 },
		.stack = (const uint8_t *)stack,
		.stack_size = sizeof(stack),
		.find_mapping = unwind_address_space_find,
		.find_mapping_ctx = &space,
	};

	assert_int_equal(unwind_snapshot(&in, frames, 8, &result), 0);
	assert_int_equal(result.frame_count, 2);
	assert_int_equal(frames[1], 0x401010);
	assert_int_equal(result.stop_reason, UNWIND_STOP_END_OF_STACK);

	/* the word on top returns into code without CFI: not a frame we can trust */
	stack[0] = 0x403000;
	assert_int_equal(unwind_snapshot(&in, frames, 8, &result), 0);
	assert_int_equal(result.frame_count, 1);
	assert_int_equal(result.stop_reason, UNWIND_STOP_NO_TABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact_image_builds_full_table),
		cmocka_unit_test(test_broken_length_gives_partial_table),
		cmocka_unit_test(test_bad_cie_rejects_its_fdes),
		cmocka_unit_test(test_truncated_files),
		cmocka_unit_test(test_random_byte_damage),
		cmocka_unit_test(test_unwinding_garbage_stacks),
		cmocka_unit_test(test_leaf_without_cfi_at_entry),
	};

	return cmocka_run_group_tests(tests, load_subject, free_subject);
}
