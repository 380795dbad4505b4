// SPDX-License-Identifier: MIT
#include "top/top_view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void top_lines_clear(struct top_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->lines[i]);
	free(l->lines);
	memset(l, 0, sizeof(*l));
}

static int add_line(struct top_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_line(struct top_lines *l, const char *fmt, ...)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **lines = realloc(l->lines, cap * sizeof(*lines));
		if (!lines)
			return -1;
		l->lines = lines;
		l->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&l->lines[l->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	l->n++;
	return 0;
}

void top_format_seconds(double s, char *buf, size_t len)
{
	if (s < 1.0)
		snprintf(buf, len, "%.3fs", s);
	else if (s < 100.0)
		snprintf(buf, len, "%.2fs", s);
	else if (s < 10000.0)
		snprintf(buf, len, "%.1fs", s);
	else
		snprintf(buf, len, "%.0fs", s);
}

const char *top_short_filename(const char *path)
{
	static const char *const roots[] = { "/site-packages/", "/dist-packages/" };
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		const char *p = strstr(path, roots[i]);
		if (p)
			return p + strlen(roots[i]);
	}
	/* the standard library: .../lib/python3.X/module.py */
	const char *lib = strstr(path, "/lib/python");
	if (lib) {
		const char *slash = strchr(lib + strlen("/lib/python"), '/');
		if (slash && slash[1])
			return slash + 1;
	}
	const char *base = strrchr(path, '/');
	return base && base[1] ? base + 1 : path;
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int render_header(const struct top_header *h, struct top_lines *out)
{
	int e = 0;
	if (h->python_version && h->python_version[0])
		e |= add_line(out, "Collecting samples from %s (python v%s)", h->target, h->python_version);
	else
		e |= add_line(out, "Collecting samples from %s", h->target);
	e |= add_line(out, "Total Samples %llu", (unsigned long long)h->samples);
	e |= add_line(out, "GIL: %.2f%%, Active: %.2f%%, Threads: %u", h->gil_percent, h->active_percent, h->threads);
	e |= add_line(out, "%s", "");
	e |= add_line(out, "  %%Own   %%Total  OwnTime  TotalTime  Function (filename%s)", h->line_mode ? ":line" : "");
	return e;
}

static int render_row(const struct top_row *r, uint64_t interval_samples, double units_per_second,
		      struct top_lines *out)
{
	char own[32], total[32];
	top_format_seconds((double)r->own / units_per_second, own, sizeof(own));
	top_format_seconds((double)r->total / units_per_second, total, sizeof(total));
	return add_line(out, "%6.2f%% %6.2f%% %8s %9s   %s", percent(r->own_interval, interval_samples),
			percent(r->total_interval, interval_samples), own, total, r->label);
}

int top_view_render(const struct top_header *h, struct top_table *t, enum top_sort sort, double units_per_second,
		    size_t max_rows, struct top_lines *out)
{
	top_lines_clear(out);
	if (render_header(h, out) != 0)
		return -1;
	const struct top_row *const *rows;
	size_t n = top_table_sorted(t, sort, &rows);
	uint64_t interval = top_table_interval_samples(t);
	for (size_t i = 0; i < n && i < max_rows; i++)
		if (render_row(rows[i], interval, units_per_second > 0 ? units_per_second : 1, out) != 0)
			return -1;
	return add_line(out, "%s", h->status ? h->status : "");
}
