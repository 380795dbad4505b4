#include "md_table.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

static void put_spaces(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

void fput_ljust(FILE *out, const char *s, size_t width)
{
	size_t len = utf8_count_chars(s);

	fputs(s, out);
	if (len < width)
		put_spaces(out, width - len);
}

bool md_table_init(struct md_table *t, size_t ncols, const char **headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = headers;
	t->is_number = calloc(ncols, sizeof(*t->is_number));
	return t->is_number != NULL;
}

void md_table_set_number_column(struct md_table *t, size_t col)
{
	t->is_number[col] = true;
}

bool md_table_add_row(struct md_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return false;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
		if (!t->cells[t->nrows * t->ncols + i]) {
			for (size_t k = 0; k < i; k++)
				free(t->cells[t->nrows * t->ncols + k]);
			return false;
		}
	}
	t->nrows++;
	return true;
}

void md_table_free(struct md_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->is_number);
	memset(t, 0, sizeof(*t));
}

/* ---- Python's notion of numbers in strings ------------------------------ */

/* Length in bytes of the Python whitespace code point at s, or 0. */
static size_t py_space_len(const unsigned char *s)
{
	if (*s == ' ' || (*s >= '\t' && *s <= '\r') || (*s >= 0x1c && *s <= 0x1f))
		return 1;
	if (s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
		return 3;
	if (s[0] == 0xE2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 ||
					     s[2] == 0xA9 || s[2] == 0xAF))
		return 3;
	if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
		return 3;
	if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

/* str.strip(): returns a malloc'd copy without surrounding whitespace. */
static char *py_strip(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end, *q;
	size_t n;

	while ((n = py_space_len(p)))
		p += n;
	end = p;
	for (q = p; *q;) {
		n = py_space_len(q);
		if (n) {
			q += n;
		} else {
			q++;
			while ((*q & 0xC0) == 0x80)
				q++;
			end = q;
		}
	}
	return strndup((const char *)p, (size_t)(end - p));
}

/* Python int(s) succeeds (ASCII digits only). */
static bool py_is_int(const char *s)
{
	char *t = py_strip(s);
	const char *p = t;
	bool ok, digit = false;

	if (!t)
		return false;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (!(*p == '_' && digit && p[1] >= '0' && p[1] <= '9'))
			break;
	}
	ok = digit && !*p;
	free(t);
	return ok;
}

/* Python float(s) succeeds; fills *value. ASCII forms only. */
static bool py_parse_float(const char *s, double *value)
{
	char *t = py_strip(s), *clean, *c, *end;
	const char *p;
	bool ok = false;

	if (!t)
		return false;
	clean = malloc(strlen(t) + 1);
	if (!clean) {
		free(t);
		return false;
	}
	/* Underscores may only sit between digits. */
	for (p = t, c = clean; *p; p++) {
		if (*p == '_') {
			if (p == t || !(p[-1] >= '0' && p[-1] <= '9') || !(p[1] >= '0' && p[1] <= '9'))
				goto out;
			continue;
		}
		*c++ = *p;
	}
	*c = '\0';
	p = clean + (*clean == '+' || *clean == '-');
	if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
		*value = strtod(clean, NULL);
		ok = true;
		goto out;
	}
	/* strtod also takes hex floats and "infinity" prefixes; Python does not. */
	for (const char *q = p; *q; q++)
		if (!strchr("0123456789.eE+-", *q))
			goto out;
	if (!*p)
		goto out;
	*value = strtod(clean, &end);
	ok = end != clean && !*end;
out:
	free(clean);
	free(t);
	return ok;
}

/* tabulate's _isnumber: float() works, and inf/nan only when spelled
 * "inf", "-inf" or "nan" (any case). */
static bool tab_is_number(const char *s)
{
	double v;

	if (!py_parse_float(s, &v))
		return false;
	if (isinf(v) || isnan(v))
		return !strcasecmp(s, "inf") || !strcasecmp(s, "-inf") || !strcasecmp(s, "nan");
	return true;
}

enum col_type { COL_BOOL = 1, COL_INT = 2, COL_FLOAT = 3, COL_STR = 5 };

static enum col_type cell_type(const char *s)
{
	if (!strcmp(s, "True") || !strcmp(s, "False"))
		return COL_BOOL;
	if (py_is_int(s))
		return COL_INT;
	if (tab_is_number(s))
		return COL_FLOAT;
	return COL_STR;
}

/* format(float(s), "g") */
static char *format_g(const char *s)
{
	double v = 0;
	char buf[64];

	py_parse_float(s, &v);
	if (isnan(v))
		return strdup("nan");
	snprintf(buf, sizeof(buf), "%g", v);
	return strdup(buf);
}

/* tabulate's _afterpoint */
static int after_point(const char *s)
{
	const char *p;

	if (!tab_is_number(s) || py_is_int(s))
		return -1;
	p = strrchr(s, '.');
	if (!p)
		p = strrchr(s, 'e') ? strrchr(s, 'e') : strrchr(s, 'E');
	return p ? (int)strlen(p + 1) : -1;
}

bool md_table_print(const struct md_table *t, FILE *out)
{
	size_t nc = t->ncols, nr = t->nrows;
	char **cells = calloc(nr * nc + 1, sizeof(*cells));
	size_t *width = calloc(nc, sizeof(*width));
	bool *numeric = calloc(nc, sizeof(*numeric));
	bool ok = false;

	if (!cells || !width || !numeric)
		goto out;
	for (size_t c = 0; c < nc; c++) {
		enum col_type type = COL_BOOL;
		int maxdec = -1;

		for (size_t r = 0; r < nr && !t->is_number[c]; r++) {
			enum col_type ct = cell_type(t->cells[r * nc + c]);

			if (ct > type)
				type = ct;
		}
		if (t->is_number[c])
			type = COL_INT;
		numeric[c] = type == COL_INT || type == COL_FLOAT;
		for (size_t r = 0; r < nr; r++) {
			const char *v = t->cells[r * nc + c];

			if (type == COL_FLOAT && !t->is_number[c])
				cells[r * nc + c] = format_g(v);
			else if (numeric[c])
				cells[r * nc + c] = strdup(v);
			else
				cells[r * nc + c] = py_strip(v);
			if (!cells[r * nc + c])
				goto out;
			if (numeric[c]) {
				int d = after_point(cells[r * nc + c]);

				if (d > maxdec)
					maxdec = d;
			}
		}
		/* Decimal alignment pads the right of numbers with fewer digits
		 * after the point. */
		if (numeric[c])
			for (size_t r = 0; r < nr; r++) {
				char *v = cells[r * nc + c];
				int pad = maxdec - after_point(v);

				if (pad > 0) {
					size_t n = strlen(v);
					char *nv = realloc(v, n + (size_t)pad + 1);

					if (!nv)
						goto out;
					memset(nv + n, ' ', (size_t)pad);
					nv[n + (size_t)pad] = '\0';
					cells[r * nc + c] = nv;
				}
			}
		width[c] = utf8_count_chars(t->headers[c]) + 2;
		for (size_t r = 0; r < nr; r++) {
			size_t w = utf8_count_chars(cells[r * nc + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int line = -2; line < (int)nr; line++) {
		fputc('|', out);
		for (size_t c = 0; c < nc; c++) {
			const char *v = line == -2 ? t->headers[c] : line >= 0 ? cells[(size_t)line * nc + c] : NULL;

			if (!v) {
				for (size_t k = 0; k < width[c] + 2; k++)
					fputc('-', out);
			} else {
				size_t len = utf8_count_chars(v);

				fputc(' ', out);
				if (numeric[c] && len < width[c])
					put_spaces(out, width[c] - len);
				fputs(v, out);
				if (!numeric[c] && len < width[c])
					put_spaces(out, width[c] - len);
				fputc(' ', out);
			}
			fputc('|', out);
		}
		fputc('\n', out);
	}
	ok = true;
out:
	if (cells)
		for (size_t i = 0; i < nr * nc; i++)
			free(cells[i]);
	free(cells);
	free(width);
	free(numeric);
	return ok;
}
