/* SPDX-License-Identifier: MIT */
/*
 * A frame's fast locals, formatted the way py-spy's `dump --locals` shows
 * them: ints, floats, bools, None, str and bytes by value, anything else as
 * <type at 0xADDRESS>. Every read is bounded: the target keeps running and
 * an object may be freed while we look at it, which gives "?" at worst.
 */
#include "python/py_objects.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOCALS 1024
/* Ints up to 16 digits of 30 bits (480 bits, 145 decimal digits) are printed by value. */
#define LONG_MAX_DIGITS 16
#define UNICODE_HEADER_READ 0x40

/* 3.11+ co_localspluskinds: a plain local; a hidden one is an inlined comprehension's (3.12+). */
#define CO_FAST_HIDDEN 0x10
#define CO_FAST_LOCAL 0x20

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		n = o->cap - 1 - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* One byte of a quoted value: quotes, backslashes and control bytes escaped. */
static void put_escaped(struct out *o, unsigned char c, bool bytes)
{
	char esc[8];

	if (c == '"' || c == '\\') {
		esc[0] = '\\';
		esc[1] = (char)c;
		put(o, esc, 2);
	} else if (c == '\n') {
		puts_(o, "\\n");
	} else if (c == '\r') {
		puts_(o, "\\r");
	} else if (c == '\t') {
		puts_(o, "\\t");
	} else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
		snprintf(esc, sizeof(esc), "\\x%02x", c);
		puts_(o, esc);
	} else {
		put(o, (const char *)&c, 1);
	}
}

static void type_and_address(const struct py_mem *mem, const struct py_target *t, uint64_t type, uint64_t addr,
			     char *repr, size_t len)
{
	char name[65] = "object";
	uint64_t name_ptr;

	if (type && py_mem_read_u64(mem, type + t->locals.type_name, &name_ptr) == 0 &&
	    py_mem_read(mem, name_ptr, name, sizeof(name) - 1) == 0) {
		name[sizeof(name) - 1] = '\0';
		for (char *c = name; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
	}
	if (!name[0])
		snprintf(name, sizeof(name), "object");
	snprintf(repr, len, "<%s at 0x%llx>", name, (unsigned long long)addr);
}

/* The int at addr in decimal; -1 if unreadable, 1 if too big to print here. */
static int format_long(const struct py_mem *mem, const struct py_target *t, uint64_t addr, char *repr, size_t len)
{
	const struct py_locals_layout *l = &t->locals;
	uint32_t digits[LONG_MAX_DIGITS], work[LONG_MAX_DIGITS];
	uint64_t size_field, n;
	bool negative;
	char dec[LONG_MAX_DIGITS * 10 + 2];
	size_t pos = sizeof(dec) - 1;

	if (py_mem_read_u64(mem, addr + l->long_size, &size_field) < 0)
		return -1;
	if (l->long_tagged) {
		n = size_field >> 3;
		negative = (size_field & 3) == 2;
	} else {
		int64_t s = (int64_t)size_field;

		negative = s < 0;
		n = negative ? (uint64_t)-s : (uint64_t)s;
	}
	if (n > LONG_MAX_DIGITS)
		return 1;
	if (n && py_mem_read(mem, addr + l->long_digits, digits, n * sizeof(digits[0])) < 0)
		return -1;
	memcpy(work, digits, n * sizeof(digits[0]));
	dec[pos] = '\0';
	/* repeated division of the base-2^30 number by 10^9 */
	while (n > 0) {
		uint64_t rem = 0;

		for (size_t i = n; i-- > 0;) {
			uint64_t cur = rem << 30 | (work[i] & 0x3fffffffu);

			work[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (n > 0 && work[n - 1] == 0)
			n--;
		for (int k = 0; k < 9 && (n > 0 || rem > 0); k++) {
			dec[--pos] = (char)('0' + rem % 10);
			rem /= 10;
		}
	}
	if (pos == sizeof(dec) - 1)
		dec[--pos] = '0';
	snprintf(repr, len, "%s%s", negative ? "-" : "", dec + pos);
	return 0;
}

/* Python's repr(float): the shortest digits that read back the same. */
static void format_float(double v, char *repr, size_t len)
{
	char buf[40];

	if (v != v) {
		snprintf(repr, len, "nan");
		return;
	}
	if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		snprintf(repr, len, v > 0 ? "inf" : "-inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", sizeof(buf) - strlen(buf) - 1);
	snprintf(repr, len, "%s", buf);
}

static int format_str(const struct py_mem *mem, const struct py_target *t, uint64_t addr, char *repr, size_t len)
{
	struct py_unicode_layout layout = { .version_hex = t->version_hex, .free_threaded = t->free_threaded };
	uint8_t hdr[UNICODE_HEADER_READ], data[PY_LOCAL_STR_CHARS * 4];
	char utf8[PY_LOCAL_STR_CHARS * 4 + 1];
	uint64_t length, data_offset, n;
	unsigned kind;
	struct out o = { repr, 0, len };

	if (py_mem_read(mem, addr, hdr, sizeof(hdr)) < 0 ||
	    py_unicode_header(&layout, hdr, sizeof(hdr), &length, &kind, &data_offset) < 0)
		return -1;
	n = length < PY_LOCAL_STR_CHARS ? length : PY_LOCAL_STR_CHARS;
	if (py_mem_read(mem, addr + data_offset, data, n * kind) < 0 ||
	    py_unicode_to_utf8(kind, data, n, utf8, sizeof(utf8)) < 0)
		return -1;
	repr[0] = '\0';
	puts_(&o, "\"");
	for (const char *c = utf8; *c; c++)
		put_escaped(&o, (unsigned char)*c, false);
	puts_(&o, length > n ? "...\"" : "\"");
	return 0;
}

static int format_bytes(const struct py_mem *mem, const struct py_target *t, uint64_t addr, char *repr, size_t len)
{
	uint8_t data[PY_LOCAL_STR_CHARS];
	uint64_t size, n;
	struct out o = { repr, 0, len };

	if (py_mem_read_u64(mem, addr + t->obj.bytes_size, &size) < 0)
		return -1;
	n = size < PY_LOCAL_STR_CHARS ? size : PY_LOCAL_STR_CHARS;
	if (py_mem_read(mem, addr + t->obj.bytes_data, data, n) < 0)
		return -1;
	repr[0] = '\0';
	puts_(&o, "b\"");
	for (uint64_t i = 0; i < n; i++)
		put_escaped(&o, data[i], true);
	puts_(&o, size > n ? "...\"" : "\"");
	return 0;
}

static void format_value(const struct py_mem *mem, const struct py_target *t, uint64_t addr, char *repr,
			 size_t len)
{
	const struct py_type_addrs *ty = &t->types;
	uint64_t type;
	int r = 0;

	if (ty->none && addr == ty->none) {
		snprintf(repr, len, "None");
		return;
	}
	if (py_mem_read_u64(mem, addr + t->obj.ob_type, &type) < 0 || !type) {
		snprintf(repr, len, "?");
		return;
	}
	if (ty->bool_type && type == ty->bool_type) {
		r = format_long(mem, t, addr, repr, len);
		if (r == 0)
			snprintf(repr, len, strcmp(repr, "0") ? "True" : "False");
	} else if (ty->long_type && type == ty->long_type) {
		r = format_long(mem, t, addr, repr, len);
	} else if (ty->float_type && type == ty->float_type) {
		double v;

		r = py_mem_read(mem, addr + t->locals.float_value, &v, sizeof(v));
		if (r == 0)
			format_float(v, repr, len);
	} else if (ty->unicode_type && type == ty->unicode_type) {
		r = format_str(mem, t, addr, repr, len);
	} else if (ty->bytes_type && type == ty->bytes_type) {
		r = format_bytes(mem, t, addr, repr, len);
	} else {
		r = 1;
	}
	if (r < 0)
		snprintf(repr, len, "?");
	else if (r > 0)
		type_and_address(mem, t, type, addr, repr, len);
}

static bool have_layout(const struct py_target *t)
{
	const struct py_locals_layout *l = &t->locals;

	return l->frame_localsplus && l->frame_localsplus != PY_OFF_NONE && l->code_names &&
	       l->code_names != PY_OFF_NONE && l->tuple_items && l->type_name &&
	       (l->code_nlocals != PY_OFF_NONE || l->code_kinds != PY_OFF_NONE);
}

int py_frame_locals(pid_t pid, const struct py_target *t, uint64_t frame_addr, uint64_t code,
		    struct py_local *out, size_t max)
{
	const struct py_locals_layout *l = &t->locals;
	uint64_t names, kinds_obj, count, *values = NULL;
	uint8_t *kinds = NULL;
	size_t nkinds = 0, n = 0;
	int32_t argcount = 0, nlocals;
	struct py_mem mem;
	int r = -1;

	if (!have_layout(t) || !code || !frame_addr)
		return -1;
	py_mem_open(&mem, pid);
	if (py_mem_read_u64(&mem, code + l->code_names, &names) < 0 ||
	    py_mem_read_u64(&mem, names + l->tuple_size, &count) < 0 ||
	    py_mem_read(&mem, code + l->code_argcount, &argcount, sizeof(argcount)) < 0)
		goto out;
	if (l->code_nlocals != PY_OFF_NONE) {
		/* 3.8-3.10: f_localsplus starts with co_nlocals locals named by co_varnames */
		if (py_mem_read(&mem, code + l->code_nlocals, &nlocals, sizeof(nlocals)) < 0 || nlocals < 0)
			goto out;
		if ((uint64_t)nlocals < count)
			count = (uint64_t)nlocals;
	} else if (py_mem_read_u64(&mem, code + l->code_kinds, &kinds_obj) < 0 ||
		   py_read_bytes(&mem, t, kinds_obj, &kinds, &nkinds) < 0) {
		goto out;
	}
	if (count > MAX_LOCALS)
		count = MAX_LOCALS;
	values = calloc(count ? count : 1, sizeof(*values));
	if (!values || (count && py_mem_read(&mem, frame_addr + l->frame_localsplus, values, count * 8) < 0))
		goto out;
	for (uint64_t i = 0; i < count && n < max; i++) {
		uint64_t name_obj, value = values[i] & ~(uint64_t)t->proc.off.code_tag_mask; /* 3.14+ stack refs */
		char *name;

		if (kinds && (i >= nkinds || !(kinds[i] & CO_FAST_LOCAL) || (kinds[i] & CO_FAST_HIDDEN)))
			continue;
		if (value < 4096) /* unbound */
			continue;
		if (py_mem_read_u64(&mem, names + l->tuple_items + 8 * i, &name_obj) < 0)
			continue;
		name = py_read_string(&mem, t, name_obj);
		snprintf(out[n].name, sizeof(out[n].name), "%s", name ? name : "?");
		free(name);
		out[n].arg = i < (uint64_t)(argcount > 0 ? argcount : 0);
		format_value(&mem, t, value, out[n].repr, sizeof(out[n].repr));
		n++;
	}
	r = (int)n;
out:
	free(values);
	free(kinds);
	py_mem_close(&mem);
	return r;
}
