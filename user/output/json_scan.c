#include "output/json_scan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

void json_skip_ws(struct json_cursor *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

static bool take_literal(struct json_cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool skip_string(struct json_cursor *c)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '"') {
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\') {
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			return false;
		switch (c->p[1]) {
		case '"': case '\\': case '/': case 'b':
		case 'f': case 'n': case 'r': case 't':
			c->p += 2;
			break;
		case 'u':
			if (c->end - c->p < 6)
				return false;
			for (int i = 2; i < 6; i++)
				if (hex_value(c->p[i]) < 0)
					return false;
			c->p += 6;
			break;
		default:
			return false;
		}
	}
	return false;
}

static bool skip_number(struct json_cursor *c)
{
	/* Hot path: only look for the word literals when the first byte says so. */
	if (c->p < c->end && (*c->p == 'N' || *c->p == 'I' || (*c->p == '-' && c->p + 1 < c->end && c->p[1] == 'I')))
		return take_literal(c, "NaN") || take_literal(c, "Infinity") || take_literal(c, "-Infinity");
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || !is_digit(*c->p))
		return false;
	if (*c->p == '0')
		c->p++;
	else
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return false;
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return false;
		while (c->p < c->end && is_digit(*c->p))
			c->p++;
	}
	return true;
}

/* Iterative so that hostile nesting cannot exhaust the C stack; the open
 * containers are tracked as one bit each. */
bool json_skip_value(struct json_cursor *c)
{
	uint8_t is_object[(JSON_MAX_DEPTH + 7) / 8];
	int depth = 0;

	for (;;) {
		json_skip_ws(c);
		if (c->p >= c->end)
			return false;
		char ch = *c->p;
		bool scalar_ok = true;

		if (ch == '{' || ch == '[') {
			if (depth >= JSON_MAX_DEPTH)
				return false;
			bool obj = ch == '{';

			if (obj)
				is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
			else
				is_object[depth / 8] &= (uint8_t)~(1u << (depth % 8));
			depth++;
			c->p++;
			json_skip_ws(c);
			if (c->p < c->end && *c->p == (obj ? '}' : ']')) {
				c->p++;
				depth--;
				goto after_value;
			}
			if (obj)
				goto object_key;
			continue;
		}
		if (ch == '"')
			scalar_ok = skip_string(c);
		else if (ch == 't')
			scalar_ok = take_literal(c, "true");
		else if (ch == 'f')
			scalar_ok = take_literal(c, "false");
		else if (ch == 'n')
			scalar_ok = take_literal(c, "null");
		else
			scalar_ok = skip_number(c);
		if (!scalar_ok)
			return false;
after_value:
		for (;;) {
			if (depth == 0)
				return true;
			bool obj = is_object[(depth - 1) / 8] & (1u << ((depth - 1) % 8));

			json_skip_ws(c);
			if (c->p >= c->end)
				return false;
			if (*c->p == ',') {
				c->p++;
				if (obj)
					goto object_key;
				break;
			}
			if (*c->p != (obj ? '}' : ']'))
				return false;
			c->p++;
			depth--;
		}
		continue;
object_key:
		json_skip_ws(c);
		if (!skip_string(c))
			return false;
		json_skip_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return false;
		c->p++;
	}
}

bool json_validate_document(const char *buf, size_t len, size_t *err_offset)
{
	struct json_cursor c = { buf, buf + len };
	bool ok = json_skip_value(&c);

	if (ok) {
		json_skip_ws(&c);
		ok = c.p == c.end;
	}
	if (!ok && err_offset)
		*err_offset = (size_t)(c.p - buf);
	return ok;
}

/* Steps over the opening bracket of an object ('{') or array ('['). */
static bool container_begin(struct json_cursor *c, char open)
{
	json_skip_ws(c);
	if (c->p >= c->end || *c->p != open)
		return false;
	c->p++;
	return true;
}

bool json_object_begin(struct json_cursor *c)
{
	return container_begin(c, '{');
}

bool json_array_begin(struct json_cursor *c)
{
	return container_begin(c, '[');
}

/*
 * Steps to the next member of a container closed by close: false (after the
 * closing bracket) at its end, else true with the cursor on the member.
 */
static bool container_next(struct json_cursor *c, bool *first, char close)
{
	json_skip_ws(c);
	if (c->p >= c->end || *c->p == close) {
		if (c->p < c->end)
			c->p++;
		return false;
	}
	if (!*first && *c->p == ',') {
		c->p++;
		json_skip_ws(c);
	}
	*first = false;
	return true;
}

bool json_object_next(struct json_cursor *c, bool *first, struct json_span *key)
{
	if (!container_next(c, first, '}'))
		return false;
	const char *start = c->p;

	if (!skip_string(c))
		return false;
	key->start = start + 1;
	key->len = (size_t)(c->p - start) - 2;
	json_skip_ws(c);
	if (c->p < c->end && *c->p == ':')
		c->p++;
	json_skip_ws(c);
	return true;
}

bool json_array_next(struct json_cursor *c, bool *first)
{
	return container_next(c, first, ']');
}

bool json_key_equals(struct json_span key, const char *literal)
{
	char buf[64];
	struct json_cursor c = { key.start - 1, key.start + key.len + 1 };
	size_t n;

	if (memchr(key.start, '\\', key.len) == NULL)
		return key.len == strlen(literal) && memcmp(key.start, literal, key.len) == 0;
	n = json_take_string(&c, buf, sizeof(buf));
	return n < sizeof(buf) && strcmp(buf, literal) == 0;
}

struct json_span json_take_value(struct json_cursor *c)
{
	struct json_span span;

	json_skip_ws(c);
	span.start = c->p;
	json_skip_value(c);
	span.len = (size_t)(c->p - span.start);
	return span;
}

enum json_kind json_peek_kind(const struct json_cursor *c)
{
	struct json_cursor tmp = *c;

	json_skip_ws(&tmp);
	if (tmp.p >= tmp.end)
		return JSON_KIND_INVALID;
	switch (*tmp.p) {
	case '{': return JSON_KIND_OBJECT;
	case '[': return JSON_KIND_ARRAY;
	case '"': return JSON_KIND_STRING;
	case 't': return JSON_KIND_TRUE;
	case 'f': return JSON_KIND_FALSE;
	case 'n': return JSON_KIND_NULL;
	default: return JSON_KIND_NUMBER;
	}
}

bool json_value_is_truthy(struct json_span value)
{
	struct json_cursor c = { value.start, value.start + value.len };
	struct json_cursor inner;
	double num;

	switch (json_peek_kind(&c)) {
	case JSON_KIND_OBJECT:
	case JSON_KIND_ARRAY:
		inner = c;
		json_skip_ws(&inner);
		inner.p++;
		json_skip_ws(&inner);
		return inner.p < inner.end && *inner.p != '}' && *inner.p != ']';
	case JSON_KIND_STRING:
		json_skip_ws(&c);
		return value.len >= 2 && c.p[1] != '"';
	case JSON_KIND_TRUE:
		return true;
	case JSON_KIND_NUMBER:
		num = json_take_number(&c);
		return num != 0.0; /* NaN is truthy in Python too */
	default:
		return false;
	}
}

double json_take_number(struct json_cursor *c)
{
	char buf[64];
	const char *start;
	size_t n;

	json_skip_ws(c);
	if (take_literal(c, "NaN"))
		return NAN;
	if (take_literal(c, "Infinity"))
		return INFINITY;
	if (take_literal(c, "-Infinity"))
		return -INFINITY;
	start = c->p;
	skip_number(c);
	n = (size_t)(c->p - start);
	/* Small integers dominate speedscope files: skip strtod for them. */
	if (n > 0 && n < 16) {
		const char *q = start;
		bool neg = *q == '-';
		long long v = 0;

		if (neg)
			q++;
		while (q < c->p && is_digit(*q))
			v = v * 10 + (*q++ - '0');
		if (q == c->p)
			return neg ? -(double)v : (double)v;
	}
	if (n >= sizeof(buf)) {
		char *tmp = strndup(start, n);
		double v = tmp ? strtod(tmp, NULL) : NAN;

		free(tmp);
		return v;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	return strtod(buf, NULL);
}

static size_t put_utf8(char *buf, size_t bufsize, size_t pos, uint32_t cp)
{
	char tmp[UTF8_MAX_SEQUENCE];
	size_t n = utf8_encode(cp, tmp);

	for (size_t i = 0; i < n; i++, pos++)
		if (pos + 1 < bufsize)
			buf[pos] = tmp[i];
	return pos;
}

static uint32_t read_hex4(const char *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v * 16 + (uint32_t)hex_value(p[i]);
	return v;
}

size_t json_take_string(struct json_cursor *c, char *buf, size_t bufsize)
{
	size_t pos = 0;

	json_skip_ws(c);
	if (c->p >= c->end || *c->p != '"') {
		if (bufsize)
			buf[0] = '\0';
		return 0;
	}
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		char ch = *c->p++;

		if (ch == '\\' && c->p < c->end) {
			char esc = *c->p++;
			uint32_t cp;

			switch (esc) {
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u':
				if (c->end - c->p < 4)
					goto done;
				cp = read_hex4(c->p);
				c->p += 4;
				if (cp >= 0xD800 && cp < 0xDC00 && c->end - c->p >= 6 &&
				    c->p[0] == '\\' && c->p[1] == 'u') {
					uint32_t lo = read_hex4(c->p + 2);

					if (lo >= 0xDC00 && lo < 0xE000) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						c->p += 6;
					}
				}
				pos = put_utf8(buf, bufsize, pos, cp);
				continue;
			default: ch = esc; break;
			}
		}
		if (pos + 1 < bufsize)
			buf[pos] = ch;
		pos++;
	}
done:
	if (c->p < c->end)
		c->p++;
	if (bufsize)
		buf[pos < bufsize ? pos : bufsize - 1] = '\0';
	return pos;
}
