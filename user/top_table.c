// SPDX-License-Identifier: MIT
#include "top_table.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct row_counts {
	struct top_row shown;
	uint64_t own_now, total_now; /* the interval in progress */
	uint64_t last_sample;        /* sample stamp that last counted Total: dedups recursion */
};

struct top_table {
	struct row_counts *rows;
	size_t nrows, caprows;
	uint32_t *slots; /* open addressing over labels: row id + 1, 0 = empty */
	size_t nslots;
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
	for (size_t i = 0; i < t->nrows; i++)
		free((char *)t->rows[i].shown.label);
	free(t->rows);
	free(t->slots);
	free(t->sorted);
	free(t);
}

static uint64_t hash_label(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int grow_slots(struct top_table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 256;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t r = 0; r < t->nrows; r++) {
		size_t i = hash_label(t->rows[r].shown.label) & (n - 1);
		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)r + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

static uint32_t append_row(struct top_table *t, const char *label)
{
	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 64;
		struct row_counts *rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows)
			return TOP_NO_ROW;
		t->rows = rows;
		t->caprows = cap;
	}
	char *copy = strdup(label);
	if (!copy)
		return TOP_NO_ROW;
	memset(&t->rows[t->nrows], 0, sizeof(t->rows[t->nrows]));
	t->rows[t->nrows].shown.label = copy;
	return (uint32_t)t->nrows++;
}

uint32_t top_table_row(struct top_table *t, const char *label)
{
	if ((t->nrows + 1) * 2 > t->nslots && grow_slots(t) != 0)
		return TOP_NO_ROW;
	size_t i = hash_label(label) & (t->nslots - 1);
	for (; t->slots[i]; i = (i + 1) & (t->nslots - 1))
		if (!strcmp(t->rows[t->slots[i] - 1].shown.label, label))
			return t->slots[i] - 1;
	uint32_t id = append_row(t, label);
	if (id != TOP_NO_ROW)
		t->slots[i] = id + 1;
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
