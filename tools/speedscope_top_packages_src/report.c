#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_table.h"
#include "util/utf8.h"

char *path_basename(const char *path)
{
	const char *last = NULL, *p = path;
	size_t last_len = 0;

	/* pathlib drops empty and "." components but keeps "..". */
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n && !(n == 1 && p[0] == '.')) {
			last = p;
			last_len = n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return last ? strndup(last, last_len) : strdup("");
}

/* Counts print as integers; --by-weight sums may be fractional. */
static void format_amount(char *buf, size_t size, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.6g", v);
}

static char *top_files_text(const struct speedscope *ss, const struct package_stats *ps)
{
	char *text = strdup(""), *next, *base;
	char amount[64];

	for (size_t i = 0; text && i < ps->ntop; i++) {
		base = path_basename(ss->files[ps->top[i].file_id]);
		format_amount(amount, sizeof(amount), ps->top[i].count);
		if (!base || asprintf(&next, "%s%s%s (%s)", text, i ? ", " : "", base, amount) < 0)
			next = NULL;
		free(base);
		free(text);
		text = next;
	}
	return text;
}

bool report_summary(FILE *out, const struct speedscope *ss, const struct analysis *a, bool by_weight)
{
	static const char *metric_headers[] = { "metric", "value" };
	static const char *package_headers[] = { "package", "samples", "pct", "top_files" };
	struct md_table metrics, packages;
	char frames_count[32], total[64];
	bool ok;

	snprintf(frames_count, sizeof(frames_count), "%zu", ss->nframes);
	format_amount(total, sizeof(total), a->total);
	if (!md_table_init(&metrics, 2, metric_headers))
		return false;
	md_table_set_number_column(&metrics, 1);
	ok = md_table_add_row(&metrics, (const char *[]){ "frames_count", frames_count }) &&
	     md_table_add_row(&metrics, (const char *[]){ by_weight ? "total_weight" : "total_samples", total }) &&
	     md_table_print(&metrics, out);
	md_table_free(&metrics);
	if (!ok)
		return false;
	fputc('\n', out);

	if (!md_table_init(&packages, 4, package_headers))
		return false;
	md_table_set_number_column(&packages, 1);
	for (size_t r = 0; ok && r < a->nrows; r++) {
		const struct package_stats *ps = &a->packages[a->row_package[r]];
		char samples[64], pct[64];
		char *top = top_files_text(ss, ps);

		format_amount(samples, sizeof(samples), ps->matched);
		snprintf(pct, sizeof(pct), "%.1f%%", a->total ? 100.0 * ps->matched / a->total : 0.0);
		ok = top && md_table_add_row(&packages, (const char *[]){ ps->name, samples, pct, top });
		free(top);
	}
	ok = ok && md_table_print(&packages, out);
	md_table_free(&packages);
	return ok;
}

struct example_row {
	char pct_total[32];
	char pct_package[32];
	const char **lines;
	size_t nlines;
};

static bool build_rows(const struct speedscope *ss, const struct analysis *a, const struct package_stats *ps,
		       const char *name_filter, struct example_row *rows)
{
	for (size_t i = 0; i < ps->nexamples; i++) {
		const struct stack_example *ex = &ps->examples[i];
		struct example_row *row = &rows[i];
		size_t len;
		const uint32_t *seq = seq_table_get(&ss->stacks, ex->stack_id, &len);
		double pct_pkg = ps->example_total ? 100.0 * ex->count / ps->example_total : 0.0;
		double pct_total = a->total ? 100.0 * ex->count / a->total : 0.0;

		snprintf(row->pct_package, sizeof(row->pct_package), "%.1f%%", pct_pkg);
		if (pct_total < 0.01 && pct_total > 0)
			snprintf(row->pct_total, sizeof(row->pct_total), "< 0.01%%");
		else
			snprintf(row->pct_total, sizeof(row->pct_total), "%.2f%%", pct_total);
		row->lines = calloc(len ? len : 1, sizeof(*row->lines));
		if (!row->lines)
			return false;
		for (size_t k = 0; k < len; k++)
			if (analysis_frame_passes_filter(&ss->frames[seq[k]], name_filter))
				row->lines[row->nlines++] = ss->frames[seq[k]].line_text;
	}
	return true;
}

static void print_example_table(FILE *out, const struct example_row *rows, size_t nrows)
{
	char id[32];
	size_t id_w, total_w = strlen("pct total"), pkg_w = strlen("pct package"), stack_w = 0;

	id_w = (size_t)snprintf(id, sizeof(id), "%zu", nrows);
	for (size_t i = 0; i < nrows; i++) {
		if (strlen(rows[i].pct_total) > total_w)
			total_w = strlen(rows[i].pct_total);
		if (strlen(rows[i].pct_package) > pkg_w)
			pkg_w = strlen(rows[i].pct_package);
		for (size_t k = 0; k < rows[i].nlines; k++) {
			size_t w = utf8_count_chars(rows[i].lines[k]);

			if (w > stack_w)
				stack_w = w;
		}
	}
	/* The reference pads the stack column four characters past its widest
	 * line. */
	stack_w += 4;
	fputs("| ", out);
	fput_ljust(out, "#", id_w);
	fputs(" | ", out);
	fput_ljust(out, "pct total", total_w);
	fputs(" | ", out);
	fput_ljust(out, "pct package", pkg_w);
	fputs(" | ", out);
	fput_ljust(out, "stack", stack_w);
	fputs(" |\n|", out);
	size_t widths[] = { id_w, total_w, pkg_w, stack_w };

	for (size_t c = 0; c < 4; c++) {
		for (size_t k = 0; k < widths[c] + 2; k++)
			fputc('-', out);
		fputc('|', out);
	}
	fputc('\n', out);
	for (size_t i = 0; i < nrows; i++) {
		for (size_t k = 0; k < rows[i].nlines; k++) {
			snprintf(id, sizeof(id), "%zu", i + 1);
			fputs("| ", out);
			fput_ljust(out, k ? "" : id, id_w);
			fputs(" | ", out);
			fput_ljust(out, k ? "" : rows[i].pct_total, total_w);
			fputs(" | ", out);
			fput_ljust(out, k ? "" : rows[i].pct_package, pkg_w);
			fputs(" | ", out);
			fput_ljust(out, rows[i].lines[k], stack_w);
			fputs(" |\n", out);
		}
	}
}

bool report_sample_stacks(FILE *out, const struct speedscope *ss, const struct analysis *a,
			  const char *name_filter)
{
	for (size_t p = 0; p < a->npackages; p++) {
		const struct package_stats *ps = &a->packages[p];
		struct example_row *rows;
		bool ok;

		if (!ps->nexamples)
			continue;
		rows = calloc(ps->nexamples, sizeof(*rows));
		if (!rows)
			return false;
		ok = build_rows(ss, a, ps, name_filter, rows);
		if (ok) {
			fprintf(out, "\nSample stacks for package: %s\n", ps->name);
			print_example_table(out, rows, ps->nexamples);
		}
		for (size_t i = 0; i < ps->nexamples; i++)
			free(rows[i].lines);
		free(rows);
		if (!ok)
			return false;
	}
	return true;
}
