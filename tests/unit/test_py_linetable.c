/* SPDX-License-Identifier: MIT */
/*
 * py_linetable_line against the interpreters' own offset -> line mapping:
 * py/dump_linetables.py prints, per stdlib code object, the raw line table
 * and what co_lines() / dis.findlinestarts say for every instruction offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "py/py_test_support.h"
#include "python/python.h"

struct code_entry {
	int firstlineno;
	uint8_t *table;
	size_t table_len;
};

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_code_line(const char *line, struct code_entry *e)
{
	char *end;
	const char *hex;
	size_t n;

	e->firstlineno = (int)strtol(line + 2, &end, 10);
	hex = end + 1;
	n = strcspn(hex, "\n");
	e->table_len = 0;
	e->table = malloc(n / 2 + 1);
	if (!e->table)
		return -1;
	if (n == 1 && hex[0] == '-')
		return 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		int hi = hex_nibble(hex[i]), lo = hex_nibble(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		e->table[e->table_len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

struct tally {
	unsigned long codes, offsets, mismatches;
};

static void check_offsets(const char *line, const struct code_entry *e, unsigned minor, struct tally *t)
{
	uint32_t hex = py_test_version_hex(minor);
	enum py_lasti_kind kind = minor <= 9 ? PY_LASTI_BYTES : minor == 10 ? PY_LASTI_UNITS : PY_LASTI_ADAPTIVE;
	const char *p = line + 1;

	while (*p == ' ') {
		char *end;
		long off = strtol(p + 1, &end, 10);
		long want;
		int64_t lasti = kind == PY_LASTI_BYTES ? off : off / 2;
		int got;

		if (*end != ':')
			break;
		want = strtol(end + 1, &end, 10);
		p = end;
		got = py_linetable_line(hex, kind, e->table, e->table_len, e->firstlineno, lasti);
		/* A range without a line reports the first line. */
		if (want < 0)
			want = e->firstlineno;
		t->offsets++;
		if (got != want && t->mismatches++ < 5)
			printf("  mismatch: firstlineno %d offset %ld: want %ld got %d\n", e->firstlineno, off,
			       want, got);
	}
}

static void test_interpreter_line_numbers(void **state)
{
	const struct py_test_interp *pi = *state;
	char path[512], cmd[1024], *line = NULL;
	size_t cap = 0;
	struct code_entry e = { 0 };
	struct tally t = { 0 };
	FILE *f;

	if (!py_test_interp_path(pi, path, sizeof(path))) {
		assert_false(pi->required);
		skip();
	}
	snprintf(cmd, sizeof(cmd), "%s py/dump_linetables.py", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == 'C') {
			free(e.table);
			assert_int_equal(parse_code_line(line, &e), 0);
			t.codes++;
		} else if (line[0] == 'O' && e.table) {
			check_offsets(line, &e, pi->minor, &t);
		}
	}
	free(e.table);
	free(line);
	assert_int_equal(pclose(f), 0);
	printf("%s: %lu code objects, %lu offsets, %lu mismatches\n", pi->label, t.codes, t.offsets,
	       t.mismatches);
	assert_true(t.codes > 500);
	assert_true(t.offsets > 10000);
	assert_int_equal(t.mismatches, 0);
}

static void test_unstarted_frame_reports_first_line(void **state)
{
	static const uint8_t lnotab[] = { 4, 1, 6, 2 };

	(void)state;
	assert_int_equal(py_linetable_line(0x030800f0, PY_LASTI_BYTES, lnotab, sizeof(lnotab), 10, -1), 10);
	assert_int_equal(py_linetable_line(0x030800f0, PY_LASTI_BYTES, lnotab, sizeof(lnotab), 10, 4), 11);
	assert_int_equal(py_linetable_line(0x030800f0, PY_LASTI_BYTES, lnotab, sizeof(lnotab), 10, 10), 13);
}

static void test_truncated_tables_do_not_overread(void **state)
{
	/* A long-form entry whose varints run off the end, and a dangling header byte. */
	static const uint8_t location[] = { 0xf0 | 0x07, 0x7f, 0x7f };
	static const uint8_t pairs[] = { 8 };

	(void)state;
	assert_int_equal(py_linetable_line(0x030b00f0, PY_LASTI_ADAPTIVE, location, sizeof(location), 5, 100), 5);
	assert_int_equal(py_linetable_line(0x030a00f0, PY_LASTI_UNITS, pairs, sizeof(pairs), 7, 1), 7);
	assert_int_equal(py_linetable_line(0x030c00f0, PY_LASTI_ADAPTIVE, NULL, 0, 3, 0), 3);
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS + 2];
	size_t n = 0;

	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(test_interpreter_line_numbers,
								(void *)&py_test_interps[i]);
		t.name = py_test_interps[i].label;
		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unstarted_frame_reports_first_line);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncated_tables_do_not_overread);
	return _cmocka_run_group_tests("py_linetable", tests, n, NULL, NULL);
}
