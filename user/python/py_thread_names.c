/* SPDX-License-Identifier: MIT */
/*
 * Thread names as threading knows them, read from another process:
 *
 *   interpreter -> sys.modules (dict) -> "threading" (module) -> its __dict__
 *   -> "_active" (dict: ident -> Thread) -> each Thread's attributes
 *   -> "_name" (str), "_native_id" (int)
 *
 * Dicts changed shape across versions:
 *  - 3.8-3.10 keys: dk_size, dk_nentries, 1/2/4/8-byte indices sized by
 *    dk_size, then {hash, key, value} entries;
 *  - 3.11+ keys: dk_log2_size, dk_log2_index_bytes, dk_kind (general:
 *    {hash, key, value}; unicode and split: {key, value}), dk_nentries;
 *  - split dicts keep their values apart (ma_values); 3.13+ PyDictValues
 *    starts with 8 bytes (capacity, size, embedded, valid) before values[].
 * Instance attributes: 3.8-3.10 behind tp_dictoffset; 3.11 a managed dict
 * (obj-24) or values (obj-32) with the type's cached keys; 3.12 one tagged
 * pointer at obj-24 (odd: values + -1); 3.13+ a managed dict at obj-24, else
 * inline values right after the object (tp_basicsize) with the cached keys.
 *
 * Everything is bounded: table sizes, entries visited, string lengths and
 * the total number of reads. A failed read gives up; the caller keeps the
 * names it had.
 */
#include "python/py_layout.h"

#include <stdlib.h>
#include <string.h>

#include "python/py_memory.h"
#include "python/py_objects.h"
#include "util/utf8.h"

#define MAX_INTERPRETERS 16
#define MAX_DICT_LOG2 20          /* a dict of more than a million slots is not what we look for */
#define MAX_SCAN_ENTRIES 100000   /* entries visited in one dict */
#define READ_BUDGET 200000        /* reads per call, over everything */
#define ENTRY_CHUNK 64            /* entries read at once */

#define TPFLAGS_INLINE_VALUES (1ul << 2) /* 3.13+ */
#define TPFLAGS_MANAGED_DICT (1ul << 4)  /* 3.11+ */
#define MANAGED_DICT_OFFSET 24           /* before the object (GIL builds) */
#define MANAGED_VALUES_OFFSET 32         /* 3.11 */
#define MODULE_DICT 0x10                 /* PyModuleObject md_dict, every version */
#define TYPE_NAME 0x18                   /* PyTypeObject tp_name, every version */

struct reader {
	struct py_mem mem;
	const struct py_target *t;
	unsigned minor;
	long budget;
};

static int rd(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	if (--r->budget < 0)
		return -1;
	return py_mem_read(&r->mem, addr, buf, len);
}

static int rd_u64(struct reader *r, uint64_t addr, uint64_t *out)
{
	return rd(r, addr, out, sizeof(*out));
}

/* ---- dicts ---------------------------------------------------------------- */

struct dict_view {
	uint64_t keys;      /* the keys table */
	uint64_t entries;   /* the first entry */
	uint64_t nentries;
	unsigned entry_size, key_off, value_off;
	uint64_t values;    /* split table: &values[0], else 0 */
	uint64_t nvalues;   /* split table: slots in values[] (bounded) */
	uint64_t pos;       /* iteration */
	uint64_t chunk_first, chunk_n;
	uint8_t chunk[ENTRY_CHUNK * 24];
};

static int keys_view(struct reader *r, uint64_t keys, struct dict_view *v)
{
	uint8_t hdr[0x28];

	memset(v, 0, sizeof(*v));
	if (!keys || rd(r, keys, hdr, sizeof(hdr)) < 0)
		return -1;
	if (r->minor <= 10) {
		uint64_t size, nentries, ib;

		memcpy(&size, hdr + 0x8, 8);
		memcpy(&nentries, hdr + 0x20, 8);
		if (size < 8 || size > (1ull << MAX_DICT_LOG2) || (size & (size - 1)) || nentries > size)
			return -1;
		ib = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		v->entries = keys + 0x28 + size * ib;
		v->nentries = nentries;
		v->entry_size = 24;
		v->key_off = 8;
		v->value_off = 16;
		return 0;
	}
	uint8_t log2_size = hdr[0x8], log2_index_bytes = hdr[0x9], kind = hdr[0xa];
	uint64_t nentries;

	memcpy(&nentries, hdr + 0x18, 8);
	if (log2_size < 3 || log2_size > MAX_DICT_LOG2 || log2_index_bytes < log2_size ||
	    log2_index_bytes > log2_size + 3 || kind > 2 || nentries > (1ull << log2_size))
		return -1;
	v->entries = keys + 0x20 + (1ull << log2_index_bytes);
	v->nentries = nentries;
	v->entry_size = kind == 0 ? 24 : 16;
	v->key_off = kind == 0 ? 8 : 0;
	v->value_off = kind == 0 ? 16 : 8;
	return 0;
}

/* values: a PyDictValues (3.11+) or PyObject ** (3.8-3.10); 0 for a combined table. */
static int set_values(struct reader *r, struct dict_view *v, uint64_t values)
{
	if (!values)
		return 0;
	v->nvalues = v->nentries;
	if (r->minor >= 13) {
		uint8_t head[4]; /* capacity, size, embedded, valid */

		if (rd(r, values, head, sizeof(head)) < 0 || !head[3])
			return -1;
		if (v->nvalues > head[0])
			v->nvalues = head[0];
		values += 8;
	}
	v->values = values;
	return 0;
}

static int dict_view(struct reader *r, uint64_t dict, struct dict_view *v)
{
	const struct py_object_layout *o = &r->t->obj;
	uint64_t keys, values;

	if (!dict || rd_u64(r, dict + o->dict_keys, &keys) < 0 || rd_u64(r, dict + o->dict_values, &values) < 0)
		return -1;
	if (keys_view(r, keys, v) < 0)
		return -1;
	v->keys = keys;
	return set_values(r, v, values);
}

/* The next live (key, value); 0 at the end, 1 with an entry, -1 on a read error. */
static int dict_next(struct reader *r, struct dict_view *v, uint64_t *key, uint64_t *value)
{
	while (v->pos < v->nentries && v->pos < MAX_SCAN_ENTRIES) {
		uint64_t i = v->pos++;

		if (i >= v->chunk_first + v->chunk_n || i < v->chunk_first) {
			uint64_t n = v->nentries - i < ENTRY_CHUNK ? v->nentries - i : ENTRY_CHUNK;

			if (rd(r, v->entries + i * v->entry_size, v->chunk, n * v->entry_size) < 0)
				return -1;
			v->chunk_first = i;
			v->chunk_n = n;
		}
		const uint8_t *e = v->chunk + (i - v->chunk_first) * v->entry_size;
		memcpy(key, e + v->key_off, 8);
		if (v->values) {
			if (i >= v->nvalues)
				return 0;
			if (rd_u64(r, v->values + 8 * i, value) < 0)
				return -1;
		} else {
			memcpy(value, e + v->value_off, 8);
		}
		if (*key && *value)
			return 1;
	}
	return 0;
}

/* ---- objects -------------------------------------------------------------- */

/* Is the str at addr exactly s (ASCII)? Reads the header, then the characters if the length matches. */
static bool str_is(struct reader *r, uint64_t addr, const char *s)
{
	struct py_unicode_layout l = { .version_hex = r->t->version_hex, .free_threaded = r->t->free_threaded };
	uint8_t hdr[0x40];
	char data[32];
	uint64_t length, data_offset;
	unsigned kind;
	size_t n = strlen(s);

	if (n >= sizeof(data) || rd(r, addr, hdr, sizeof(hdr)) < 0 ||
	    py_unicode_header(&l, hdr, sizeof(hdr), &length, &kind, &data_offset) < 0 || kind != 1 || length != n)
		return false;
	if (data_offset + n <= sizeof(hdr))
		return memcmp(hdr + data_offset, s, n) == 0;
	return rd(r, addr + data_offset, data, n) == 0 && memcmp(data, s, n) == 0;
}

/* The value of key s in the dict: 1 and *value, 0 if absent, -1 if the dict could not be read. */
static int dict_get_str(struct reader *r, uint64_t dict, const char *s, struct py_dict_memo *memo, uint64_t *value)
{
	struct dict_view v;
	uint64_t key;
	int rc;

	if (dict_view(r, dict, &v) < 0)
		return -1;
	bool same = memo && memo->known && memo->dict == dict && memo->keys == v.keys && memo->nentries == v.nentries;
	if (same && !memo->found)
		return 0;
	if (same) {
		v.pos = memo->index;
		if (dict_next(r, &v, &key, value) == 1 && v.pos == memo->index + 1 && str_is(r, key, s))
			return 1;
		v.pos = 0; /* replaced in place: look again */
		v.chunk_n = 0;
	}
	while ((rc = dict_next(r, &v, &key, value)) == 1)
		if (str_is(r, key, s))
			break;
	if (rc < 0 || r->budget < 0)
		return -1;
	if (memo)
		*memo = (struct py_dict_memo){ .dict = dict, .keys = v.keys, .nentries = v.nentries,
					       .index = v.pos - 1, .known = true, .found = rc == 1 };
	return rc;
}

static bool type_is(struct reader *r, uint64_t obj, const char *name)
{
	uint64_t type, tp_name;
	char buf[16];
	size_t n = strlen(name) + 1;

	return n <= sizeof(buf) && rd_u64(r, obj + r->t->obj.ob_type, &type) == 0 &&
	       rd_u64(r, type + TYPE_NAME, &tp_name) == 0 && rd(r, tp_name, buf, n) == 0 && memcmp(buf, name, n) == 0;
}

/* A non-negative int that fits in 64 bits. */
static int read_long(struct reader *r, uint64_t obj, uint64_t *out)
{
	const struct py_object_layout *o = &r->t->obj;
	uint64_t tag, ndigits;
	uint32_t digits[3];

	if (!type_is(r, obj, "int") || rd_u64(r, obj + o->long_size, &tag) < 0)
		return -1;
	if (r->minor >= 12) {
		if ((tag & 3) == 2)
			return -1; /* negative */
		ndigits = (tag & 3) == 1 ? 0 : tag >> 3;
	} else {
		if ((int64_t)tag < 0)
			return -1;
		ndigits = tag;
	}
	if (ndigits > 3 || (ndigits && rd(r, obj + o->long_digit, digits, ndigits * 4) < 0))
		return -1;
	*out = 0;
	for (uint64_t i = ndigits; i-- > 0;) {
		if (*out >> 34)
			return -1; /* more than 64 bits */
		*out = *out << 30 | (digits[i] & 0x3fffffffu);
	}
	return 0;
}

/* The attributes of an instance of a Python class, as a dict view. */
static int attributes_view(struct reader *r, uint64_t obj, struct dict_view *v)
{
	const struct py_object_layout *o = &r->t->obj;
	uint64_t type, flags = 0, dict = 0, values = 0;
	int64_t dictoffset;

	if (rd_u64(r, obj + o->ob_type, &type) < 0 || rd_u64(r, type + o->type_flags, &flags) < 0)
		return -1;
	if (r->minor <= 10 || !(flags & TPFLAGS_MANAGED_DICT)) {
		if (rd(r, type + o->type_dictoffset, &dictoffset, 8) < 0 || dictoffset <= 0 || dictoffset > 0x10000 ||
		    rd_u64(r, obj + (uint64_t)dictoffset, &dict) < 0)
			return -1;
		return dict_view(r, dict, v);
	}
	if (rd_u64(r, obj - MANAGED_DICT_OFFSET, &dict) < 0)
		return -1;
	if (r->minor == 12 && (dict & 1)) {
		values = dict + 1; /* tagged: the values pointer minus one */
		dict = 0;
	}
	if (dict)
		return dict_view(r, dict, v);
	if (r->minor == 11 && rd_u64(r, obj - MANAGED_VALUES_OFFSET, &values) < 0)
		return -1;
	if (r->minor >= 13) {
		uint64_t basicsize;

		if (!(flags & TPFLAGS_INLINE_VALUES) || rd_u64(r, type + o->type_basicsize, &basicsize) < 0 ||
		    basicsize < 0x10 || basicsize > 0x1000)
			return -1;
		values = obj + basicsize;
	}
	uint64_t keys;
	if (!values || rd_u64(r, type + o->type_cached_keys, &keys) < 0 || keys_view(r, keys, v) < 0)
		return -1;
	return set_values(r, v, values);
}

static void copy_name(struct reader *r, uint64_t str, char *out)
{
	char *s = py_read_string(&r->mem, r->t, str);

	r->budget -= 2;
	if (!s)
		return;
	/* truncate at a character boundary */
	size_t n = utf8_truncate(s, strlen(s), PY_THREAD_NAME_MAX - 1);

	memcpy(out, s, n);
	out[n] = '\0';
	free(s);
}

/* One Thread object: its _name and _native_id. false if it has no readable name. */
static bool read_thread(struct reader *r, uint64_t thread, struct py_thread_name *out)
{
	struct dict_view v;
	uint64_t key, value, native_id;
	bool have_name = false, have_id = false;

	out->name[0] = '\0';
	out->native_id = 0;
	if (attributes_view(r, thread, &v) < 0)
		return false;
	while ((!have_name || !have_id) && dict_next(r, &v, &key, &value) == 1) {
		if (!have_name && str_is(r, key, "_name")) {
			have_name = true;
			copy_name(r, value, out->name);
		} else if (!have_id && str_is(r, key, "_native_id")) {
			have_id = true;
			if (read_long(r, value, &native_id) == 0 && native_id <= UINT32_MAX)
				out->native_id = (uint32_t)native_id;
		}
	}
	return out->name[0] != '\0';
}

static int read_interpreter(struct reader *r, uint64_t interp, struct py_thread_names_memo *memo,
			    struct py_thread_name *out, size_t max, size_t *n)
{
	uint64_t modules, threading, globals, active, key, value;
	struct dict_view v;
	int rc;

	if (rd_u64(r, interp + r->t->obj.interp_modules, &modules) < 0)
		return -1;
	if (!modules)
		return 0; /* not initialised yet */
	rc = dict_get_str(r, modules, "threading", memo ? &memo->threading : NULL, &threading);
	if (rc <= 0)
		return rc; /* 0: not imported (yet) */
	if (rd_u64(r, threading + MODULE_DICT, &globals) < 0 ||
	    dict_get_str(r, globals, "_active", memo ? &memo->active : NULL, &active) <= 0 || dict_view(r, active, &v) < 0)
		return -1;
	while (*n < max && (rc = dict_next(r, &v, &key, &value)) == 1) {
		struct py_thread_name *t = &out[*n];

		if (read_long(r, key, &t->ident) == 0 && read_thread(r, value, t))
			(*n)++;
	}
	return r->budget < 0 ? -1 : 0;
}

static bool layout_known(const struct py_target *t)
{
	const struct py_object_layout *o = &t->obj;
	const uint16_t offs[] = { o->ob_type, o->interp_modules, o->type_flags, o->type_basicsize, o->type_dictoffset,
				  o->type_cached_keys, o->dict_keys, o->dict_values, o->long_size, o->long_digit };

	if (t->free_threaded || PY_MAJOR(t->version_hex) != 3 || PY_MINOR(t->version_hex) < 8)
		return false;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (offs[i] == PY_OFF_NONE || (i > 0 && offs[i] == 0))
			return false;
	return true;
}

int py_read_thread_names(pid_t pid, const struct py_target *t, struct py_thread_names_memo *memo,
			 struct py_thread_name *out, size_t max, size_t *n)
{
	struct reader r = { .t = t, .budget = READ_BUDGET };
	uint64_t interp = 0;
	int rc = 0;

	*n = 0;
	if (!t || !out || !layout_known(t))
		return -1;
	r.minor = PY_MINOR(t->version_hex);
	py_mem_open(&r.mem, pid);
	if (rd_u64(&r, t->proc.runtime_addr + t->proc.off.rt_interpreters_head, &interp) < 0)
		rc = -1;
	for (int i = 0; rc == 0 && interp && i < MAX_INTERPRETERS; i++) {
		rc = read_interpreter(&r, interp, i == 0 ? memo : NULL, out, max, n); /* subinterpreters: rare */
		if (rc == 0 && rd_u64(&r, interp + t->proc.off.interp_next, &interp) < 0)
			rc = -1;
	}
	py_mem_close(&r.mem);
	return rc;
}
