// SPDX-License-Identifier: MIT
#include "top/top_table.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/id_table.h"
#include "util/string_arena.h"

struct row_counts {
	struct top_row shown;
	uint64_t own_now, total_now; /* the interval in progress */
	uint64_t last_sample;        /* sample stamp that last counted Total: dedups recursion */
};

struct top_table {
	struct row_counts *rows;
	size_t nrows, caprows;
	struct id_table index;        /* label -> row id */
	struct string_arena labels;   /* the rows' labels: they live as long as the table */
	uint64_t sample_stamp;
	uint64_t samples_now, samples_interval, samples;
	const struct top_row **sorted;
	size_t capsorted;
};

struct top_table *top_table_new(void)
{
	return calloc(1, sizeof(struct top_table));
}

void top_table_free(struct top_table *t)
{
	if (!t)
		return;
	free(t->rows);
	id_table_free(&t->index);
	string_arena_free(&t->labels);
	free(t->sorted);
	free(t);
}

static bool row_has_label(const void *ctx, uint32_t id, const void *label)
{
	const struct top_table *t = ctx;
	return strcmp(t->rows[id].shown.label, label) == 0;
}

static uint32_t append_row(struct top_table *t, const char *label)
{
	if (array_reserve((void **)&t->rows, &t->caprows, t->nrows + 1, sizeof(*t->rows)) != 0)
		return TOP_NO_ROW;
	const char *copy = string_arena_strdup(&t->labels, label);
	if (!copy)
		return TOP_NO_ROW;
	memset(&t->rows[t->nrows], 0, sizeof(t->rows[t->nrows]));
	t->rows[t->nrows].shown.label = copy;
	return (uint32_t)t->nrows++;
}

uint32_t top_table_row(struct top_table *t, const char *label)
{
	uint64_t hash = hash_string(label);
	uint32_t id = id_table_find(&t->index, hash, row_has_label, t, label);
	if (id != ID_NONE)
		return id;
	id = append_row(t, label);
	if (id != TOP_NO_ROW && id_table_insert(&t->index, hash, id) != 0) {
		t->nrows--; /* unindexed, the label would get a second row on its next lookup */
		return TOP_NO_ROW;
	}
	return id;
}

int top_table_add(struct top_table *t, const uint32_t *rows, size_t n, uint64_t count)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i] >= t->nrows)
			return -1;
	t->sample_stamp++;
	t->samples_now += count;
	for (size_t i = 0; i < n; i++) {
		struct row_counts *r = &t->rows[rows[i]];
		if (r->last_sample == t->sample_stamp)
			continue;
		r->last_sample = t->sample_stamp;
		r->total_now += count;
	}
	if (n)
		t->rows[rows[n - 1]].own_now += count;
	return 0;
}

void top_table_end_interval(struct top_table *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		struct row_counts *r = &t->rows[i];
		r->shown.own_interval = r->own_now;
		r->shown.total_interval = r->total_now;
		r->shown.own += r->own_now;
		r->shown.total += r->total_now;
		r->own_now = r->total_now = 0;
	}
	t->samples_interval = t->samples_now;
	t->samples += t->samples_now;
	t->samples_now = 0;
}

void top_table_reset(struct top_table *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		const char *label = t->rows[i].shown.label;
		memset(&t->rows[i], 0, sizeof(t->rows[i]));
		t->rows[i].shown.label = label;
	}
	t->samples_now = t->samples_interval = t->samples = 0;
}

uint64_t top_table_interval_samples(const struct top_table *t)
{
	return t->samples_interval;
}

uint64_t top_table_samples(const struct top_table *t)
{
	return t->samples;
}

/* ---- sorting ------------------------------------------------------------ */

static void sort_keys(const struct top_row *r, enum top_sort sort, uint64_t *first, uint64_t *second)
{
	switch (sort) {
	case TOP_SORT_OWN_PERCENT:
		*first = r->own_interval;
		*second = r->own;
		break;
	case TOP_SORT_TOTAL_PERCENT:
		*first = r->total_interval;
		*second = r->total;
		break;
	case TOP_SORT_TOTAL_TIME:
		*first = r->total;
		*second = r->own;
		break;
	case TOP_SORT_OWN_TIME:
	default:
		*first = r->own;
		*second = r->total;
		break;
	}
}

static enum top_sort qsort_key; /* qsort has no context argument; the table is single-threaded */

static int compare_rows(const void *a, const void *b)
{
	const struct top_row *x = *(const struct top_row *const *)a, *y = *(const struct top_row *const *)b;
	uint64_t x1, x2, y1, y2;
	sort_keys(x, qsort_key, &x1, &x2);
	sort_keys(y, qsort_key, &y1, &y2);
	if (x1 != y1)
		return x1 > y1 ? -1 : 1;
	if (x2 != y2)
		return x2 > y2 ? -1 : 1;
	return strcmp(x->label, y->label);
}

size_t top_table_sorted(struct top_table *t, enum top_sort sort, const struct top_row *const **out)
{
	if (t->nrows > t->capsorted) {
		const struct top_row **s = realloc(t->sorted, t->nrows * sizeof(*s));
		if (!s) {
			*out = NULL;
			return 0;
		}
		t->sorted = s;
		t->capsorted = t->nrows;
	}
	size_t n = 0;
	for (size_t i = 0; i < t->nrows; i++) {
		const struct top_row *r = &t->rows[i].shown;
		if (r->total || r->total_interval)
			t->sorted[n++] = r;
	}
	qsort_key = sort;
	if (n)
		qsort(t->sorted, n, sizeof(*t->sorted), compare_rows);
	*out = t->sorted;
	return n;
}
