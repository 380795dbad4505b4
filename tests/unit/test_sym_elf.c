// SPDX-License-Identifier: MIT
/*
 * elf_symbols against binaries built here with cc, in every shape the
 * profiler meets: PIE, non-PIE, shared object, stripped with a debuglink or a
 * build-id debug file, MiniDebugInfo, compressed sections, truncated and
 * corrupt files.
 * Expected addresses come from nm and readelf, never from the code under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers/sym_test_util.h"
#include "sym/elf_reader.h"
#include "sym/native_symbols.h"

static const char program_source[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"int known_table[100] = { 1, 2, 3 };\n"
	"__attribute__((noinline, noclone)) static int known_static_a(int x) { return x * 3 + known_table[x & 63]; }\n"
	"__attribute__((noinline, noclone)) int known_global_b(int x) {\n"
	"	volatile int s = 0;\n"
	"	for (int i = 0; i < x; i++) s += i * known_static_a(i);\n"
	"	return s;\n"
	"}\n"
	"volatile int known_sink;\n"
	"__attribute__((cold, noinline)) void known_report(int x) { fprintf(stderr, \"unlikely %d\\n\", x); }\n"
	"/* the call to a cold function makes gcc move that path out, as known_with_cold_part.cold */\n"
	"__attribute__((noinline, noclone)) int known_with_cold_part(int x) {\n"
	"	if (x == 12345) { for (int i = 0; i < x; i++) known_sink += i * x; known_report(x); abort(); }\n"
	"	return known_global_b(x) + 1;\n"
	"}\n"
	"__attribute__((noinline, noclone)) int known_global_c(const char *p) { return (int)strlen(p) + known_with_cold_part(3); }\n"
	"__asm__(\".text\\n.globl known_asm_nosize\\n.type known_asm_nosize,@function\\n"
	"known_asm_nosize:\\n nop\\n nop\\n nop\\n nop\\n ret\\n\");\n"
	"/* three names for one address: a lookup must give the GLOBAL one, though it sorts last */\n"
	"__attribute__((noinline, noclone)) int pref_zz_global(int x) { return x - 1; }\n"
	"extern int pref_aa_weak(int) __attribute__((weak, alias(\"pref_zz_global\")));\n"
	"static int pref_ab_local(int) __attribute__((alias(\"pref_zz_global\"), used));\n"
	"int main(int argc, char **argv) { return known_global_c(argc > 1 ? argv[1] : \"x\") & 1; }\n";

static char *dir;

static char *path_in_dir(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static int build_all(void **state)
{
	(void)state;
	dir = sym_test_make_tmpdir();
	if (!dir || sym_test_write_file(path_in_dir("prog.c"), program_source) != 0)
		return -1;
	const char *cc = "cc -O2 -g -Wl,--build-id";
	if (sym_test_run("cd %s && %s -fPIE -pie prog.c -o prog_pie && %s -fno-pie -no-pie prog.c -o prog_nopie"
			 " && %s -fPIC -shared prog.c -o libknown.so", dir, cc, cc, cc) != 0)
		return -1;
	/* A stripped binary with its debug file next to it, found through .gnu_debuglink. */
	if (sym_test_run("cd %s && objcopy --only-keep-debug prog_pie prog_pie.debug"
			 " && objcopy --strip-all --add-gnu-debuglink=prog_pie.debug prog_pie prog_stripped", dir) != 0)
		return -1;
	return 0;
}

static int remove_all(void **state)
{
	(void)state;
	sym_test_remove_tree(dir);
	free(dir);
	return 0;
}

/* Every function nm lists in expected_from resolves to itself at its start, middle and last byte. */
static void assert_lookups_match_nm(const struct elf_symbols *s, const char *expected_from)
{
	struct sym_test_nm_symbol syms[64];
	size_t n = sym_test_nm(expected_from, false, "known_", syms, 64);
	size_t functions = 0;
	bool saw_cold = false;
	for (size_t i = 0; i < n; i++) {
		if (syms[i].type != 't' && syms[i].type != 'T')
			continue;
		functions++;
		saw_cold |= strstr(syms[i].name, ".cold") != NULL;
		uint64_t probes[] = { syms[i].addr, syms[i].addr + syms[i].size / 2, syms[i].addr + syms[i].size - 1 };
		for (size_t p = 0; p < 3; p++) {
			uint64_t offset = ~0ull;
			const char *name = elf_symbols_lookup(s, probes[p], &offset);
			if (!name || strcmp(name, syms[i].name) != 0)
				fail_msg("0x%llx: expected %s, got %s", (unsigned long long)probes[p], syms[i].name,
					 name ? name : "(none)");
			assert_int_equal(offset, probes[p] - syms[i].addr);
		}
		const char *after = elf_symbols_lookup(s, syms[i].addr + syms[i].size, NULL);
		assert_true(!after || strcmp(after, syms[i].name) != 0);
	}
	/* known_static_a, known_global_b, known_report, known_with_cold_part(.cold), known_global_c */
	assert_true(functions >= 6);
	assert_true(saw_cold); /* known_with_cold_part.cold, a LOCAL symbol */
}

static void test_pie_lookups(void **state)
{
	(void)state;
	struct elf_symbols *s = elf_symbols_load(path_in_dir("prog_pie"), NULL);
	assert_non_null(s);
	assert_true(elf_symbols_is_dyn(s));
	assert_string_equal(elf_symbols_path(s), path_in_dir("prog_pie"));
	assert_lookups_match_nm(s, path_in_dir("prog_pie"));
	elf_symbols_free(s);
}

static void test_non_pie_lookups(void **state)
{
	(void)state;
	struct elf_symbols *s = elf_symbols_load(path_in_dir("prog_nopie"), NULL);
	assert_non_null(s);
	assert_false(elf_symbols_is_dyn(s));
	assert_lookups_match_nm(s, path_in_dir("prog_nopie"));
	elf_symbols_free(s);
}

static void test_shared_object_lookups_and_needed(void **state)
{
	(void)state;
	const char *lib = path_in_dir("libknown.so");
	struct elf_symbols *s = elf_symbols_load(lib, NULL);
	assert_non_null(s);
	assert_true(elf_symbols_is_dyn(s));
	assert_lookups_match_nm(s, lib);

	char *readelf = sym_test_capture("readelf -dW '%s' | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'", lib);
	assert_non_null(readelf);
	const char *const *needed;
	size_t n = elf_symbols_needed(s, &needed);
	size_t expected = 0;
	for (char *save = NULL, *lib_name = strtok_r(readelf, "\n", &save); lib_name;
	     lib_name = strtok_r(NULL, "\n", &save), expected++) {
		assert_true(expected < n);
		assert_string_equal(needed[expected], lib_name);
	}
	assert_int_equal(n, expected);
	assert_true(expected >= 1); /* libc.so.6 */
	free(readelf);
	elf_symbols_free(s);
}

static void test_zero_size_function_runs_to_next_symbol(void **state)
{
	(void)state;
	const char *prog = path_in_dir("prog_pie");
	char *out = sym_test_capture("nm '%s' | awk '$3 == \"known_asm_nosize\" { print $1 }'", prog);
	assert_non_null(out);
	unsigned long long addr = strtoull(out, NULL, 16);
	free(out);
	assert_true(addr != 0);
	struct elf_symbols *s = elf_symbols_load(prog, NULL);
	assert_non_null(s);
	uint64_t offset;
	for (unsigned i = 0; i < 5; i++) { /* four nops and a ret */
		const char *name = elf_symbols_lookup(s, addr + i, &offset);
		assert_non_null(name);
		assert_string_equal(name, "known_asm_nosize");
		assert_int_equal(offset, i);
	}
	elf_symbols_free(s);
}

static void test_global_binding_wins_at_equal_addresses(void **state)
{
	(void)state;
	const char *prog = path_in_dir("prog_pie");
	struct sym_test_nm_symbol syms[8];
	size_t n = sym_test_nm(prog, false, "pref_", syms, 8);
	assert_int_equal(n, 3);
	for (size_t i = 1; i < n; i++)
		assert_int_equal(syms[i].addr, syms[0].addr);
	struct elf_symbols *s = elf_symbols_load(prog, NULL);
	assert_non_null(s);
	assert_string_equal(elf_symbols_lookup(s, syms[0].addr, NULL), "pref_zz_global");
	assert_string_equal(elf_symbols_lookup(s, syms[0].addr + syms[0].size - 1, NULL), "pref_zz_global");
	/* every alias is still found by name */
	for (size_t i = 0; i < n; i++) {
		uint64_t addr;
		assert_true(elf_symbols_find(s, syms[i].name, &addr, NULL));
		assert_int_equal(addr, syms[i].addr);
	}
	elf_symbols_free(s);
}

/*
 * A file's first lookups by name scan its symbols; later ones use an index
 * built then. Both must give the same symbol for every name: a local and a
 * global of one name (the global wins, though locals are read first) and
 * the aliases at one address included.
 */
static void test_find_by_scan_and_by_index_agree(void **state)
{
	(void)state;
	if (sym_test_write_file(path_in_dir("dup_a.c"),
				"__attribute__((noinline)) static int dup_name(int x) { return x + 1; }\n"
				"int use_a(int x) { return dup_name(x); }\n") != 0 ||
	    sym_test_write_file(path_in_dir("dup_b.c"),
				"int use_a(int);\n"
				"__attribute__((noinline)) int dup_name(int x) { return x * 2; }\n"
				"int main(int c, char **v) { (void)v; return use_a(c) + dup_name(c); }\n") != 0 ||
	    sym_test_run("cd %s && cc -O2 dup_a.c dup_b.c -o prog_dup", dir) != 0)
		fail_msg("cannot build prog_dup");
	const char *progs[] = { path_in_dir("prog_dup"), path_in_dir("prog_pie") };
	static struct sym_test_nm_symbol syms[512];
	for (size_t p = 0; p < 2; p++) {
		size_t n = sym_test_nm(progs[p], false, "", syms, 512);
		assert_true(n > 10);
		struct elf_symbols *indexed = elf_symbols_load(progs[p], NULL);
		assert_non_null(indexed);
		for (size_t i = 0; i < n; i++) /* well past the scans: the index answers from here on */
			elf_symbols_find(indexed, syms[i].name, NULL, NULL);
		for (size_t i = 0; i < n; i++) {
			struct elf_symbols *fresh = elf_symbols_load(progs[p], NULL);
			assert_non_null(fresh);
			uint64_t scan_addr = 0, scan_size = 0, index_addr = 0, index_size = 0;
			bool by_scan = elf_symbols_find(fresh, syms[i].name, &scan_addr, &scan_size);
			bool by_index = elf_symbols_find(indexed, syms[i].name, &index_addr, &index_size);
			assert_int_equal(by_scan, by_index);
			assert_int_equal(scan_addr, index_addr);
			assert_int_equal(scan_size, index_size);
			elf_symbols_free(fresh);
		}
		assert_false(elf_symbols_find(indexed, "known_no_such_symbol", NULL, NULL));
		elf_symbols_free(indexed);
	}
	uint64_t global_addr = 0, addr;
	size_t n = sym_test_nm(progs[0], false, "dup_name", syms, 512), locals = 0;
	for (size_t i = 0; i < n; i++) {
		if (syms[i].type == 'T')
			global_addr = syms[i].addr;
		locals += syms[i].type == 't';
	}
	assert_int_equal(locals, 1);
	assert_true(global_addr != 0);
	struct elf_symbols *s = elf_symbols_load(progs[0], NULL);
	assert_non_null(s);
	assert_true(elf_symbols_find(s, "dup_name", &addr, NULL));
	assert_int_equal(addr, global_addr);
	elf_symbols_free(s);
}

static void test_build_id_matches_readelf(void **state)
{
	(void)state;
	char expected[256];
	assert_true(sym_test_readelf_build_id(path_in_dir("prog_pie"), expected, sizeof(expected)));
	struct elf_symbols *s = elf_symbols_load(path_in_dir("prog_pie"), NULL);
	assert_non_null(s);
	assert_string_equal(elf_symbols_build_id(s), expected);
	elf_symbols_free(s);
}

static void test_find_object_and_section(void **state)
{
	(void)state;
	const char *prog = path_in_dir("prog_nopie");
	uint64_t nm_addr, nm_size, addr, size, offset;
	assert_true(sym_test_nm_find(prog, false, "known_table", &nm_addr, &nm_size));
	struct elf_symbols *s = elf_symbols_load(prog, NULL);
	assert_non_null(s);
	assert_true(elf_symbols_find(s, "known_table", &addr, &size));
	assert_int_equal(addr, nm_addr);
	assert_int_equal(size, nm_size);
	assert_int_equal(size, 400);
	assert_false(elf_symbols_find(s, "known_no_such_symbol", NULL, NULL));

	char *text = sym_test_capture("readelf -SW '%s' | sed 's/^ *\\[ *[0-9]*\\]//' | awk '$1 == \".text\" { print $3, $4, $5 }'", prog);
	assert_non_null(text);
	unsigned long long r_addr, r_offset, r_size;
	assert_int_equal(sscanf(text, "%llx %llx %llx", &r_addr, &r_offset, &r_size), 3);
	free(text);
	assert_true(elf_symbols_section(s, ".text", &addr, &size, &offset));
	assert_int_equal(addr, r_addr);
	assert_int_equal(size, r_size);
	assert_int_equal(offset, r_offset);
	assert_false(elf_symbols_section(s, ".no_such_section", NULL, NULL, NULL));
	elf_symbols_free(s);
}

static bool finds_static_function(const char *path, const char *root)
{
	uint64_t addr, size;
	if (!sym_test_nm_find(path_in_dir("prog_pie"), false, "known_static_a", &addr, &size))
		fail_msg("nm does not list known_static_a");
	struct elf_symbols *s = elf_symbols_load(path, root);
	assert_non_null(s);
	const char *name = elf_symbols_lookup(s, addr + size / 2, NULL);
	bool found = name && strcmp(name, "known_static_a") == 0;
	elf_symbols_free(s);
	return found;
}

static void test_stripped_binary_uses_debuglink(void **state)
{
	(void)state;
	const char *stripped = path_in_dir("prog_stripped");
	/* the stripped file alone has no .symtab: the static function is only in the debug file */
	assert_int_equal(sym_test_nm(stripped, false, "known_", (struct sym_test_nm_symbol[1]){ 0 }, 1), 0);
	assert_true(finds_static_function(stripped, NULL));
	struct elf_symbols *s = elf_symbols_load(stripped, NULL);
	assert_lookups_match_nm(s, path_in_dir("prog_pie"));
	elf_symbols_free(s);
}

static void test_debuglink_in_dot_debug_dir_and_crc_check(void **state)
{
	(void)state;
	assert_int_equal(sym_test_run("cd %s && mkdir -p sub/.debug && cp prog_stripped sub/ && cp prog_pie.debug sub/.debug/", dir), 0);
	assert_true(finds_static_function(path_in_dir("sub/prog_stripped"), NULL));
	/* a debug file whose CRC does not match belongs to another build: ignored */
	assert_int_equal(sym_test_run("cd %s && printf x >> sub/.debug/prog_pie.debug", dir), 0);
	assert_false(finds_static_function(path_in_dir("sub/prog_stripped"), NULL));
	/* and without any debug file the static function is unknown */
	assert_int_equal(sym_test_run("cd %s && rm sub/.debug/prog_pie.debug", dir), 0);
	assert_false(finds_static_function(path_in_dir("sub/prog_stripped"), NULL));
}

static void test_build_id_debug_file_under_root(void **state)
{
	(void)state;
	char id[256];
	assert_true(sym_test_readelf_build_id(path_in_dir("prog_pie"), id, sizeof(id)));
	assert_int_equal(sym_test_run("cd %s && mkdir -p root/opt/app root/usr/lib/debug/.build-id/%.2s"
				      " && objcopy --strip-all prog_pie root/opt/app/prog"
				      " && cp prog_pie.debug root/usr/lib/debug/.build-id/%.2s/%s.debug",
				      dir, id, id, id + 2), 0);
	const char *root = path_in_dir("root");
	assert_true(finds_static_function("/opt/app/prog", root));
	struct elf_symbols *s = elf_symbols_load("/opt/app/prog", root);
	assert_non_null(s);
	assert_string_equal(elf_symbols_path(s), "/opt/app/prog");
	assert_string_equal(elf_symbols_build_id(s), id);
	elf_symbols_free(s);
	/* the path is looked up under the root only */
	errno = 0;
	assert_null(elf_symbols_load("/opt/app/prog", NULL));
	assert_int_equal(errno, ENOENT);
}

static void test_compressed_debug_sections(void **state)
{
	(void)state;
	assert_int_equal(sym_test_run("cd %s && mkdir -p z && objcopy --strip-all --add-gnu-debuglink=prog_pie.debug prog_pie z/prog"
				      " && objcopy --compress-debug-sections=zlib prog_pie.debug z/prog_pie.debug"
				      " && readelf -SW z/prog_pie.debug 2>/dev/null | grep -q '\\.debug_info .* C '", dir), 0);
	/* the CRC in the debuglink is the uncompressed file's, so the compressed copy fails it... */
	assert_false(finds_static_function(path_in_dir("z/prog"), NULL));
	/* ...until the link names the compressed file */
	assert_int_equal(sym_test_run("cd %s/z && objcopy --strip-all --add-gnu-debuglink=prog_pie.debug ../prog_pie prog", dir), 0);
	assert_true(finds_static_function(path_in_dir("z/prog"), NULL));
}

static void test_compressed_symtab(void **state)
{
	(void)state;
	assert_int_equal(sym_test_run("cd %s && mkdir -p zs && cp prog_pie.debug zs/", dir), 0);
	assert_int_equal(sym_test_compress_section(path_in_dir("zs/prog_pie.debug"), ".symtab"), 0);
	assert_int_equal(sym_test_compress_section(path_in_dir("zs/prog_pie.debug"), ".strtab"), 0);
	assert_int_equal(sym_test_run("readelf -SW %s/zs/prog_pie.debug 2>/dev/null | grep -q '\\.symtab .* C '", dir), 0);
	assert_int_equal(sym_test_run("cd %s/zs && objcopy --strip-all --add-gnu-debuglink=prog_pie.debug ../prog_pie prog", dir), 0);
	assert_true(finds_static_function(path_in_dir("zs/prog"), NULL));
	struct elf_symbols *s = elf_symbols_load(path_in_dir("zs/prog"), NULL);
	assert_lookups_match_nm(s, path_in_dir("prog_pie"));
	elf_symbols_free(s);
}

/*
 * MiniDebugInfo as Fedora builds it (gdb manual, "MiniDebugInfo"): the
 * function symbols missing from .dynsym, in an ELF file compressed with xz
 * into .gnu_debugdata of the stripped binary.
 */
static void test_minidebuginfo(void **state)
{
	(void)state;
	assert_int_equal(sym_test_run("cd %s && mkdir -p mini && cd mini"
				      " && nm -D ../prog_pie --format=posix --defined-only | awk '{ print $1 }' | sort > dynsyms"
				      " && nm ../prog_pie --format=posix --defined-only"
				      " | awk '{ if ($2 == \"T\" || $2 == \"t\") print $1 }' | sort > funcsyms"
				      " && comm -13 dynsyms funcsyms > keep_symbols"
				      " && objcopy --only-keep-debug ../prog_pie mini_debuginfo"
				      " && objcopy -S --remove-section .gdb_index --remove-section .comment"
				      " --keep-symbols=keep_symbols mini_debuginfo"
				      " && xz -f mini_debuginfo"
				      " && objcopy --strip-all ../prog_pie prog"
				      " && objcopy --add-section .gnu_debugdata=mini_debuginfo.xz prog"
				      " && readelf -SW prog | grep -q gnu_debugdata", dir), 0);
	const char *mini = path_in_dir("mini/prog");
	assert_int_equal(sym_test_nm(mini, false, "known_", (struct sym_test_nm_symbol[1]){ 0 }, 1), 0);
	assert_true(finds_static_function(mini, NULL));
	struct elf_symbols *s = elf_symbols_load(mini, NULL);
	assert_lookups_match_nm(s, path_in_dir("prog_pie"));
	elf_symbols_free(s);

	/* a .gnu_debugdata that is not xz, or cut short: loads, without those names */
	assert_int_equal(sym_test_run("cd %s/mini && head -c 300 mini_debuginfo.xz > cut.xz && printf garbage > bad.xz"
				      " && objcopy --strip-all ../prog_pie cut && objcopy --add-section .gnu_debugdata=cut.xz cut"
				      " && objcopy --strip-all ../prog_pie bad && objcopy --add-section .gnu_debugdata=bad.xz bad",
				      dir), 0);
	const char *broken[] = { path_in_dir("mini/cut"), path_in_dir("mini/bad") };
	for (size_t i = 0; i < 2; i++) {
		s = elf_symbols_load(broken[i], NULL);
		assert_non_null(s);
		elf_symbols_free(s);
		assert_false(finds_static_function(broken[i], NULL));
	}
}

static void test_truncated_files_fail(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(stat(path_in_dir("prog_pie"), &st), 0);
	long sizes[] = { 0, 4, 16, 63, 64, 200, st.st_size / 2, st.st_size - 64, st.st_size - 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(sym_test_run("head -c %ld %s/prog_pie > %s/truncated", sizes[i], dir, dir), 0);
		errno = 0;
		struct elf_symbols *s = elf_symbols_load(path_in_dir("truncated"), NULL);
		if (s)
			fail_msg("a copy truncated to %ld bytes loaded", sizes[i]);
		assert_int_not_equal(errno, 0);
	}
}

/*
 * A file truncated while it is open (mapped): reading past its new end reads
 * zeros instead of killing the reader with SIGBUS, and the sections read
 * that way end in an error or in nonsense, not a crash.
 */
static void test_file_truncated_while_open_reads_zeros(void **state)
{
	(void)state;
	assert_int_equal(sym_test_run("cp %s/prog_pie %s/shrinking", dir, dir), 0);
	int fd = open(path_in_dir("shrinking"), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *elf = elf_reader_open_fd(fd);
	assert_non_null(elf);
	size_t size = 0;
	const unsigned char *image = (const unsigned char *)elf_rawfile(elf, &size);
	assert_non_null(image);
	long page = sysconf(_SC_PAGESIZE);
	assert_true(size > (size_t)(4 * page));
	size_t probe = size - 1; /* the section headers, at the end: not zero */
	while (probe > (size_t)(2 * page) && image[probe] == 0)
		probe--;
	assert_true(probe > (size_t)(2 * page));
	assert_int_equal(ftruncate(fd, page), 0);
	assert_int_equal(image[probe], 0); /* SIGBUS without the guard */
	GElf_Shdr sh;
	Elf_Scn *scn = elf_reader_find_section(elf, ".symtab", &sh);
	Elf_Data *d = scn ? elf_reader_section_data(elf, scn) : NULL;
	unsigned sum = 0;
	for (size_t i = 0; d && d->d_buf && i < d->d_size; i++)
		sum += ((const unsigned char *)d->d_buf)[i];
	(void)sum;
	elf_reader_close(elf);
	close(fd);
}

static void test_missing_and_non_elf_files_fail(void **state)
{
	(void)state;
	errno = 0;
	assert_null(elf_symbols_load(path_in_dir("does-not-exist"), NULL));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(elf_symbols_load(path_in_dir("prog.c"), NULL));
	assert_int_equal(errno, ENOEXEC);
	assert_null(elf_symbols_load(dir, NULL)); /* a directory */
}

static void patch_bytes(const char *file, long offset, const char *bytes_printf)
{
	assert_int_equal(sym_test_run("printf '%s' | dd of=%s bs=1 seek=%ld conv=notrunc status=none", bytes_printf, file, offset), 0);
}

static void test_corrupt_headers_fail(void **state)
{
	(void)state;
	const char *bad = path_in_dir("corrupt");
	/* e_shoff (offset 0x28 in ELF64) pointing far past the end */
	assert_int_equal(sym_test_run("cp %s/prog_pie %s", dir, bad), 0);
	patch_bytes(bad, 0x28, "\\377\\377\\377\\377\\377\\377\\0\\0");
	assert_null(elf_symbols_load(bad, NULL));
	/* e_phoff past the end */
	assert_int_equal(sym_test_run("cp %s/prog_pie %s", dir, bad), 0);
	patch_bytes(bad, 0x20, "\\377\\377\\377\\377\\0\\0\\0\\0");
	assert_null(elf_symbols_load(bad, NULL));
	/* a bad magic */
	assert_int_equal(sym_test_run("cp %s/prog_pie %s", dir, bad), 0);
	patch_bytes(bad, 1, "XLF");
	assert_null(elf_symbols_load(bad, NULL));
}

/* Garbage inside the symbol and string tables must not crash lookups (run under ASan to see overreads). */
static void test_corrupt_symbol_tables_load_safely(void **state)
{
	(void)state;
	const char *bad = path_in_dir("corrupt_tables");
	for (unsigned seed = 1; seed <= 6; seed++) {
		assert_int_equal(sym_test_run("cp %s/prog_pie %s && for s in .symtab .strtab .dynsym .dynstr .dynamic; do"
					      " set -- $(readelf -SW %s | sed 's/^ *\\[ *[0-9]*\\]//' | awk -v n=$s '$1 == n { print $4, $5 }');"
					      " [ -n \"$1\" ] && head -c $((0x$2)) /dev/urandom | dd of=%s bs=1 seek=$((0x$1)) conv=notrunc status=none;"
					      " done; true", dir, bad, bad, bad), 0);
		struct elf_symbols *s = elf_symbols_load(bad, NULL);
		if (s) {
			for (uint64_t a = 0; a < 0x10000; a += 7)
				elf_symbols_lookup(s, a, NULL);
			elf_symbols_find(s, "main", NULL, NULL);
			const char *const *needed;
			size_t n = elf_symbols_needed(s, &needed);
			for (size_t i = 0; i < n; i++)
				assert_non_null(needed[i]);
			elf_symbols_free(s);
		}
	}
}

static void test_load_from_memory(void **state)
{
	(void)state;
	char *image = sym_test_capture("cat %s/prog_nopie", dir);
	assert_non_null(image);
	struct stat st;
	assert_int_equal(stat(path_in_dir("prog_nopie"), &st), 0);
	struct elf_symbols *s = elf_symbols_load_mem(image, (size_t)st.st_size, "prog_nopie");
	assert_non_null(s);
	assert_string_equal(elf_symbols_path(s), "prog_nopie");
	assert_lookups_match_nm(s, path_in_dir("prog_nopie"));
	elf_symbols_free(s);
	assert_null(elf_symbols_load_mem(image, 100, "short"));
	free(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pie_lookups),
		cmocka_unit_test(test_non_pie_lookups),
		cmocka_unit_test(test_shared_object_lookups_and_needed),
		cmocka_unit_test(test_zero_size_function_runs_to_next_symbol),
		cmocka_unit_test(test_global_binding_wins_at_equal_addresses),
		cmocka_unit_test(test_find_by_scan_and_by_index_agree),
		cmocka_unit_test(test_build_id_matches_readelf),
		cmocka_unit_test(test_find_object_and_section),
		cmocka_unit_test(test_stripped_binary_uses_debuglink),
		cmocka_unit_test(test_debuglink_in_dot_debug_dir_and_crc_check),
		cmocka_unit_test(test_build_id_debug_file_under_root),
		cmocka_unit_test(test_compressed_debug_sections),
		cmocka_unit_test(test_compressed_symtab),
		cmocka_unit_test(test_minidebuginfo),
		cmocka_unit_test(test_truncated_files_fail),
		cmocka_unit_test(test_file_truncated_while_open_reads_zeros),
		cmocka_unit_test(test_missing_and_non_elf_files_fail),
		cmocka_unit_test(test_corrupt_headers_fail),
		cmocka_unit_test(test_corrupt_symbol_tables_load_safely),
		cmocka_unit_test(test_load_from_memory),
	};
	return cmocka_run_group_tests(tests, build_all, remove_all);
}
