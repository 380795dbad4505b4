// SPDX-License-Identifier: MIT
/*
 * Builds the per-file unwind table: collects FDEs from .eh_frame and
 * .debug_frame, drops overlapping ones, runs each CFA program, classifies its
 * rows and merges them into one sorted array with "no info" markers at gaps.
 */
#include "unwind/unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/elf_reader.h"
#include "unwind/cfa_program.h"
#include "unwind/cfi_image.h"
#include "unwind/unwind_rules.h"
#include "util/array.h"
#include "util/sorted.h"

#define NT_GNU_BUILD_ID_TYPE 3
#define BUILD_ID_MAX_BYTES 32

/* An FDE as collected: enough to sort it, and to parse it again (cfi_fde_at) when its rows are made. */
struct fde_entry {
	uint64_t pc_begin;
	size_t offset;	 /* of its record */
	unsigned source; /* index into cfi_image.sections: lower wins overlaps (.eh_frame first) */
};

struct fde_list {
	struct fde_entry *entries;
	size_t count, capacity;
	unsigned source;
};

struct table_builder {
	struct unwind_table *table;
	const struct unwind_row_store *store; /* where the rows go; NULL: the heap */
	size_t capacity;
	bool signal_frame;
	uint64_t ra_register;
	bool out_of_memory;
	int code_fd;           /* the file, for reading code with pread; -1 for an image in memory */
	GElf_Shdr code_shdr;   /* the section the last code read came from */
	bool have_code_shdr;
};

static void read_build_id(Elf *elf, char *hex, size_t hex_size)
{
	Elf_Scn *scn = NULL;

	hex[0] = '\0';
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		GElf_Nhdr nhdr;
		Elf_Data *data;
		size_t offset = 0, name_offset, desc_offset;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE || !(data = elf_getdata(scn, NULL)))
			continue;
		while ((offset = gelf_getnote(data, offset, &nhdr, &name_offset, &desc_offset)) > 0) {
			const uint8_t *desc = (const uint8_t *)data->d_buf + desc_offset;

			if (nhdr.n_type != NT_GNU_BUILD_ID_TYPE || nhdr.n_namesz != 4 ||
			    memcmp((const char *)data->d_buf + name_offset, "GNU", 4) != 0 ||
			    nhdr.n_descsz == 0 || nhdr.n_descsz > BUILD_ID_MAX_BYTES || hex_size < 2 * nhdr.n_descsz + 1)
				continue;
			for (size_t i = 0; i < nhdr.n_descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", desc[i]);
			return;
		}
	}
}

static void read_load_segments(Elf *elf, struct unwind_table *table)
{
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum) != 0)
		return;
	for (size_t i = 0; i < phnum && table->segment_count < UNWIND_MAX_LOAD_SEGMENTS; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_LOAD || !(phdr.p_flags & PF_X))
			continue;
		table->segments[table->segment_count++] = (struct unwind_load_segment){
			.vaddr = phdr.p_vaddr, .offset = phdr.p_offset, .filesz = phdr.p_filesz,
		};
	}
}

/* ---- collecting FDEs ---- */

static int collect_fde(void *ctx, const struct cfi_fde *fde)
{
	struct fde_list *list = ctx;

	if (fde->pc_begin == fde->pc_end)
		return 0; /* describes no code */
	if (array_reserve((void **)&list->entries, &list->capacity, list->count + 1, sizeof(*list->entries)) != 0)
		return 1;
	list->entries[list->count++] = (struct fde_entry){
		.pc_begin = fde->pc_begin, .offset = fde->offset, .source = list->source,
	};
	return 0;
}

/*
 * A file with .eh_frame only (nearly all of them) lists its FDEs in address
 * order in .eh_frame_hdr: no walk of .eh_frame, no sort. Their ends are
 * known when each is parsed again for its rows.
 */
static bool index_fdes(const struct cfi_image *image, struct fde_list *fdes)
{
	struct cfi_fde_index_entry *index;
	size_t n = image->section_count == 1 ? cfi_image_fde_index(image, &index) : 0;

	if (n == 0)
		return false;
	fdes->entries = malloc(n * sizeof(*fdes->entries));
	if (!fdes->entries) {
		free(index);
		return false;
	}
	array_populate(fdes->entries, n * sizeof(*fdes->entries));
	for (size_t i = 0; i < n; i++)
		fdes->entries[i] = (struct fde_entry){ .pc_begin = index[i].pc, .offset = index[i].offset, .source = 0 };
	fdes->count = fdes->capacity = n;
	free(index);
	return true;
}

static int compare_fdes(const void *a, const void *b)
{
	const struct fde_entry *x = a, *y = b;

	if (x->pc_begin != y->pc_begin)
		return x->pc_begin < y->pc_begin ? -1 : 1;
	return (int)x->source - (int)y->source;
}

/* ---- emitting rows ---- */

static bool same_rules(const struct unwind_row *a, const struct unwind_row *b)
{
	return a->cfa_rule == b->cfa_rule && a->cfa_offset == b->cfa_offset && a->rbp_rule == b->rbp_rule &&
	       a->rbp_offset == b->rbp_offset;
}

/* Appends in pc order: a row at the pc of the last one replaces it, a row equal to the last is dropped. */
static bool append_row(struct table_builder *b, const struct unwind_row *row)
{
	struct unwind_table *t = b->table;

	if (t->row_count && t->rows[t->row_count - 1].pc == row->pc)
		t->row_count--;
	if (t->row_count && same_rules(&t->rows[t->row_count - 1], row))
		return true;
	if (t->row_count == b->capacity) {
		size_t capacity = b->capacity ? 2 * b->capacity : 4096;
		/* a store's memory cannot grow: past the guess, the rows move to the heap */
		struct unwind_row *grown = t->store ? malloc(capacity * sizeof(*grown))
						    : realloc(t->rows, capacity * sizeof(*grown));

		if (!grown) {
			b->out_of_memory = true;
			return false;
		}
		if (t->store) {
			memcpy(grown, t->rows, t->row_count * sizeof(*grown));
			t->store->release(t->rows, t->row_capacity, t->store_handle);
			t->store = NULL;
		}
		t->rows = grown;
		t->row_capacity = b->capacity = capacity;
	}
	t->rows[t->row_count++] = *row;
	return true;
}

static int emit_cfi_row(void *ctx, uint64_t begin, uint64_t end, const struct cfa_state *state)
{
	struct table_builder *b = ctx;
	struct unwind_row row = { .pc = begin };

	(void)end;
	b->table->stats.cfi_rows++;
	unwind_rules_classify(state, b->ra_register, b->signal_frame, &row, &b->table->stats);
	return append_row(b, &row) ? 0 : 1;
}

/*
 * Reads code bytes at vaddr. From the file with pread when it is at hand:
 * through libelf's mapping each small function's first bytes fault in a page
 * of .text (181 pages for python3's 332 trampoline-sized FDEs, about 2 ms of
 * every start).
 */
static bool read_code(struct table_builder *b, Elf *elf, uint64_t vaddr, void *out, size_t length)
{
	GElf_Shdr *s = &b->code_shdr;

	if (b->code_fd < 0)
		return cfi_image_read(elf, vaddr, out, length);
	if (!b->have_code_shdr || vaddr < s->sh_addr || length > s->sh_size || vaddr - s->sh_addr > s->sh_size - length) {
		b->have_code_shdr = cfi_image_section_at(elf, vaddr, length, s) != NULL;
		if (!b->have_code_shdr)
			return false;
	}
	return pread(b->code_fd, out, length, (off_t)(s->sh_offset + (vaddr - s->sh_addr))) == (ssize_t)length;
}

/* glibc's __restore_rt and musl's __restore_rt: mov $15,%rax; syscall (rt_sigreturn). */
#define SIGRETURN_FDE_MIN_BYTES 9  /* mov, syscall */
#define SIGRETURN_FDE_MAX_BYTES 10 /* glibc's FDE starts one byte early, at a nop */
static bool is_sigreturn_trampoline(struct table_builder *b, Elf *elf, uint64_t pc)
{
	static const uint8_t sigreturn[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	uint8_t code[sizeof(sigreturn) + 1];

	if (!read_code(b, elf, pc, code, sizeof(code)))
		return false;
	/* glibc starts the FDE one byte early, at a nop, so that RA - 1 lookups land inside it. */
	return memcmp(code, sigreturn, sizeof(sigreturn)) == 0 || memcmp(code + 1, sigreturn, sizeof(sigreturn)) == 0;
}

static void add_fde_rows(struct table_builder *b, Elf *elf, const struct cfi_fde *fde)
{
	struct unwind_table *t = b->table;
	size_t rows_before = t->row_count;
	struct unwind_row previous_last = rows_before ? t->rows[rows_before - 1] : (struct unwind_row){ 0 };
	struct unwind_row end_marker = { .pc = fde->pc_end, .cfa_rule = UNWIND_CFA_NONE };
	int ret;

	/* Only an FDE of the trampoline's size can be one: reading each function's first bytes would fault
	 * in all of .text (even every FDE of at most 16 bytes is 400 pages of python3). */
	uint64_t fde_bytes = fde->pc_end - fde->pc_begin;
	b->signal_frame = fde->cie.signal_frame ||
			  (fde_bytes >= SIGRETURN_FDE_MIN_BYTES && fde_bytes <= SIGRETURN_FDE_MAX_BYTES &&
			   is_sigreturn_trampoline(b, elf, fde->pc_begin));
	b->ra_register = fde->cie.ra_register;
	ret = cfa_program_run(fde, emit_cfi_row, b);
	if (ret != 0 && !b->out_of_memory) {
		/* A broken program may have described only part of the function: drop it all, leaving
		 * the previous FDE's end marker to cover it. The first row may have replaced that marker
		 * (same pc), so put it back. */
		t->row_count = rows_before;
		if (rows_before)
			t->rows[rows_before - 1] = previous_last;
		t->stats.fdes_rejected++;
		end_marker.pc = fde->pc_begin;
	} else {
		t->stats.fdes++;
	}
	append_row(b, &end_marker);
}

/* The table's arrays at their final size, give or take: FDEs make 6-8 rows each. */
#define ROWS_PER_FDE_GUESS 8

static bool reserve_table(struct table_builder *b, size_t fdes)
{
	struct unwind_table *t = b->table;
	size_t rows = fdes > SIZE_MAX / (2 * ROWS_PER_FDE_GUESS) ? fdes : fdes * ROWS_PER_FDE_GUESS;

	t->rows = b->store ? b->store->reserve(rows, &t->store_handle) : NULL;
	if (t->rows)
		t->store = b->store;
	else if ((t->rows = malloc(rows * sizeof(*t->rows))))
		/* written once, front to back: one call maps them, instead of a page fault per page */
		array_populate(t->rows, rows * sizeof(*t->rows));
	t->functions = malloc(fdes * sizeof(*t->functions));
	if (!t->rows || !t->functions)
		return false;
	t->row_capacity = b->capacity = rows;
	array_populate(t->functions, fdes * sizeof(*t->functions));
	return true;
}

static void add_all_fdes(struct table_builder *b, const struct cfi_image *image, Elf *elf, struct fde_list *fdes)
{
	struct cfi_cie_cache caches[CFI_IMAGE_MAX_SECTIONS] = { 0 };
	uint64_t covered_until = 0;

	if (fdes->count == 0)
		return;
	if (!reserve_table(b, fdes->count)) {
		b->out_of_memory = true;
		return;
	}
	bool sorted = true; /* .eh_frame_hdr's table is, unless the file is corrupt */
	for (size_t i = 1; i < fdes->count && sorted; i++)
		sorted = compare_fdes(&fdes->entries[i - 1], &fdes->entries[i]) <= 0;
	if (!sorted)
		qsort(fdes->entries, fdes->count, sizeof(*fdes->entries), compare_fdes);
	for (size_t i = 0; i < fdes->count && !b->out_of_memory; i++) {
		const struct fde_entry *e = &fdes->entries[i];
		struct cfi_fde fde;

		if (e->pc_begin < covered_until ||
		    !cfi_fde_at(&image->sections[e->source], e->offset, &caches[e->source], &fde) ||
		    fde.pc_begin != e->pc_begin) { /* a search table that does not match its FDE */
			b->table->stats.fdes_rejected++;
			continue;
		}
		if (fde.pc_begin == fde.pc_end)
			continue; /* describes no code (a walk leaves these out) */
		size_t used = b->table->stats.fdes;
		add_fde_rows(b, elf, &fde);
		covered_until = fde.pc_end;
		if (b->table->stats.fdes > used) /* room for every FDE was reserved */
			b->table->functions[b->table->function_count++] =
				(struct unwind_function){ .start = fde.pc_begin, .end = fde.pc_end };
	}
}

static void count_rules(struct unwind_table *t)
{
	t->stats.rows = t->row_count;
	for (size_t i = 0; i < t->row_count; i++) {
		if (t->rows[i].cfa_rule < UNWIND_CFA_RULE_COUNT)
			t->stats.cfa_rule_rows[t->rows[i].cfa_rule]++;
		if (t->rows[i].rbp_rule < UNWIND_RBP_RULE_COUNT)
			t->stats.rbp_rule_rows[t->rows[i].rbp_rule]++;
	}
}

static int build_from_elf(Elf *elf, int fd, const struct unwind_row_store *store, struct unwind_table **out)
{
	struct cfi_image image;
	struct fde_list fdes = { 0 };
	struct table_builder builder = { .code_fd = fd, .store = store };
	struct unwind_table *table;
	GElf_Ehdr ehdr;

	*out = NULL;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) || gelf_getclass(elf) != ELFCLASS64 ||
	    ehdr.e_machine != EM_X86_64)
		return -EINVAL;
	if (cfi_image_load(&image, elf) == 0)
		return -ENOENT;
	table = calloc(1, sizeof(*table));
	if (!table)
		return -ENOMEM;
	if (!index_fdes(&image, &fdes)) {
		for (size_t i = 0; i < image.section_count; i++) {
			struct cfi_walk_stats walk;

			fdes.source = (unsigned)i;
			if (cfi_section_walk(&image.sections[i], collect_fde, &fdes, &walk) != 0)
				builder.out_of_memory = true;
			table->stats.fdes_rejected += walk.bad_records;
			table->stats.truncated |= walk.truncated;
		}
	}
	builder.table = table;
	if (!builder.out_of_memory)
		add_all_fdes(&builder, &image, elf, &fdes);
	free(fdes.entries);
	if (builder.out_of_memory) {
		unwind_table_free(table);
		return -ENOMEM;
	}
	/* give back what the guess reserved beyond the rows made (shrinking moves nothing) */
	if (!table->store && table->row_count && table->row_count < builder.capacity) {
		struct unwind_row *fitted = realloc(table->rows, table->row_count * sizeof(*table->rows));
		if (fitted) {
			table->rows = fitted;
			table->row_capacity = table->row_count;
		}
	}
	count_rules(table);
	read_build_id(elf, table->build_id, sizeof(table->build_id));
	/* where the kernel enters a program (or ld.so): its outermost function, symbols or not */
	table->entry = ehdr.e_entry;
	read_load_segments(elf, table);
	*out = table;
	return 0;
}

static bool init_libelf(void)
{
	static bool ready;

	if (!ready)
		ready = elf_version(EV_CURRENT) != EV_NONE;
	return ready;
}

int unwind_table_build_from_memory(const void *image, size_t size, struct unwind_table **out)
{
	Elf *elf;
	int ret;

	*out = NULL;
	if (!init_libelf())
		return -EINVAL;
	/* ELF_C_READ on memory never writes the image; libelf's prototype just is not const. */
	elf = elf_memory((char *)image, size);
	if (!elf)
		return -EINVAL;
	ret = build_from_elf(elf, -1, NULL, out);
	elf_end(elf);
	return ret;
}

int unwind_table_build_from_path(const char *path, struct unwind_table **out)
{
	return unwind_table_build_in_store(path, NULL, out);
}

int unwind_table_build_in_store(const char *path, const struct unwind_row_store *store, struct unwind_table **out)
{
	Elf *elf;
	int fd, ret;

	*out = NULL;
	if (!init_libelf())
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_reader_open_fd(fd);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	ret = build_from_elf(elf, fd, store, out);
	elf_reader_close(elf);
	close(fd);
	return ret;
}

void unwind_table_free(struct unwind_table *table)
{
	if (!table)
		return;
	if (table->store)
		table->store->release(table->rows, table->row_capacity, table->store_handle);
	else
		free(table->rows);
	free(table->functions);
	free(table);
}

int unwind_table_give_store_handle(struct unwind_table *table)
{
	int handle = table->store ? table->store_handle : -1;
	if (table->store)
		table->store_handle = -1;
	return handle;
}

bool unwind_table_function_start(const struct unwind_table *table, uint64_t pc, uint64_t *start)
{
	size_t n = SORTED_COUNT_AT_OR_BELOW(table->functions, table->function_count, start, pc);

	if (!n || pc >= table->functions[n - 1].end)
		return false;
	*start = table->functions[n - 1].start;
	return true;
}

const struct unwind_row *unwind_table_lookup(const struct unwind_table *table, uint64_t pc)
{
	size_t n = SORTED_COUNT_AT_OR_BELOW(table->rows, table->row_count, pc, pc);

	return n ? &table->rows[n - 1] : NULL; /* the last row with row.pc <= pc */
}

int unwind_table_load_bias(const struct unwind_table *table, uint64_t map_start, uint64_t map_offset,
			   uint64_t *bias)
{
	for (size_t i = 0; i < table->segment_count; i++) {
		const struct unwind_load_segment *seg = &table->segments[i];
		uint64_t page_offset = seg->offset & ~(uint64_t)0xfff;

		/* The kernel maps from the page containing p_offset. */
		if (map_offset < page_offset || map_offset >= seg->offset + seg->filesz)
			continue;
		*bias = map_start - map_offset + seg->offset - seg->vaddr;
		return 0;
	}
	return -ENOENT;
}
