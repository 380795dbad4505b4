/* SPDX-License-Identifier: MIT */
/*
 * The numbers behind `bpfspy top`, per row (a function, or a function and
 * line): Own = samples whose innermost frame is the row, Total = samples
 * whose stack contains it (once per sample, however deep the recursion).
 * Counts are kept for the last closed interval (shown as %Own/%Total, as
 * py-spy does) and accumulated since the start or the last reset (shown as
 * OwnTime/TotalTime).
 */
#ifndef BPFSPY_TOP_TABLE_H
#define BPFSPY_TOP_TABLE_H

#include <stddef.h>
#include <stdint.h>

enum top_sort {
	TOP_SORT_OWN_PERCENT = 0, /* key 1 */
	TOP_SORT_TOTAL_PERCENT,   /* key 2 */
	TOP_SORT_OWN_TIME,        /* key 3, the default */
	TOP_SORT_TOTAL_TIME       /* key 4 */
};

struct top_row {
	const char *label;
	uint64_t own_interval, total_interval; /* weight in the last closed interval */
	uint64_t own, total;                   /* weight since the start or the last reset */
};

#define TOP_NO_ROW UINT32_MAX

struct top_table;

struct top_table *top_table_new(void);
void top_table_free(struct top_table *t);

/* The id of the row labelled label, created on first use; TOP_NO_ROW when out of memory. */
uint32_t top_table_row(struct top_table *t, const char *label);

/*
 * Counts weight (samples, or nanoseconds of wall clock) of one stack: rows
 * root first, the leaf last (n may be 0: it counts in the totals only).
 * Returns 0, or -1 for a bad row id.
 */
int top_table_add(struct top_table *t, const uint32_t *rows, size_t n, uint64_t count);

/* The samples added since the previous call become the "last interval". */
void top_table_end_interval(struct top_table *t);
/* Forgets every count (labels stay). */
void top_table_reset(struct top_table *t);

uint64_t top_table_interval_samples(const struct top_table *t); /* in the last closed interval */
uint64_t top_table_samples(const struct top_table *t);          /* since the start or reset */

/*
 * Rows with any count, best first by sort (ties: the other time column, then
 * the label). *out stays valid until the next call on t. Returns the count.
 */
size_t top_table_sorted(struct top_table *t, enum top_sort sort, const struct top_row *const **out);

#endif
