/* SPDX-License-Identifier: MIT */
/*
 * PyUnicode decoding against strings living in real interpreters: ASCII,
 * Latin-1, UCS-2 and UCS-4 compact strings read from /proc/PID/mem, and a
 * frame whose code object is named with a 4-byte character, named through
 * the walker and symbolizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "python/py_method_symbols.h"
#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/python.h"

#define SCRIPT "py/strings_target.py"

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void hex_to_text(const char *hex, char *out, size_t outlen)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && hex[0] != '\n' && n + 1 < outlen; hex += 2) {
		unsigned v;

		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (char)v;
	}
	out[n] = '\0';
}

static unsigned expected_kind(unsigned long max_cp)
{
	return max_cp < 0x100 ? 1 : max_cp < 0x10000 ? 2 : 4;
}

static void check_string(pid_t pid, const struct py_unicode_layout *l, uint64_t addr, unsigned long max_cp,
			 const char *want)
{
	uint8_t hdr[0x60], data[256];
	uint64_t length, data_offset;
	unsigned kind;
	char utf8[256];

	assert_int_equal(read_mem(pid, addr, hdr, sizeof(hdr)), 0);
	assert_int_equal(py_unicode_header(l, hdr, sizeof(hdr), &length, &kind, &data_offset), 0);
	assert_int_equal(kind, expected_kind(max_cp));
	assert_true(length * kind <= sizeof(data));
	assert_int_equal(read_mem(pid, addr + data_offset, data, length * kind), 0);
	assert_int_equal(py_unicode_to_utf8(kind, data, length, utf8, sizeof(utf8)), (int)strlen(want));
	assert_string_equal(utf8, want);
}

static int find_parked_frame(const struct py_thread_stack *st, void *arg)
{
	struct py_symbolizer *sym = ((void **)arg)[0];
	bool *found = ((void **)arg)[1];

	for (size_t i = 0; i < st->n_frames; i++) {
		struct py_code_info info;
		int line;

		if (st->frames[i].flags & PYF_SHIM)
			continue;
		if (py_symbolize(sym, st->frames[i].code, st->frames[i].sig, py_lasti_widen(st->frames[i].lasti),
				 &info, &line) == 0 &&
		    strcmp(info.name, "f_𝔘") == 0 && strcmp(info.qualname, "f_𝔘") == 0)
			*found = true;
	}
	return 0;
}

static void test_live_strings(void **state)
{
	const struct py_test_interp *pi = *state;
	char python[512], script[PATH_MAX], want[256];
	struct py_test_target target;
	struct py_unicode_layout layout;
	struct py_target t;
	struct proc_maps *maps;
	struct elf_cache *cache;
	struct py_symbolizer *sym;
	int checked = 0, tries;
	bool found = false;
	void *walk_arg[2];

	if (!py_test_interp_path(pi, python, sizeof(python))) {
		assert_false(pi->required);
		skip();
	}
	assert_non_null(realpath(SCRIPT, script));
	assert_int_equal(py_test_target_start(&target, python, script, 30), 0);
	layout.version_hex = py_test_version_hex(pi->minor);
	layout.free_threaded = false;

	for (const char *p = target.output; p < target.ready; p = strchr(p, '\n') + 1) {
		uint64_t addr;
		unsigned long max_cp;
		char hex[512];

		assert_int_equal(sscanf(p, "S %" SCNu64 " %lu %511s", &addr, &max_cp, hex), 3);
		hex_to_text(hex, want, sizeof(want));
		check_string(target.pid, &layout, addr, max_cp, want);
		checked++;
	}
	assert_int_equal(checked, 6);

	/* The same 4-byte name, found the way a profile finds it. */
	maps = proc_maps_read(target.pid);
	cache = elf_cache_new(&py_method_names);
	assert_int_equal(py_detect(target.pid, maps, cache, &t), PY_DETECT_PYTHON);
	sym = py_symbolizer_new(target.pid, &t);
	assert_non_null(sym);
	walk_arg[0] = sym;
	walk_arg[1] = &found;
	for (tries = 0; tries < 40 && !found; tries++) {
		py_walk_thread_stacks(target.pid, &t, 64, find_parked_frame, walk_arg);
		if (!found)
			usleep(50000);
	}
	assert_true(found);
	printf("%s: %d strings decoded, frame f_𝔘 named\n", pi->label, checked);

	py_symbolizer_free(sym);
	elf_cache_free(cache);
	proc_maps_free(maps);
	py_test_target_stop(&target);
}

static void test_bad_headers_are_refused(void **state)
{
	struct py_unicode_layout l = { .version_hex = 0x030c01f0 };
	uint8_t hdr[0x40] = { 0 };
	uint64_t length, off;
	unsigned kind;
	uint32_t state_word;
	char out[8];
	static const uint8_t ucs4_bad[4] = { 0xff, 0xff, 0xff, 0x7f };

	(void)state;
	/* kind 3 does not exist */
	state_word = 3u << 2 | 1u << 5;
	memcpy(hdr + 0x20, &state_word, 4);
	assert_int_equal(py_unicode_header(&l, hdr, sizeof(hdr), &length, &kind, &off), -1);
	/* not compact: the data is elsewhere */
	state_word = 1u << 2;
	memcpy(hdr + 0x20, &state_word, 4);
	assert_int_equal(py_unicode_header(&l, hdr, sizeof(hdr), &length, &kind, &off), -1);
	/* header too short to hold the state */
	assert_int_equal(py_unicode_header(&l, hdr, 0x20, &length, &kind, &off), -1);
	/* beyond U+10FFFF */
	assert_int_equal(py_unicode_to_utf8(4, ucs4_bad, 1, out, sizeof(out)), -1);
	/* truncation stays on a character boundary: "жж" (4 bytes) into 4 bytes keeps one */
	static const uint8_t zh[4] = { 0x36, 0x04, 0x36, 0x04 };
	assert_int_equal(py_unicode_to_utf8(2, zh, 2, out, 4), 2);
	assert_string_equal(out, "ж");
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS];

	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_live_strings, (void *)&py_test_interps[i]);
		tests[i].name = py_test_interps[i].label;
	}
	int failed = _cmocka_run_group_tests("py_unicode", tests, PY_TEST_N_INTERPS, NULL, NULL);
	const struct CMUnitTest unit[] = { cmocka_unit_test(test_bad_headers_are_refused) };

	return failed | cmocka_run_group_tests(unit, NULL, NULL);
}
