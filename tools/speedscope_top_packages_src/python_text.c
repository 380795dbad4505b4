#include "python_text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Python's repr() of a float: shortest digits that round-trip, fixed notation
 * for exponents in [-4, 16), ".0" on integral values. */
static void python_float_repr(double v, char *buf, size_t size)
{
	char digits[40];
	int prec, exp10, ndig;
	char *e;
	char mant[24];
	size_t m = 0;

	if (isnan(v)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(digits, sizeof(digits), "%.*e", prec, v);
		if (strtod(digits, NULL) == v)
			break;
	}
	/* digits is "[-]d[.ddd]e[+-]xx" */
	e = strchr(digits, 'e');
	exp10 = atoi(e + 1);
	*e = '\0';
	for (char *p = digits; *p; p++)
		if (*p != '.' && *p != '-')
			mant[m++] = *p;
	mant[m] = '\0';
	while (m > 1 && mant[m - 1] == '0')
		mant[--m] = '\0';
	ndig = (int)m;
	const char *sign = v < 0 || (v == 0 && signbit(v)) ? "-" : "";

	if (exp10 >= -5 + 1 && exp10 < 16) {
		char out[64];
		size_t o = 0;

		if (exp10 < 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "0.");
			for (int i = 0; i < -exp10 - 1; i++)
				out[o++] = '0';
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", mant);
		} else {
			for (int i = 0; i <= exp10; i++)
				out[o++] = i < ndig ? mant[i] : '0';
			out[o++] = '.';
			if (ndig > exp10 + 1)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", mant + exp10 + 1);
			else
				out[o++] = '0';
			out[o] = '\0';
		}
		out[o] = '\0';
		snprintf(buf, size, "%s%s", sign, out);
	} else if (ndig == 1) {
		snprintf(buf, size, "%s%ce%c%02d", sign, mant[0], exp10 < 0 ? '-' : '+', abs(exp10));
	} else {
		snprintf(buf, size, "%s%c.%se%c%02d", sign, mant[0], mant + 1, exp10 < 0 ? '-' : '+',
			 abs(exp10));
	}
}

/* Python ints print exactly (and -0 is 0); floats as repr() does. */
static char *format_number(struct json_span raw)
{
	char buf[128];
	bool integral = memchr(raw.start, '.', raw.len) == NULL && memchr(raw.start, 'e', raw.len) == NULL &&
			memchr(raw.start, 'E', raw.len) == NULL && raw.start[raw.len - 1] >= '0' &&
			raw.start[raw.len - 1] <= '9';

	if (integral)
		return raw.len == 2 && raw.start[0] == '-' && raw.start[1] == '0' ? strdup("0")
										 : strndup(raw.start, raw.len);
	struct json_cursor c = { raw.start, raw.start + raw.len };

	python_float_repr(json_take_number(&c), buf, sizeof(buf));
	return strdup(buf);
}

char *python_format_value(struct json_span v)
{
	struct json_cursor c = { v.start, v.start + v.len };
	cJSON *tree;
	char *text;
	size_t n;

	switch (json_peek_kind(&c)) {
	case JSON_KIND_STRING:
		n = json_take_string(&(struct json_cursor){ c.p, c.end }, NULL, 0);
		text = malloc(n + 1);
		if (text)
			json_take_string(&c, text, n + 1);
		return text;
	case JSON_KIND_TRUE:
		return strdup("True");
	case JSON_KIND_FALSE:
		return strdup("False");
	case JSON_KIND_NULL:
		return strdup("None");
	case JSON_KIND_NUMBER:
		return format_number(v);
	default:
		/* Lists and objects: Python would print their repr; compact JSON
		 * text is the closest honest rendering. NaN inside is not cJSON's. */
		tree = cJSON_ParseWithLength(v.start, v.len);
		text = tree ? cJSON_PrintUnformatted(tree) : strndup(v.start, v.len);
		cJSON_Delete(tree);
		return text;
	}
}

bool python_int_of_string(const char *s, double *out)
{
	double v = 0;
	bool neg = false, digit_before = false;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s - '0');
			digit_before = true;
		} else if (*s == '_' && digit_before && s[1] >= '0' && s[1] <= '9') {
			continue;
		} else {
			break;
		}
	}
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s || !digit_before)
		return false;
	*out = neg ? -v : v;
	return true;
}

