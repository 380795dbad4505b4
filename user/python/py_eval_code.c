// SPDX-License-Identifier: MIT
#include "python/py_eval_code.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "sym/elf_reader.h"
#include "unwind/cfi_image.h"
#include "util/sorted.h"

/* A real .cold part receives hundreds of jumps; a stray tail call a handful. */
#define COLD_MIN_VOTES 8
/* The eval loop is tens of KiB; refuse absurd symbol sizes from corrupt files. */
#define EVAL_MAX_HOT_SIZE (4u << 20)

struct elf_section_bytes {
	const uint8_t *data;
	size_t size;
	uint64_t vaddr;
};

static bool find_section(Elf *elf, const char *name, struct elf_section_bytes *out)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr shdr;
		const char *scn_name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		scn_name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!scn_name || strcmp(scn_name, name) != 0)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size != shdr.sh_size)
			return false;
		out->data = data->d_buf;
		out->size = data->d_size;
		out->vaddr = shdr.sh_addr;
		return true;
	}
	return false;
}

static int32_t load_s32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static long fde_containing(const struct code_range *fdes, size_t n, uint64_t addr)
{
	size_t lo = SORTED_COUNT_AT_OR_BELOW(fdes, n, start, addr);
	return lo > 0 && addr < fdes[lo - 1].end ? (long)(lo - 1) : -1;
}

/* Target of a `jmp rel32` or `jcc rel32` starting at code[i], or false if there is none. */
static bool near_jump_target(const uint8_t *code, size_t size, size_t i, uint64_t vaddr, uint64_t *target)
{
	if (code[i] == 0xe9 && size - i >= 5) {
		*target = vaddr + i + 5 + (uint64_t)(int64_t)load_s32(code + i + 1);
		return true;
	}
	if (code[i] == 0x0f && size - i >= 6 && (code[i + 1] & 0xf0) == 0x80) {
		*target = vaddr + i + 6 + (uint64_t)(int64_t)load_s32(code + i + 2);
		return true;
	}
	return false;
}

/*
 * The FDE ranges, in address order, of the functions the hot part's jump
 * targets fall in (by .eh_frame_hdr's sorted starts): only those FDEs are
 * read, a few hundred of an interpreter's ten thousand. An FDE whose end
 * cannot be read ends at the next function's start. Returns the count; *out
 * malloc'd.
 */
static size_t read_target_fde_ranges(Elf *elf, const uint8_t *hot, size_t hot_size, uint64_t hot_vaddr,
				     struct code_range **out)
{
	struct cfi_image image;
	struct cfi_fde_index_entry *index;
	struct cfi_cie_cache cie = { 0 };
	size_t count = cfi_image_load(&image, elf) ? cfi_image_fde_index(&image, &index) : 0;
	bool *hit = count ? calloc(count, sizeof(*hit)) : NULL;
	size_t nhit = 0;

	*out = NULL;
	for (size_t i = 0; hit && i < hot_size; i++) {
		uint64_t target;
		if (!near_jump_target(hot, hot_size, i, hot_vaddr, &target) ||
		    (target >= hot_vaddr && target < hot_vaddr + hot_size))
			continue;
		size_t lo = SORTED_COUNT_AT_OR_BELOW(index, count, pc, target);
		if (lo > 0 && !hit[lo - 1]) {
			hit[lo - 1] = true;
			nhit++;
		}
	}
	struct code_range *ranges = nhit ? calloc(nhit, sizeof(*ranges)) : NULL;
	size_t n = 0;
	for (size_t i = 0; ranges && i < count; i++) {
		if (!hit[i])
			continue;
		struct cfi_fde fde;
		ranges[n].start = index[i].pc;
		if (cfi_fde_at(&image.sections[0], index[i].offset, &cie, &fde) && fde.pc_begin == index[i].pc)
			ranges[n].end = fde.pc_end;
		else /* unknown length: up to the next FDE */
			ranges[n].end = i + 1 < count && index[i + 1].pc > index[i].pc ? index[i + 1].pc : index[i].pc;
		n++;
	}
	free(hit);
	if (count)
		free(index);
	*out = ranges;
	return ranges ? n : 0;
}

long eval_code_vote_cold_fde(const uint8_t *hot, size_t hot_size, uint64_t hot_vaddr,
			     const struct code_range *fdes, size_t nfdes, size_t min_votes, size_t *votes)
{
	/* Bytes are scanned at every offset, not decoded: stray matches scatter, real jumps pile up. */
	size_t *counts = nfdes ? calloc(nfdes, sizeof(*counts)) : NULL;
	long best = -1;

	*votes = 0;
	if (!counts)
		return -1;
	for (size_t i = 0; i < hot_size; i++) {
		uint64_t target;
		if (!near_jump_target(hot, hot_size, i, hot_vaddr + 0, &target))
			continue;
		if (target >= hot_vaddr && target < hot_vaddr + hot_size)
			continue;
		long fde = fde_containing(fdes, nfdes, target);
		if (fde >= 0 && fdes[fde].start != target) /* a jump to a function's start is a tail call */
			counts[fde]++;
	}
	for (size_t i = 0; i < nfdes; i++)
		if (counts[i] >= min_votes && (best < 0 || counts[i] > counts[best]))
			best = (long)i;
	if (best >= 0)
		*votes = counts[best];
	free(counts);
	return best;
}

static const uint8_t *section_bytes_at(const struct elf_section_bytes *s, uint64_t vaddr, uint64_t size)
{
	if (vaddr < s->vaddr || vaddr - s->vaddr > s->size || s->size - (vaddr - s->vaddr) < size)
		return NULL;
	return s->data + (vaddr - s->vaddr);
}

static void guess_cold_part(Elf *elf, struct eval_code *out)
{
	struct elf_section_bytes text;
	struct code_range *fdes;
	size_t nfdes, votes;
	uint64_t hot_size = out->hot.end - out->hot.start;

	if (!find_section(elf, ".text", &text))
		return;
	const uint8_t *hot = section_bytes_at(&text, out->hot.start, hot_size);
	if (!hot || (nfdes = read_target_fde_ranges(elf, hot, hot_size, out->hot.start, &fdes)) == 0)
		return;
	long cold = eval_code_vote_cold_fde(hot, hot_size, out->hot.start, fdes, nfdes, COLD_MIN_VOTES, &votes);
	if (cold >= 0 && fdes[cold].start != out->hot.start) {
		out->cold = fdes[cold];
		out->cold_source = EVAL_COLD_JUMP_TARGETS;
		out->cold_votes = votes;
	}
	free(fdes);
}

static bool find_function(const struct elf_symbols *syms, const char *name, struct code_range *out)
{
	uint64_t vaddr, size;
	if (!elf_symbols_find(syms, name, &vaddr, &size) || size == 0 || size > EVAL_MAX_HOT_SIZE)
		return false;
	out->start = vaddr;
	out->end = vaddr + size;
	return true;
}

int eval_code_find(int fd, const struct elf_symbols *syms, struct eval_code *out)
{
	memset(out, 0, sizeof(*out));
	if (!syms)
		return -EINVAL;
	if (find_function(syms, "_PyEval_EvalFrameDefault", &out->hot)) {
		out->found = true;
	} else if (find_function(syms, "PyEval_EvalFrameEx", &out->hot)) {
		out->found = out->legacy_name = true;
		return 0;
	} else {
		return 0;
	}
	if (find_function(syms, "_PyEval_EvalFrameDefault.cold", &out->cold)) {
		out->cold_source = EVAL_COLD_SYMBOL;
		return 0;
	}
	Elf *elf = elf_reader_open_fd(fd);
	if (!elf)
		return -EINVAL;
	guess_cold_part(elf, out);
	elf_reader_close(elf);
	return 0;
}

bool eval_code_contains(const struct eval_code *e, uint64_t vaddr)
{
	if (!e->found)
		return false;
	if (vaddr >= e->hot.start && vaddr < e->hot.end)
		return true;
	return e->cold_source != EVAL_COLD_NONE && vaddr >= e->cold.start && vaddr < e->cold.end;
}
