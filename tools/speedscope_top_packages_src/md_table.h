/* GitHub-markdown tables laid out exactly as Python tabulate's "github"
 * format does (tablefmt="github", default alignments): string columns are
 * stripped and left-aligned, numeric columns right-aligned on the decimal
 * point, every column at least two wider than its header, widths counted in
 * characters. */
#ifndef SPEEDSCOPE_MD_TABLE_H
#define SPEEDSCOPE_MD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct md_table {
	size_t ncols;
	const char **headers;
	char **cells; /* row-major, nrows * ncols */
	size_t nrows, cap;
	bool *is_number; /* per column: values are real numbers, not strings */
};

bool md_table_init(struct md_table *t, size_t ncols, const char **headers);
/* Marks a column whose values are numbers (tabulate sees Python ints). */
void md_table_set_number_column(struct md_table *t, size_t col);
bool md_table_add_row(struct md_table *t, const char *const *cells);
bool md_table_print(const struct md_table *t, FILE *out);
void md_table_free(struct md_table *t);

/* Writes s left-justified to width characters, as Python's str.ljust. */
void fput_ljust(FILE *out, const char *s, size_t width);

#endif
