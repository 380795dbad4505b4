// SPDX-License-Identifier: MIT
/*
 * Our unwind tables against an independent CFI decoder: binutils'
 * `readelf --debug-dump=frames-interp`, row by row, for the system libc,
 * /usr/bin/python3.11, pyenv's libpython3.12 and a shared object built here
 * with only .debug_frame. For a sample of FDEs, every row readelf prints must
 * give the same CFA rule and offset and the same rbp rule in our table.
 * readelf prints "exp" for any expression, so there we only check that our
 * row is one of the expression-derived kinds.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers/pyenv_path.h"
#include "helpers/unwind_test_util.h"
#include "unwind/unwind.h"

#define MAX_COLUMNS 40

struct readelf_walk {
	const struct unwind_table *table;
	unsigned fde_stride;
	size_t fde_index;
	bool fde_sampled;
	uint64_t fde_begin, fde_end;
	int column_count;
	char columns[MAX_COLUMNS][16]; /* LOC CFA reg... ra */
	size_t rows_compared, fdes_compared;
	size_t expression_rows;
	size_t function_starts_checked, function_start_mismatches;
};

static int column_index(const struct readelf_walk *w, const char *name)
{
	for (int i = 0; i < w->column_count; i++)
		if (strcmp(w->columns[i], name) == 0)
			return i;
	return -1;
}

static void parse_header(struct readelf_walk *w, char *line)
{
	char *save = NULL;

	w->column_count = 0;
	for (char *tok = strtok_r(line, " \n", &save); tok && w->column_count < MAX_COLUMNS;
	     tok = strtok_r(NULL, " \n", &save))
		snprintf(w->columns[w->column_count++], sizeof(w->columns[0]), "%s", tok);
}

static bool parse_reg_offset(const char *token, const char *reg, int64_t *offset)
{
	size_t n = strlen(reg);

	if (strncmp(token, reg, n) != 0 || (token[n] != '+' && token[n] != '-'))
		return false;
	*offset = strtoll(token + n, NULL, 10);
	return true;
}

static bool is_expression_kind(uint8_t rule)
{
	return rule == UNWIND_CFA_PLT || rule == UNWIND_CFA_DEREF_RSP || rule == UNWIND_CFA_DEREF_RBP ||
	       rule == UNWIND_CFA_SIGNAL || rule == UNWIND_CFA_UNSUPPORTED || rule == UNWIND_CFA_RSP ||
	       rule == UNWIND_CFA_RBP;
}

static void check_cfa(const struct unwind_row *row, const char *cfa, const char *ra, uint64_t loc)
{
	int64_t offset;

	if (row->cfa_rule == UNWIND_CFA_SIGNAL)
		return; /* a sigreturn trampoline: checked by unwinding through one in test_unwind_self */
	if (strcmp(ra, "u") == 0) {
		assert_int_equal(row->cfa_rule, UNWIND_CFA_END);
	} else if (strcmp(ra, "c-8") != 0) {
		assert_int_equal(row->cfa_rule, UNWIND_CFA_UNSUPPORTED);
	} else if (parse_reg_offset(cfa, "rsp", &offset)) {
		assert_int_equal(row->cfa_rule, UNWIND_CFA_RSP);
		assert_int_equal(row->cfa_offset, offset);
	} else if (parse_reg_offset(cfa, "rbp", &offset)) {
		assert_int_equal(row->cfa_rule, UNWIND_CFA_RBP);
		assert_int_equal(row->cfa_offset, offset);
	} else if (strcmp(cfa, "exp") == 0) {
		if (!is_expression_kind(row->cfa_rule))
			fail_msg("%#" PRIx64 ": readelf has a CFA expression, we have rule %u", loc, row->cfa_rule);
	} else {
		assert_int_equal(row->cfa_rule, UNWIND_CFA_UNSUPPORTED); /* r10+0 and other registers */
	}
}

static void check_rbp(const struct unwind_row *row, const char *rbp)
{
	int64_t offset;

	if (row->cfa_rule == UNWIND_CFA_SIGNAL || row->cfa_rule == UNWIND_CFA_END ||
	    row->cfa_rule == UNWIND_CFA_UNSUPPORTED)
		return; /* no rbp rule is stored for frames we do not step through */
	if (!rbp || strcmp(rbp, "u") == 0 || strcmp(rbp, "s") == 0) {
		assert_int_equal(row->rbp_rule, UNWIND_RBP_SAME);
	} else if (parse_reg_offset(rbp, "c", &offset)) {
		assert_int_equal(row->rbp_rule, UNWIND_RBP_AT_CFA);
		assert_int_equal(row->rbp_offset, offset);
	} else if (strcmp(rbp, "exp") == 0) {
		assert_true(row->rbp_rule == UNWIND_RBP_AT_RBP || row->rbp_rule == UNWIND_RBP_UNKNOWN);
	} else {
		assert_int_equal(row->rbp_rule, UNWIND_RBP_UNKNOWN);
	}
}

static void compare_row(struct readelf_walk *w, char *line)
{
	char *tokens[MAX_COLUMNS], *save = NULL;
	int n = 0, rbp_col = column_index(w, "rbp"), ra_col = column_index(w, "ra");
	const struct unwind_row *row;
	uint64_t loc;

	/* A register rule prints as "r9 (r9)": the parenthesised name is not a column. */
	for (char *tok = strtok_r(line, " \n", &save); tok && n < MAX_COLUMNS; tok = strtok_r(NULL, " \n", &save))
		if (tok[0] != '(')
			tokens[n++] = tok;
	if (n != w->column_count || ra_col <= 1)
		fail_msg("row of %d columns under a header of %d (ra column %d) at %s", n, w->column_count, ra_col,
			 tokens[0]);
	loc = strtoull(tokens[0], NULL, 16);
	if (loc < w->fde_begin || loc >= w->fde_end)
		return;
	row = unwind_table_lookup(w->table, loc);
	assert_non_null(row);
	check_cfa(row, tokens[1], tokens[ra_col], loc);
	check_rbp(row, rbp_col > 0 ? tokens[rbp_col] : NULL);
	w->rows_compared++;
	w->expression_rows += strcmp(tokens[1], "exp") == 0;
}

/* Stripped code is named by the start of its FDE: every pc inside one FDE names its start. */
static void check_function_start(struct readelf_walk *w)
{
	uint64_t pcs[] = { w->fde_begin, w->fde_begin + (w->fde_end - w->fde_begin) / 2, w->fde_end - 1 };
	uint64_t start = 0;

	for (size_t i = 0; i < sizeof(pcs) / sizeof(pcs[0]); i++) {
		if (!unwind_table_function_start(w->table, pcs[i], &start) || start != w->fde_begin)
			w->function_start_mismatches++;
		w->function_starts_checked++;
	}
}

static bool is_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void walk_readelf_line(struct readelf_walk *w, char *line)
{
	const char *pc = strstr(line, " FDE cie=");

	if (pc && (pc = strstr(pc, "pc="))) {
		w->fde_sampled = w->fde_index++ % w->fde_stride == 0;
		w->fde_begin = strtoull(pc + 3, NULL, 16);
		pc = strstr(pc, "..");
		w->fde_end = pc ? strtoull(pc + 2, NULL, 16) : 0;
		w->fdes_compared += w->fde_sampled;
		w->column_count = 0;
		if (w->fde_sampled && w->fde_end > w->fde_begin)
			check_function_start(w);
	} else if (strstr(line, " CIE ")) {
		w->fde_sampled = false; /* CIE rows describe no code */
	} else if (strncmp(line, "   LOC", 6) == 0) {
		parse_header(w, line);
	} else if (w->fde_sampled && w->column_count && strlen(line) > 17 && is_hex_run(line, 16) && line[16] == ' ') {
		compare_row(w, line);
	}
}

static struct readelf_walk compare_with_readelf(const char *path, unsigned fde_stride)
{
	struct readelf_walk w = { .fde_stride = fde_stride };
	struct unwind_table *table;
	char command[4200], *output, *save = NULL;

	assert_int_equal(unwind_table_build_from_path(path, &table), 0);
	w.table = table;
	snprintf(command, sizeof(command), "readelf --debug-dump=frames-interp '%s' 2>/dev/null", path);
	output = unwind_test_capture_output(command);
	assert_non_null(output);
	for (char *line = strtok_r(output, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		walk_readelf_line(&w, line);
	printf("%s: %zu FDEs, compared %zu rows of %zu FDEs (%zu with CFA expressions); table %zu rows\n", path,
	       w.fde_index, w.rows_compared, w.fdes_compared, w.expression_rows, table->row_count);
	/* Our FDE count agrees with readelf's (no FDE silently dropped). */
	assert_int_equal(table->stats.fdes + table->stats.fdes_rejected, w.fde_index);
	assert_int_equal(table->stats.fdes_rejected, 0);
	assert_true(w.function_starts_checked > 0);
	assert_int_equal(w.function_start_mismatches, 0);
	free(output);
	unwind_table_free(table);
	return w;
}

static void skip_if_missing(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		skip();
	fclose(f);
}

static void test_libc_matches_readelf(void **state)
{
	struct readelf_walk w;

	skip_if_missing("/lib/x86_64-linux-gnu/libc.so.6");
	w = compare_with_readelf("/lib/x86_64-linux-gnu/libc.so.6", 10);
	assert_true(w.rows_compared > 1000);
}

static void test_python311_matches_readelf(void **state)
{
	struct readelf_walk w;

	skip_if_missing("/usr/bin/python3.11");
	w = compare_with_readelf("/usr/bin/python3.11", 10);
	assert_true(w.rows_compared > 3000);
}

static void test_libpython312_matches_readelf(void **state)
{
	const char *path = pyenv_find("3.12", "lib/libpython3.12.so.1.0");
	struct readelf_walk w;

	if (!path)
		skip();
	skip_if_missing(path);
	w = compare_with_readelf(path, 10);
	assert_true(w.rows_compared > 3000);
}

static void test_numpy_matches_readelf(void **state)
{
	const char *path = "/usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so";
	struct readelf_walk w;

	skip_if_missing(path);
	w = compare_with_readelf(path, 1); /* every FDE: the stack-realign functions are rare */
	assert_true(w.expression_rows > 100);
}

/* Without unwind tables, GCC puts the CFI in .debug_frame (CIE id 0xffffffff, absolute addresses). */
static void test_debug_frame_matches_readelf(void **state)
{
	static const char source[] =
		"int g(int);\n"
		"int f(int x) { volatile char b[100]; b[x & 63] = 1; return g(x) + b[3]; }\n"
		"int h(int x, int y) { volatile long v[2000]; v[y % 2000] = x; return f(x) * 2 + (int)v[5]; }\n"
		"int k(long n) { char *p = __builtin_alloca(n); p[0] = 1; return g(p[n / 2]); }\n";
	char *dir = unwind_test_make_tmpdir(), src[4200], so[4200], command[9000];
	struct unwind_table *table;
	struct readelf_walk w;

	assert_non_null(dir);
	snprintf(src, sizeof(src), "%s/df.c", dir);
	snprintf(so, sizeof(so), "%s/df.so", dir);
	assert_int_equal(unwind_test_write_file(src, source, strlen(source)), 0);
	snprintf(command, sizeof(command),
		 "cc -O2 -g -fno-asynchronous-unwind-tables -fno-unwind-tables -fPIC -shared -o %s %s", so, src);
	assert_int_equal(system(command), 0);
	assert_int_equal(unwind_table_build_from_path(so, &table), 0);
	assert_true(table->stats.fdes >= 3);
	unwind_table_free(table);
	w = compare_with_readelf(so, 1);
	assert_true(w.rows_compared >= 8);
	unwind_test_remove_tree(dir);
	free(dir);
}

static double ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void print_table_statistics(const char *path)
{
	static const char *cfa_names[] = { "none", "rsp", "rbp", "plt", "deref_rsp", "deref_rbp",
					   "signal", "end", "unsupported" };
	static const char *rbp_names[] = { "same", "at_cfa", "at_rbp", "unknown" };
	struct unwind_table *table;
	struct timespec start;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (unwind_table_build_from_path(path, &table) != 0)
		return;
	ms = ms_since(&start);
	printf("%s: build %.1f ms, %zu FDEs, %zu CFI rows -> %zu rows, %zu KiB\n  cfa:", path, ms,
	       table->stats.fdes, table->stats.cfi_rows, table->row_count,
	       table->row_count * sizeof(struct unwind_row) / 1024);
	for (int k = 0; k < UNWIND_CFA_RULE_COUNT; k++)
		if (table->stats.cfa_rule_rows[k])
			printf(" %s %zu (%.3f%%)", cfa_names[k], table->stats.cfa_rule_rows[k],
			       100.0 * (double)table->stats.cfa_rule_rows[k] / (double)table->row_count);
	printf("\n  rbp:");
	for (int k = 0; k < UNWIND_RBP_RULE_COUNT; k++)
		if (table->stats.rbp_rule_rows[k])
			printf(" %s %zu (%.3f%%)", rbp_names[k], table->stats.rbp_rule_rows[k],
			       100.0 * (double)table->stats.rbp_rule_rows[k] / (double)table->row_count);
	printf("\n  unsupported CFI rows: CFA register %zu, CFA expression %zu, RA %zu, range %zu\n",
	       table->stats.unsupported_cfa_register, table->stats.unsupported_cfa_expression,
	       table->stats.unsupported_return_address, table->stats.unsupported_offset_range);
	unwind_table_free(table);
}

/* A store handing out mapped memory, as the in-kernel unwinder's BPF arrays are. */
static size_t store_reserved, store_released, store_refused;
static bool store_refuses;

static struct unwind_row *reserve_mapped(size_t capacity, int *handle)
{
	if (store_refuses) {
		store_refused++;
		return NULL;
	}
	void *mem = mmap(NULL, capacity * sizeof(struct unwind_row), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	*handle = 7 + (int)store_reserved++;
	return mem;
}

static int handle_released;

static void release_mapped(struct unwind_row *rows, size_t capacity, int handle)
{
	assert_true(handle >= 7 || handle == -1); /* -1: given away */
	handle_released = handle;
	assert_int_equal(munmap(rows, capacity * sizeof(*rows)), 0);
	store_released++;
}

static const struct unwind_row_store mapped_store = { .reserve = reserve_mapped, .release = release_mapped };

/* Rows written into a store are the rows built on the heap; a store that refuses leaves them there. */
static void test_table_in_store_matches_heap(void **state)
{
	const char *paths[] = { "/proc/self/exe", "/lib/x86_64-linux-gnu/libc.so.6" };
	size_t kept_in_store = 0;
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct unwind_table *heap, *stored, *refused;
		if (access(paths[i], R_OK) != 0)
			continue;
		store_reserved = store_released = store_refused = 0;
		assert_int_equal(unwind_table_build_from_path(paths[i], &heap), 0);
		assert_int_equal(unwind_table_build_in_store(paths[i], &mapped_store, &stored), 0);
		store_refuses = true;
		assert_int_equal(unwind_table_build_in_store(paths[i], &mapped_store, &refused), 0);
		store_refuses = false;
		assert_int_equal(store_reserved, 1);
		assert_int_equal(store_refused, 1);
		/* past the store's capacity (a guess from the FDE count) the rows move to the heap */
		bool moved = stored->store == NULL;
		kept_in_store += !moved;
		assert_int_equal(store_released, moved ? 1 : 0);
		assert_ptr_equal(stored->store, moved ? NULL : &mapped_store);
		assert_null(refused->store);
		assert_null(heap->store);
		assert_true(stored->row_capacity >= stored->row_count);
		assert_true(heap->row_count > 100);
		assert_int_equal(stored->row_count, heap->row_count);
		assert_int_equal(refused->row_count, heap->row_count);
		assert_memory_equal(stored->rows, heap->rows, heap->row_count * sizeof(*heap->rows));
		assert_memory_equal(refused->rows, heap->rows, heap->row_count * sizeof(*heap->rows));
		assert_int_equal(stored->function_count, heap->function_count);
		/* the handle is given away once; the memory is still released with the table */
		int handle = unwind_table_give_store_handle(stored);
		assert_int_equal(handle, moved ? -1 : 7);
		assert_int_equal(unwind_table_give_store_handle(stored), -1);
		assert_int_equal(unwind_table_give_store_handle(heap), -1);
		unwind_table_free(heap);
		unwind_table_free(refused);
		unwind_table_free(stored);
		assert_int_equal(store_released, 1);
		if (!moved)
			assert_int_equal(handle_released, -1);
	}
	assert_true(kept_in_store > 0 || access(paths[1], R_OK) != 0);
}

/* Not an assertion: the numbers the issue asks for, printed with the test run. */
static void test_prints_table_statistics(void **state)
{
	print_table_statistics("/usr/bin/python3.11");
	print_table_statistics("/lib/x86_64-linux-gnu/libc.so.6");
	if (pyenv_find("3.12", "lib/libpython3.12.so.1.0"))
		print_table_statistics(pyenv_find("3.12", "lib/libpython3.12.so.1.0"));
	print_table_statistics(
		"/usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc_matches_readelf),
		cmocka_unit_test(test_python311_matches_readelf),
		cmocka_unit_test(test_libpython312_matches_readelf),
		cmocka_unit_test(test_numpy_matches_readelf),
		cmocka_unit_test(test_debug_frame_matches_readelf),
		cmocka_unit_test(test_table_in_store_matches_heap),
		cmocka_unit_test(test_prints_table_statistics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
