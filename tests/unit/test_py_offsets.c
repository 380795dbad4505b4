/* SPDX-License-Identifier: MIT */
/*
 * The offsets bpfspy uses, checked against independent sources:
 *  - 3.8-3.13 pyenv builds carry DWARF: gdb computes every offsetof and we
 *    compare the table (3.8-3.12) and the decoded _Py_DebugOffsets (3.13);
 *  - 3.14/3.15 (no DWARF here): their .PyRuntime section bytes must decode,
 *    and decoding them under the other minor's schema must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>

#include "py/py_test_support.h"
#include "python/py_layout.h"

struct dwarf_check {
	const char *what;
	long ours;
	const char *expr; /* a gdb expression for the same offset */
};

/* Runs gdb on lib, printing each expression; fills values[]. Returns how many printed. */
static size_t gdb_offsets(const char *lib, const struct dwarf_check *c, size_t n, long *values)
{
	char script[] = "/tmp/bpfspy-gdb-XXXXXX", cmd[1024], *line = NULL;
	size_t cap = 0, got = 0;
	int fd = mkstemp(script);
	FILE *f = fdopen(fd, "w"), *p;

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "print (long)(%s)\n", c[i].expr);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gdb -nx -batch -x %s %s 2>&1", script, lib);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (getline(&line, &cap, p) > 0 && got < n) {
		long v;

		if (sscanf(line, "$%*d = %ld", &v) == 1)
			values[got++] = v;
		else if (strstr(line, "No symbol") || strstr(line, "There is no member"))
			printf("  gdb: %s", line);
	}
	free(line);
	pclose(p);
	unlink(script);
	return got;
}

#define OFF(type, member) "&((" type "*)0)->" member

static size_t checks_for(unsigned minor, const struct py_layout *l, struct dwarf_check *c)
{
	const struct py_offsets *o = &l->off;
	size_t n = 0;
	const char *frame_t = minor <= 10 ? "PyFrameObject" : "_PyInterpreterFrame";
	static char buf[16][128]; /* the expressions outlive this call */
	int b = 0;
#define ADD(w, v, e) (c[n++] = (struct dwarf_check){ w, (long)(v), e })
#define FMT(...) (snprintf(buf[b], sizeof(buf[b]), __VA_ARGS__), buf[b++])

	ADD("rt_interpreters_head", o->rt_interpreters_head, OFF("_PyRuntimeState", "interpreters.head"));
	ADD("interp_next", o->interp_next, OFF("PyInterpreterState", "next"));
	ADD("interp_threads_head", o->interp_threads_head,
	    minor <= 10 ? OFF("PyInterpreterState", "tstate_head") : OFF("PyInterpreterState", "threads.head"));
	ADD("ts_next", o->ts_next, OFF("PyThreadState", "next"));
	ADD("ts_interp", o->ts_interp, OFF("PyThreadState", "interp"));
	ADD("ts_thread_id", o->ts_thread_id, OFF("PyThreadState", "thread_id"));
	ADD("ts_frame", o->ts_frame,
	    minor <= 10 ? OFF("PyThreadState", "frame") : minor <= 12 ? OFF("PyThreadState", "cframe")
								     : OFF("PyThreadState", "current_frame"));
	ADD("frame_previous", o->frame_previous, FMT("&((%s*)0)->%s", frame_t, minor <= 10 ? "f_back" : "previous"));
	ADD("frame_code", o->frame_code,
	    FMT("&((%s*)0)->%s", frame_t, minor <= 12 ? "f_code" : "f_executable"));
	ADD("frame_instr", o->frame_instr,
	    FMT("&((%s*)0)->%s", frame_t, minor <= 10 ? "f_lasti" : minor <= 12 ? "prev_instr" : "instr_ptr"));
	ADD("code_filename", o->code_filename, OFF("PyCodeObject", "co_filename"));
	ADD("code_name", o->code_name, OFF("PyCodeObject", "co_name"));
	ADD("code_firstlineno", l->obj.code_firstlineno, OFF("PyCodeObject", "co_firstlineno"));
	ADD("code_linetable", l->obj.code_linetable,
	    minor <= 9 ? OFF("PyCodeObject", "co_lnotab") : OFF("PyCodeObject", "co_linetable"));
	ADD("bytes_size", l->obj.bytes_size, OFF("PyBytesObject", "ob_base.ob_size"));
	ADD("bytes_data", l->obj.bytes_data, OFF("PyBytesObject", "ob_sval"));
	ADD("ob_type", l->obj.ob_type, OFF("PyObject", "ob_type"));
	ADD("gil_locked", o->gil_locked, OFF("struct _gil_runtime_state", "locked"));
	ADD("gil_last_holder", o->gil_last_holder, OFF("struct _gil_runtime_state", "last_holder"));
	if (minor <= 11)
		ADD("runtime_gil", l->runtime_gil, OFF("_PyRuntimeState", "ceval.gil"));
	else
		ADD("interp_gil_ptr", l->interp_gil_ptr, OFF("PyInterpreterState", "ceval.gil"));
	if (minor >= 11) {
		ADD("ts_native_thread_id", o->ts_native_thread_id, OFF("PyThreadState", "native_thread_id"));
		ADD("frame_owner", o->frame_owner, OFF("_PyInterpreterFrame", "owner"));
		ADD("code_adaptive", o->code_adaptive, OFF("PyCodeObject", "co_code_adaptive"));
		ADD("code_qualname", l->obj.code_qualname, OFF("PyCodeObject", "co_qualname"));
	}
	if (minor == 11) {
		ADD("frame_is_entry", o->frame_is_entry, OFF("_PyInterpreterFrame", "is_entry"));
		ADD("cframe_current_frame", o->cframe_current_frame, OFF("_PyCFrame", "current_frame"));
	}
	if (minor == 12)
		ADD("cframe_current_frame", o->cframe_current_frame, OFF("_PyCFrame", "current_frame"));
	/* reading threading._active for thread names */
	ADD("interp_modules", l->obj.interp_modules,
	    minor <= 11 ? OFF("PyInterpreterState", "modules") : OFF("PyInterpreterState", "imports.modules"));
	ADD("type_flags", l->obj.type_flags, OFF("PyTypeObject", "tp_flags"));
	ADD("type_basicsize", l->obj.type_basicsize, OFF("PyTypeObject", "tp_basicsize"));
	ADD("type_dictoffset", l->obj.type_dictoffset, OFF("PyTypeObject", "tp_dictoffset"));
	ADD("type_cached_keys", l->obj.type_cached_keys, OFF("PyHeapTypeObject", "ht_cached_keys"));
	ADD("dict_keys", l->obj.dict_keys, OFF("PyDictObject", "ma_keys"));
	ADD("dict_values", l->obj.dict_values, OFF("PyDictObject", "ma_values"));
	ADD("long_size", l->obj.long_size,
	    minor <= 11 ? OFF("PyLongObject", "ob_base.ob_size") : OFF("PyLongObject", "long_value.lv_tag"));
	ADD("long_digit", l->obj.long_digit,
	    minor <= 11 ? OFF("PyLongObject", "ob_digit") : OFF("PyLongObject", "long_value.ob_digit"));
	return n;
#undef ADD
#undef FMT
}

/* The .PyRuntime section bytes of an ELF file (the static _Py_DebugOffsets image). */
static size_t runtime_section(const char *path, uint8_t *buf, size_t len)
{
	struct elf_symbols *elf = elf_symbols_load(path, NULL);
	uint64_t vaddr, size, off, rt, rt_size;
	ssize_t n;
	int fd;

	assert_non_null(elf);
	assert_true(elf_symbols_section(elf, ".PyRuntime", &vaddr, &size, &off));
	assert_true(elf_symbols_find(elf, "_PyRuntime", &rt, &rt_size));
	assert_true(rt >= vaddr && rt < vaddr + size);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = pread(fd, buf, len, (off_t)(off + rt - vaddr));
	close(fd);
	elf_symbols_free(elf);
	assert_true(n > 0);
	return (size_t)n;
}

static const char *lib_of(const struct py_test_interp *pi, char *buf, size_t len)
{
	/* pyenv: lib/libpython3.X.so.1.0, where the DWARF is */
	char rel[64];
	snprintf(rel, sizeof(rel), "lib/libpython3.%u.so.1.0", pi->minor);
	const char *lib = py_test_pyenv_file(pi->minor, rel);
	snprintf(buf, len, "%s", lib ? lib : "(pyenv: no such version)");
	return buf;
}

static void test_dwarf_agrees(void **state)
{
	const struct py_test_interp *pi = *state;
	char python[512], lib[512], err[160];
	struct dwarf_check checks[48];
	long values[48];
	struct py_layout l;
	size_t n, got, bad = 0;

	if (!py_test_interp_path(pi, python, sizeof(python)))
		skip();
	lib_of(pi, lib, sizeof(lib));
	if (pi->minor <= 12) {
		assert_true(py_layout_from_table(py_test_version_hex(pi->minor), &l));
	} else {
		uint8_t buf[PY_DEBUG_OFFSETS_MAX];
		bool ft;
		size_t len = runtime_section(lib, buf, sizeof(buf));

		assert_int_equal(py_layout_from_debug_offsets(buf, len, &l, &ft, err, sizeof(err)), 0);
		assert_false(ft);
	}
	n = checks_for(pi->minor, &l, checks);
	got = gdb_offsets(lib, checks, n, values);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		if (checks[i].ours != values[i] && ++bad)
			printf("  %s: ours 0x%lx, DWARF 0x%lx\n", checks[i].what, checks[i].ours, values[i]);
	printf("%s: %zu offsets agree with DWARF (%s)\n", pi->label, n - bad,
	       pi->minor <= 12 ? "table" : "_Py_DebugOffsets");
	assert_int_equal(bad, 0);
}

static void test_table_invariants(void **state)
{
	struct py_offsets o;

	(void)state;
	for (unsigned minor = 8; minor <= 12; minor++) {
		assert_true(py_offsets_from_table(py_test_version_hex(minor), &o));
		assert_int_equal(o.code_name, o.code_filename + 8);
		assert_int_equal(o.version_hex, py_test_version_hex(minor));
	}
	assert_false(py_offsets_from_table(0x030700f0, &o));
	assert_false(py_offsets_from_table(0x030d00f0, &o));
	assert_false(py_offsets_from_table(0x040800f0, &o));
}

static void set_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void test_debug_offsets_of_extras(void **state)
{
	const struct py_test_interp *pi = *state;
	char python[512], err[160];
	uint8_t buf[PY_DEBUG_OFFSETS_MAX], bad[PY_DEBUG_OFFSETS_MAX];
	struct py_offsets o;
	bool ft;
	uint64_t version;
	size_t len;

	assert_non_null(py_test_interp_path(pi, python, sizeof(python)));
	len = runtime_section(python, buf, sizeof(buf));
	assert_int_equal(py_offsets_from_debug_offsets(buf, len, &o, &ft, err, sizeof(err)), 0);
	assert_false(ft);
	assert_int_equal(o.frame_model, PY_FRAMES_DIRECT);
	assert_int_equal(o.code_tag_mask, 3);
	assert_int_equal(o.code_name, o.code_filename + 8);
	memcpy(&version, buf + 8, 8);

	/* The other minor's schema puts different fields in these slots: refused. */
	memcpy(bad, buf, len);
	set_u64(bad + 8, (version & ~0xff0000ull) | (pi->minor == 14 ? 15u : 14u) << 16);
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), -1);
	printf("%s as 3.%u: %s\n", pi->label, pi->minor == 14 ? 15u : 14u, err);
	/* ... and so does 3.13's. */
	set_u64(bad + 8, (version & ~0xff0000ull) | 13u << 16);
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), -1);
	/* An unknown minor, a pre-release, a bad cookie, a short buffer. */
	set_u64(bad + 8, (version & ~0xff0000ull) | 99u << 16);
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown"));
	set_u64(bad + 8, (version & ~0xf0ull) | 0xb0);
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), -1);
	memcpy(bad, buf, len);
	bad[0] = 'X';
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), -1);
	assert_int_equal(py_offsets_from_debug_offsets(buf, 0x100, &o, &ft, err, sizeof(err)), -1);
	/* What reading thread names needs (ht_cached_keys: probed in the 3.14 build, described by 3.15). */
	struct py_layout l;
	assert_int_equal(py_layout_from_debug_offsets(buf, len, &l, &ft, err, sizeof(err)), 0);
	assert_int_equal(l.obj.type_cached_keys, pi->minor == 14 ? 0x370 : 0x378);
	assert_int_equal(l.obj.type_flags, 0xa8);
	assert_int_equal(l.obj.type_basicsize, 0x20);
	assert_int_equal(l.obj.type_dictoffset, 0x120);
	assert_int_equal(l.obj.dict_keys, 0x20);
	assert_int_equal(l.obj.dict_values, 0x28);
	assert_int_equal(l.obj.long_size, 0x10);
	assert_int_equal(l.obj.long_digit, 0x18);
	assert_true(l.obj.interp_modules != PY_OFF_NONE && l.obj.interp_modules > 0x100);
	/* A patch release of the same minor keeps the schema: no code change needed. */
	memcpy(bad, buf, len);
	set_u64(bad + 8, (version & ~0xff00ull) | 0x3f00);
	assert_int_equal(py_offsets_from_debug_offsets(bad, len, &o, &ft, err, sizeof(err)), 0);
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS + 3];
	size_t n = 0;

	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		const struct py_test_interp *pi = &py_test_interps[i];

		if (pi->minor <= 13 && pi->source == PY_FROM_PYENV) {
			tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_dwarf_agrees, (void *)pi);
			tests[n++].name = pi->label;
		} else if (pi->minor >= 14) {
			tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_debug_offsets_of_extras, (void *)pi);
			tests[n++].name = pi->label;
		}
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_table_invariants);
	return _cmocka_run_group_tests("py_offsets", tests, n, NULL, NULL);
}
