/* SPDX-License-Identifier: MIT */
/* The text of one `bpfspy top` refresh: header, column titles, rows, status. */
#ifndef BPFSPY_TOP_VIEW_H
#define BPFSPY_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "top/top_table.h"

struct top_header {
	const char *target;         /* "'python3 prog.py'", "12 processes" */
	const char *python_version; /* "3.12.1"; NULL or "" when not known (yet) */
	uint64_t samples;           /* since the start or the last reset */
	double gil_percent, active_percent;
	unsigned threads;
	bool line_mode;             /* rows are function + line */
	const char *status;         /* the last line: keys, or why the view stopped */
};

struct top_lines {
	char **lines;
	size_t n, cap;
};

/*
 * Renders h and up to max_rows rows of t (sorted by sort) into out, one
 * string per screen line, the status line last. The table's weights divided
 * by units_per_second are seconds (the sampling rate for on-CPU samples,
 * 1e9 for nanoseconds). Returns 0 or -1 (out of memory).
 */
int top_view_render(const struct top_header *h, struct top_table *t, enum top_sort sort, double units_per_second,
		    size_t max_rows, struct top_lines *out);
void top_lines_clear(struct top_lines *l);

/* Lines the view uses besides the rows. */
#define TOP_VIEW_CHROME_LINES 6

/* "0.710s", "4.98s", "123.4s", as py-spy prints times. */
void top_format_seconds(double s, char *buf, size_t len);

/*
 * A Python file as py-spy shows it: the part after site-packages/ or
 * dist-packages/ or the stdlib directory, else the base name.
 */
const char *top_short_filename(const char *path);

#endif
