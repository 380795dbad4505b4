/* SPDX-License-Identifier: MIT */
/*
 * The threading._active walker against synthetic CPython objects built in this
 * process's own memory (read back through /proc/self/mem): every dict shape
 * (3.8-3.10 keys, 3.11+ unicode/general/split kinds), every way a Thread keeps
 * its attributes (tp_dictoffset, 3.11 values, 3.12 tagged pointer, 3.13+
 * inline values, a materialised managed dict), and corrupt memory, which must
 * end in an error or fewer names, never a crash or a long walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "python/py_layout.h"

#define TPFLAGS_INLINE_VALUES (1ul << 2)
#define TPFLAGS_MANAGED_DICT (1ul << 4)

struct fake {
	unsigned minor;
	struct py_layout l;
	const struct py_object_layout *o;
	void *blocks[512];
	size_t n;
	uint64_t int_type, none_type, thread_type;
};

/* A zeroed block; the address returned is pre bytes into it (room for a managed dict pre-header). */
static uint8_t *blk(struct fake *f, size_t size, size_t pre)
{
	assert_true(f->n < sizeof(f->blocks) / sizeof(f->blocks[0]));
	uint8_t *b = calloc(1, pre + size + 0x40); /* slack: the walker reads fixed-size headers */
	assert_non_null(b);
	f->blocks[f->n++] = b;
	return b + pre;
}

static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }
static uint64_t addr(const void *p) { return (uint64_t)(uintptr_t)p; }

static uint64_t fake_type(struct fake *f, const char *name, uint64_t flags, int64_t dictoffset, uint64_t basicsize)
{
	uint8_t *t = blk(f, 0x400, 0);
	char *n = (char *)blk(f, strlen(name) + 1, 0);
	strcpy(n, name);
	put64(t, 0x18, addr(n));
	put64(t, f->o->type_basicsize, basicsize);
	put64(t, f->o->type_flags, flags);
	put64(t, f->o->type_dictoffset, (uint64_t)dictoffset);
	return addr(t);
}

static uint64_t fake_str(struct fake *f, const char *s)
{
	size_t ascii_size = f->minor <= 11 ? 0x30 : 0x28, n = strlen(s);
	uint8_t *o = blk(f, ascii_size + n + 1, 0);
	uint32_t state = 1u << 2 | 1u << 5 | 1u << 6 | (f->minor <= 11 ? 1u << 7 : 0); /* kind 1, compact, ascii */
	put64(o, 0x10, n);
	memcpy(o + 0x20, &state, 4);
	memcpy(o + ascii_size, s, n);
	return addr(o);
}

static uint64_t fake_long(struct fake *f, uint64_t v)
{
	uint32_t d[3];
	uint64_t n = 0;
	uint8_t *o = blk(f, 0x30, 0);
	while (v) {
		d[n++] = v & 0x3fffffffu;
		v >>= 30;
	}
	put64(o, f->o->ob_type, f->int_type);
	put64(o, f->o->long_size, f->minor >= 12 ? (n ? n << 3 : 1) : n);
	memcpy(o + f->o->long_digit, d, 4 * n);
	return addr(o);
}

static uint64_t fake_none(struct fake *f)
{
	uint8_t *o = blk(f, 0x10, 0);
	put64(o, f->o->ob_type, f->none_type);
	return addr(o);
}

enum keys_kind { KEYS_GENERAL = 0, KEYS_UNICODE = 1, KEYS_SPLIT = 2 };

/* A keys object holding n (key, value) entries (a split table keeps no values in it). */
static uint64_t fake_keys(struct fake *f, const uint64_t *keys, const uint64_t *values, size_t n, enum keys_kind kind)
{
	unsigned log2 = 3;
	while ((1u << log2) * 2 / 3 < n)
		log2++;
	size_t size = 1u << log2;
	if (f->minor <= 10) {
		uint8_t *k = blk(f, 0x28 + size + 24 * n, 0);
		put64(k, 0x8, size);
		put64(k, 0x20, n);
		for (size_t i = 0; i < n; i++) {
			put64(k, 0x28 + size + 24 * i + 8, keys[i]);
			put64(k, 0x28 + size + 24 * i + 16, kind == KEYS_SPLIT ? 0 : values[i]);
		}
		return addr(k);
	}
	size_t es = kind == KEYS_GENERAL ? 24 : 16, ko = kind == KEYS_GENERAL ? 8 : 0;
	uint8_t *k = blk(f, 0x20 + size + es * n, 0);
	k[0x8] = (uint8_t)log2;
	k[0x9] = (uint8_t)log2; /* one-byte indices */
	k[0xa] = (uint8_t)kind;
	put64(k, 0x18, n);
	for (size_t i = 0; i < n; i++) {
		put64(k, 0x20 + size + es * i + ko, keys[i]);
		put64(k, 0x20 + size + es * i + ko + 8, kind == KEYS_SPLIT ? 0 : values[i]);
	}
	return addr(k);
}

/* A split table's values: 3.13+ PyDictValues has capacity, size, embedded, valid first. */
static uint64_t fake_values(struct fake *f, const uint64_t *values, size_t n, uint8_t *at)
{
	size_t head = f->minor >= 13 ? 8 : 0;
	uint8_t *v = at ? at : blk(f, head + 8 * n, 0);
	if (head) {
		v[0] = (uint8_t)n;
		v[1] = (uint8_t)n;
		v[3] = 1;
	}
	for (size_t i = 0; i < n; i++)
		put64(v, head + 8 * i, values[i]);
	return addr(v);
}

static uint64_t fake_dict(struct fake *f, uint64_t keys, uint64_t values)
{
	uint8_t *d = blk(f, 0x30, 0);
	put64(d, f->o->dict_keys, keys);
	put64(d, f->o->dict_values, values);
	return addr(d);
}

static uint64_t fake_combined(struct fake *f, const uint64_t *keys, const uint64_t *values, size_t n,
			      enum keys_kind kind)
{
	return fake_dict(f, fake_keys(f, keys, values, n, kind), 0);
}

enum attrs_as { ATTRS_NATURAL, ATTRS_MATERIALISED };

/* A Thread whose attributes live where this version keeps them; the type's cached keys are shared. */
static uint64_t fake_thread(struct fake *f, uint64_t cached_keys, const uint64_t *values, size_t n, enum attrs_as how)
{
	uint8_t *t = (uint8_t *)(uintptr_t)f->thread_type;
	put64(t, f->o->type_cached_keys, cached_keys);
	if (f->minor <= 10) {
		uint8_t *obj = blk(f, 0x20, 0);
		put64(obj, f->o->ob_type, f->thread_type);
		put64(obj, 0x10, fake_dict(f, cached_keys, fake_values(f, values, n, NULL)));
		return addr(obj);
	}
	uint8_t *obj = blk(f, 0x10 + 8 + 8 * n, 0x20);
	put64(obj, f->o->ob_type, f->thread_type);
	if (how == ATTRS_MATERIALISED) {
		put64(obj - 24, 0, fake_dict(f, cached_keys, fake_values(f, values, n, NULL)));
	} else if (f->minor == 11) {
		put64(obj - 32, 0, fake_values(f, values, n, NULL));
	} else if (f->minor == 12) {
		put64(obj - 24, 0, fake_values(f, values, n, NULL) - 1); /* tagged */
	} else {
		fake_values(f, values, n, obj + 0x10); /* inline, after the 16-byte object */
	}
	return addr(obj);
}

struct spec {
	uint64_t ident;
	const char *name;
	int64_t native_id; /* -1: None */
};

/* threading with those threads; returns the runtime address for the target. */
static uint64_t fake_process(struct fake *f, const struct spec *threads, size_t n, enum attrs_as how,
			     bool with_threading)
{
	uint64_t attr_keys[] = { fake_str(f, "_target"), fake_str(f, "_name"), fake_str(f, "_args"),
				 fake_str(f, "_ident"), fake_str(f, "_native_id") };
	uint64_t cached = fake_keys(f, attr_keys, NULL, 5, KEYS_SPLIT);
	uint64_t idents[16], objs[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		uint64_t vals[] = { fake_none(f), fake_str(f, threads[i].name), fake_none(f), fake_long(f, threads[i].ident),
				    threads[i].native_id < 0 ? fake_none(f) : fake_long(f, (uint64_t)threads[i].native_id) };
		idents[i] = fake_long(f, threads[i].ident);
		objs[i] = fake_thread(f, cached, vals, 5, how);
	}
	uint64_t active = fake_combined(f, idents, objs, n, KEYS_GENERAL);
	uint64_t gkeys[] = { fake_str(f, "__name__"), fake_str(f, "_active"), fake_str(f, "_limbo") };
	uint64_t gvals[] = { fake_str(f, "threading"), active, fake_none(f) };
	uint8_t *module = blk(f, 0x30, 0);
	put64(module, 0x10, fake_combined(f, gkeys, gvals, 3, KEYS_UNICODE));
	uint64_t mkeys[] = { fake_str(f, "sys"), fake_str(f, "threadinh"), fake_str(f, "threading") };
	uint64_t mvals[] = { fake_none(f), fake_none(f), addr(module) };
	uint64_t modules = fake_combined(f, mkeys, mvals, with_threading ? 3 : 2, KEYS_UNICODE);

	uint8_t *interp = blk(f, 0x2000, 0), *runtime = blk(f, 0x100, 0);
	put64(interp, f->o->interp_modules, modules);
	put64(interp, f->l.off.interp_next, 0);
	put64(runtime, f->l.off.rt_interpreters_head, addr(interp));
	return addr(runtime);
}

static void fake_init(struct fake *f, unsigned minor, struct py_target *t)
{
	memset(f, 0, sizeof(*f));
	f->minor = minor;
	/* 3.13+ take 3.12's object offsets: what differs is the walker's logic per minor */
	assert_true(py_layout_from_table(0x030000f0u | (minor <= 12 ? minor : 12) << 16, &f->l));
	f->o = &f->l.obj;
	f->int_type = fake_type(f, "int", 0, 0, 0x18);
	f->none_type = fake_type(f, "NoneType", 0, 0, 0x10);
	uint64_t flags = minor <= 10 ? 0 : TPFLAGS_MANAGED_DICT | (minor >= 13 ? TPFLAGS_INLINE_VALUES : 0);
	f->thread_type = fake_type(f, "Thread", flags, minor <= 10 ? 0x10 : -1, minor <= 10 ? 0x20 : 0x10);
	memset(t, 0, sizeof(*t));
	t->version_hex = 0x030000f0u | minor << 16;
	t->obj = f->l.obj;
	t->proc.off = f->l.off;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->blocks[i]);
	f->n = 0;
}

static const struct spec THREADS[] = {
	{ 0x7f1234567740ull, "MainThread", 4242 },
	{ 0x7f1230000640ull, "worker-with-a-long-name-1", 4243 },
	{ 0x7f122ffff640ull, "worker-with-a-long-name-2", -1 }, /* _native_id still None */
};

static void check_names(unsigned minor, enum attrs_as how)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[8];
	size_t n = 99;

	fake_init(&f, minor, &t);
	t.proc.runtime_addr = fake_process(&f, THREADS, 3, how, true);
	assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 8, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(out[i].ident, THREADS[i].ident);
		assert_string_equal(out[i].name, THREADS[i].name);
		assert_int_equal(out[i].native_id, THREADS[i].native_id < 0 ? 0 : (uint64_t)THREADS[i].native_id);
	}
	/* room for fewer: the first ones */
	assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 2, &n), 0);
	assert_int_equal(n, 2);
	fake_free(&f);
}

static void test_every_version(void **state)
{
	for (unsigned minor = 8; minor <= 15; minor++)
		check_names(minor, ATTRS_NATURAL);
}

static void test_materialised_instance_dicts(void **state)
{
	for (unsigned minor = 11; minor <= 15; minor++)
		check_names(minor, ATTRS_MATERIALISED);
}

static void test_no_threading_module_is_no_names(void **state)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[4];
	size_t n = 99;

	fake_init(&f, 12, &t);
	t.proc.runtime_addr = fake_process(&f, THREADS, 3, ATTRS_NATURAL, false);
	assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), 0);
	assert_int_equal(n, 0);
	fake_free(&f);
}

static void test_long_names_are_cut_at_a_character(void **state)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[4];
	char name[400];
	size_t n;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct spec one[] = { { 0x7f0000001000ull, name, 7 } };
	fake_init(&f, 13, &t);
	t.proc.runtime_addr = fake_process(&f, one, 1, ATTRS_NATURAL, true);
	assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(out[0].name), PY_THREAD_NAME_MAX - 1);
	fake_free(&f);
}

/* The modules dict's keys object, found again from the runtime. */
static uint8_t *modules_keys(struct fake *f, uint64_t runtime)
{
	uint64_t interp, modules, keys;
	memcpy(&interp, (void *)(uintptr_t)(runtime + f->l.off.rt_interpreters_head), 8);
	memcpy(&modules, (void *)(uintptr_t)(interp + f->o->interp_modules), 8);
	memcpy(&keys, (void *)(uintptr_t)(modules + f->o->dict_keys), 8);
	return (uint8_t *)(uintptr_t)keys;
}

static void test_corrupt_memory_fails_cleanly(void **state)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[4];
	size_t n;

	for (unsigned minor = 8; minor <= 14; minor += 3) {
		fake_init(&f, minor, &t);
		uint64_t rt = fake_process(&f, THREADS, 3, ATTRS_NATURAL, true);
		t.proc.runtime_addr = rt;
		uint8_t *k = modules_keys(&f, rt);
		uint8_t saved[0x28];
		memcpy(saved, k, sizeof(saved));

		/* an absurd table size, an entry count beyond it */
		if (minor <= 10)
			put64(k, 0x8, 1ull << 40);
		else
			k[0x8] = 60;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		memcpy(k, saved, sizeof(saved));
		put64(k, minor <= 10 ? 0x20 : 0x18, 1ull << 50);
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		memcpy(k, saved, sizeof(saved));
		/* 3.11+: an unknown dict kind */
		if (minor >= 11) {
			k[0xa] = 7;
			assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
			memcpy(k, saved, sizeof(saved));
		}
		/* a pointer into the null page, and one past user space */
		t.proc.runtime_addr = 0x10;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		t.proc.runtime_addr = 0xffff800000000000ull;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		/* intact again: all three */
		t.proc.runtime_addr = rt;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), 0);
		assert_int_equal(n, 3);
		/* unknown offsets or a free-threaded build: no walk at all */
		t.obj.type_cached_keys = PY_OFF_NONE;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		t.obj = f.l.obj;
		t.free_threaded = true;
		assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), -1);
		fake_free(&f);
	}
}

/*
 * Read again with a memo: the same names; a module imported since (a new
 * entry in sys.modules) is found; the remembered key changed in place is
 * looked for again, not trusted.
 */
static void test_memo_follows_sys_modules(void **state)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[4];
	size_t n;

	for (unsigned minor = 8; minor <= 15; minor++) {
		struct py_thread_names_memo memo = { 0 };
		fake_init(&f, minor, &t);
		uint64_t rt = fake_process(&f, THREADS, 3, ATTRS_NATURAL, true);
		t.proc.runtime_addr = rt;
		uint8_t *k = modules_keys(&f, rt);
		size_t nentries_at = minor <= 10 ? 0x20 : 0x18;

		/* threading not imported yet: its entry not inserted */
		put64(k, nentries_at, 2);
		assert_int_equal(py_read_thread_names(getpid(), &t, &memo, out, 4, &n), 0);
		assert_int_equal(n, 0);
		assert_true(memo.threading.known && !memo.threading.found);
		assert_int_equal(py_read_thread_names(getpid(), &t, &memo, out, 4, &n), 0);
		assert_int_equal(n, 0);
		/* imported */
		put64(k, nentries_at, 3);
		for (int again = 0; again < 2; again++) {
			assert_int_equal(py_read_thread_names(getpid(), &t, &memo, out, 4, &n), 0);
			assert_int_equal(n, 3);
			assert_string_equal(out[2].name, THREADS[2].name);
			assert_true(memo.threading.found && memo.threading.index == 2 && memo.active.found);
		}
		/* the remembered key no longer says "threading": looked for again, and not there */
		uint64_t key;
		memcpy(&key, k + (minor <= 10 ? 0x28 + 8 + 24 * 2 + 8 : 0x20 + 8 + 16 * 2), 8);
		char *text = (char *)(uintptr_t)key + (minor <= 11 ? 0x30 : 0x28);
		assert_memory_equal(text, "threading", 9);
		text[8] = 'x';
		assert_int_equal(py_read_thread_names(getpid(), &t, &memo, out, 4, &n), 0);
		assert_int_equal(n, 0);
		assert_false(memo.threading.found);
		fake_free(&f);
	}
}

/* A thread whose name is not a str (or whose ident is not an int) is left out, the others kept. */
static void test_odd_objects_are_skipped(void **state)
{
	struct fake f;
	struct py_target t;
	struct py_thread_name out[4];
	size_t n;

	fake_init(&f, 12, &t);
	uint64_t rt = fake_process(&f, THREADS, 3, ATTRS_NATURAL, true);
	t.proc.runtime_addr = rt;
	/* turn the first _active key (an int) into None */
	uint8_t *k = modules_keys(&f, rt);
	uint64_t module, globals, gkeys, active, akeys, first_key;
	size_t msize = (size_t)1 << k[0x9];
	memcpy(&module, k + 0x20 + msize + 16 * 2 + 8, 8);
	memcpy(&globals, (void *)(uintptr_t)(module + 0x10), 8);
	memcpy(&gkeys, (void *)(uintptr_t)(globals + f.o->dict_keys), 8);
	size_t gsize = (size_t)1 << ((uint8_t *)(uintptr_t)gkeys)[0x9];
	memcpy(&active, (void *)(uintptr_t)(gkeys + 0x20 + gsize + 16 * 1 + 8), 8);
	memcpy(&akeys, (void *)(uintptr_t)(active + f.o->dict_keys), 8);
	size_t asize = (size_t)1 << ((uint8_t *)(uintptr_t)akeys)[0x9];
	first_key = akeys + 0x20 + asize + 8;
	uint64_t none = fake_none(&f);
	memcpy((void *)(uintptr_t)first_key, &none, 8);
	assert_int_equal(py_read_thread_names(getpid(), &t, NULL, out, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].name, "worker-with-a-long-name-1");
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_version),
		cmocka_unit_test(test_materialised_instance_dicts),
		cmocka_unit_test(test_no_threading_module_is_no_names),
		cmocka_unit_test(test_long_names_are_cut_at_a_character),
		cmocka_unit_test(test_corrupt_memory_fails_cleanly),
		cmocka_unit_test(test_memo_follows_sys_modules),
		cmocka_unit_test(test_odd_objects_are_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
