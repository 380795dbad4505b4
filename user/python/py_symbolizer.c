/* SPDX-License-Identifier: MIT */
/*
 * Code object -> names and line table, cached per (code address, sig) for one
 * process. sig (co_filename ^ co_name pointers, as the walker read them) is
 * re-checked against the object, so a freed and reused address is refused.
 */
#include "python/py_objects.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash_map.h"

/* Cleared when full: code objects are few and long-lived, a refill is cheap. */
#define CACHE_MAX_ENTRIES (1u << 20)

struct code_key {
	uint64_t code, sig;
};

struct code_entry {
	char *name, *qualname, *filename;
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
};

struct py_symbolizer {
	struct py_mem mem;
	struct py_target target;
	struct hash_map entries; /* struct code_key -> struct code_entry */
};

struct py_symbolizer *py_symbolizer_new(pid_t pid, const struct py_target *t)
{
	struct py_symbolizer *s = calloc(1, sizeof(*s));

	if (!s || !t)
		goto fail;
	s->target = *t;
	hash_map_init(&s->entries, sizeof(struct code_key), sizeof(struct code_entry));
	py_mem_open(&s->mem, pid);
	return s;
fail:
	free(s);
	return NULL;
}

static void entry_clear(struct code_entry *e)
{
	free(e->name);
	free(e->qualname);
	free(e->filename);
	free(e->linetable);
	memset(e, 0, sizeof(*e));
}

static void clear_entries(struct py_symbolizer *s)
{
	for (size_t i = 0; i < s->entries.cap; i++)
		if (hash_map_slot_used(&s->entries, i))
			entry_clear(hash_map_val(&s->entries, i));
	hash_map_clear(&s->entries);
}

void py_symbolizer_free(struct py_symbolizer *s)
{
	if (!s)
		return;
	clear_entries(s);
	hash_map_free(&s->entries);
	py_mem_close(&s->mem);
	free(s);
}

static struct code_entry *find_entry(const struct py_symbolizer *s, const struct code_key *key)
{
	size_t slot = hash_map_find(&s->entries, hash_u64_pair(key->code, key->sig), key, NULL, NULL);

	return slot == HASH_MAP_NONE ? NULL : hash_map_val(&s->entries, slot);
}

static uint64_t field_u64(const uint8_t *obj, uint16_t off)
{
	uint64_t v;

	memcpy(&v, obj + off, sizeof(v));
	return v;
}

/* The code object's fixed part, up to the furthest field read. */
size_t py_code_header_len(const struct py_target *t)
{
	uint16_t offs[] = { t->obj.ob_type, t->proc.off.code_filename, t->proc.off.code_name, t->obj.code_linetable,
			    t->obj.code_qualname, t->obj.code_firstlineno };
	size_t need = 0;

	/* fields every layout has: a layout without them is refused, not read past */
	if (t->obj.ob_type == PY_OFF_NONE || t->obj.code_linetable == PY_OFF_NONE ||
	    t->obj.code_firstlineno == PY_OFF_NONE || t->proc.off.code_filename == PY_OFF_NONE ||
	    t->proc.off.code_name == PY_OFF_NONE)
		return SIZE_MAX;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (offs[i] != PY_OFF_NONE && (size_t)offs[i] + 8 > need)
			need = (size_t)offs[i] + 8;
	return need;
}

static int read_code(struct py_symbolizer *s, uint64_t code, uint64_t sig, struct code_entry *e)
{
	const struct py_target *t = &s->target;
	uint8_t obj[0x200];
	size_t len = py_code_header_len(t);
	uint64_t filename, name;
	int32_t firstlineno;

	if (len > sizeof(obj) || py_mem_read(&s->mem, code, obj, len) < 0)
		return -1;
	if (t->code_type_addr && field_u64(obj, t->obj.ob_type) != t->code_type_addr)
		return -1;
	filename = field_u64(obj, t->proc.off.code_filename);
	name = field_u64(obj, t->proc.off.code_name);
	if ((filename ^ name) != sig)
		return -1;
	memcpy(&firstlineno, obj + t->obj.code_firstlineno, sizeof(firstlineno));
	e->firstlineno = firstlineno;
	e->filename = py_read_string(&s->mem, t, filename);
	e->name = py_read_string(&s->mem, t, name);
	if (t->obj.code_qualname != PY_OFF_NONE)
		e->qualname = py_read_string(&s->mem, t, field_u64(obj, t->obj.code_qualname));
	if (!e->filename || !e->name ||
	    py_read_bytes(&s->mem, t, field_u64(obj, t->obj.code_linetable), &e->linetable, &e->linetable_len) < 0) {
		entry_clear(e);
		return -1;
	}
	return 0;
}

/* The cached entry for (code, sig), reading the object on a miss; NULL if unreadable. */
static struct code_entry *lookup_or_read(struct py_symbolizer *s, uint64_t code, uint64_t sig)
{
	struct code_key key = { .code = code, .sig = sig };
	struct code_entry *e = find_entry(s, &key), fresh = { 0 };

	if (e)
		return e;
	if (read_code(s, code, sig, &fresh) < 0)
		return NULL;
	if (s->entries.len >= CACHE_MAX_ENTRIES)
		clear_entries(s);
	size_t slot = hash_map_insert(&s->entries, hash_u64_pair(code, sig), &key, &fresh);
	if (slot == HASH_MAP_NONE) {
		entry_clear(&fresh);
		return NULL;
	}
	return hash_map_val(&s->entries, slot);
}

size_t py_code_event_regions(const struct bpfspy_code_event *e, size_t size, struct py_mem_region *out)
{
	const uint8_t *data = (const uint8_t *)(e + 1);
	size_t n = 0;

	if (size < sizeof(*e))
		return 0;
	size -= sizeof(*e);
	for (int i = 0; i < CODE_REGIONS; i++) {
		size_t off = CODE_REGION_OFFSET(i), len = e->len[i];

		if (!e->addr[i] || !len || off > size || len > size - off)
			continue;
		out[n++] = (struct py_mem_region){ .addr = e->addr[i], .bytes = data + off, .len = len };
	}
	return n;
}

int py_symbolizer_add_capture(struct py_symbolizer *s, uint64_t code, uint64_t sig,
			      const struct py_mem_region *regions, size_t nregions)
{
	struct code_entry *e;

	if (!s || !code)
		return -1;
	if (find_entry(s, &(struct code_key){ .code = code, .sig = sig }))
		return 0;
	s->mem.overlay = regions;
	s->mem.noverlay = nregions;
	e = lookup_or_read(s, code, sig);
	s->mem.overlay = NULL;
	s->mem.noverlay = 0;
	return e ? 0 : -1;
}

int py_symbolize(struct py_symbolizer *s, uint64_t code, uint64_t sig, int64_t lasti,
		 struct py_code_info *info, int *line)
{
	struct code_entry *e;

	if (!s || !code)
		return -1;
	e = lookup_or_read(s, code, sig);
	if (!e)
		return -1;
	info->name = e->name;
	info->qualname = e->qualname ? e->qualname : e->name;
	info->filename = e->filename;
	info->firstlineno = e->firstlineno;
	*line = py_linetable_line(s->target.version_hex, (enum py_lasti_kind)s->target.proc.off.lasti_kind,
				  e->linetable, e->linetable_len, e->firstlineno, lasti);
	return 0;
}
