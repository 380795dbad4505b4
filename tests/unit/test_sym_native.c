// SPDX-License-Identifier: MIT
/*
 * native_symbolize and elf_cache on live processes: children running PIE,
 * non-PIE and deleted binaries, shared objects dlopen'd here (checked against
 * dladdr), C++ names (checked against c++filt) and the vDSO (checked against
 * the dynamic linker's own lookup).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers/sym_test_util.h"
#include "sym/native_symbols.h"

static const char child_source[] =
	"#include <stdio.h>\n"
	"#include <unistd.h>\n"
	"__attribute__((noinline, noclone)) int known_alpha(int x) { return x * 7 + 1; }\n"
	"__attribute__((noinline, noclone)) int known_beta(int x) { return known_alpha(x) ^ 3; }\n"
	"int main(void) {\n"
	"	printf(\"%p %p\\n\", (void *)known_alpha, (void *)known_beta);\n"
	"	fflush(stdout);\n"
	"	char c;\n"
	"	while (read(0, &c, 1) > 0) ;\n" /* live until the test closes our stdin */
	"	return known_beta(1) & 0;\n"
	"}\n";

static const char cpp_source[] =
	"namespace demo { namespace inner {\n"
	"template <typename T> __attribute__((noinline)) T twice(T x) { return x + x; }\n"
	"template long twice<long>(long);\n"
	"} }\n"
	"extern \"C\" void *demo_twice_long_address(void) { return (void *)&demo::inner::twice<long>; }\n";

static char *dir;

static const char *path_in_dir(const char *name)
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
	if (!dir || sym_test_write_file(path_in_dir("child.c"), child_source) != 0 ||
	    sym_test_write_file(path_in_dir("demo.cc"), cpp_source) != 0)
		return -1;
	return sym_test_run("cd %s && cc -O2 -fPIE -pie child.c -o child_pie && cc -O2 -fno-pie -no-pie child.c -o child_nopie"
			    " && cc -O2 -fPIC -shared child.c -o libchild.so && c++ -O2 -fPIC -shared demo.cc -o libdemo.so"
			    " && cp child_pie child_pie_copy", dir) == 0 ? 0 : -1;
}

static int remove_all(void **state)
{
	(void)state;
	sym_test_remove_tree(dir);
	free(dir);
	return 0;
}

struct child {
	struct sym_test_child proc;
	uint64_t alpha, beta;
};

static void start_child(const char *path, struct child *c)
{
	uint64_t addrs[2];
	sym_test_child_start(path, &c->proc, addrs, 2);
	c->alpha = addrs[0];
	c->beta = addrs[1];
}

static void stop_child(struct child *c)
{
	sym_test_child_stop(&c->proc);
}

static void assert_frame(struct elf_cache *cache, pid_t pid, const struct proc_maps *maps, uint64_t addr,
			 const char *name, const char *module)
{
	struct native_frame f;
	native_symbolize(cache, pid, maps, addr, false, &f);
	if (strcmp(f.name, name) != 0)
		fail_msg("0x%llx in %d: expected %s, got %s", (unsigned long long)addr, (int)pid, name, f.name);
	assert_true(f.known);
	if (module) {
		assert_non_null(f.module);
		assert_string_equal(f.module, module);
	}
	/* a return address just past a call still belongs to the function */
	native_symbolize(cache, pid, maps, addr + 1, true, &f);
	assert_string_equal(f.name, name);
}

static void check_child(struct elf_cache *cache, const char *binary, const char *nm_of)
{
	struct child c;
	start_child(binary, &c);
	struct proc_maps *maps = proc_maps_read(c.proc.pid);
	assert_non_null(maps);
	assert_frame(cache, c.proc.pid, maps, c.alpha, "known_alpha", binary);
	assert_frame(cache, c.proc.pid, maps, c.beta + 2, "known_beta", binary);
	uint64_t nm_addr, nm_size;
	assert_true(sym_test_nm_find(nm_of, false, "known_beta", &nm_addr, &nm_size));
	struct native_frame f;
	native_symbolize(cache, c.proc.pid, maps, c.beta, false, &f);
	assert_int_equal(f.vaddr, nm_addr);
	proc_maps_free(maps);
	stop_child(&c);
}

static void test_child_processes_pie_and_non_pie(void **state)
{
	(void)state;
	struct elf_cache *cache = elf_cache_new(NULL);
	assert_non_null(cache);
	check_child(cache, path_in_dir("child_pie"), path_in_dir("child_pie"));
	check_child(cache, path_in_dir("child_nopie"), path_in_dir("child_nopie"));
	assert_int_equal(elf_cache_files_loaded(cache), 2);
	/* a second process of the same binary reuses the parsed file */
	check_child(cache, path_in_dir("child_pie"), path_in_dir("child_pie"));
	assert_int_equal(elf_cache_files_loaded(cache), 2);
	/* so does a copy of it (another inode, same build-id) */
	check_child(cache, path_in_dir("child_pie_copy"), path_in_dir("child_pie"));
	assert_int_equal(elf_cache_files_loaded(cache), 2);
	elf_cache_free(cache);
}

static void test_deleted_binary(void **state)
{
	(void)state;
	const char *path = path_in_dir("child_deleted");
	assert_int_equal(sym_test_run("cp %s/child_pie %s", dir, path), 0);
	struct child c;
	start_child(path, &c);
	assert_int_equal(unlink(path), 0);
	struct proc_maps *maps = proc_maps_read(c.proc.pid);
	const struct proc_map *m = proc_maps_find(maps, c.alpha);
	assert_non_null(m);
	assert_true(m->deleted);
	struct elf_cache *cache = elf_cache_new(NULL);
	assert_frame(cache, c.proc.pid, maps, c.alpha, "known_alpha", path);
	elf_cache_free(cache);
	proc_maps_free(maps);
	stop_child(&c);
}

static void test_shared_object_against_dladdr(void **state)
{
	(void)state;
	const char *lib = path_in_dir("libchild.so");
	void *handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(handle);
	void *beta = dlsym(handle, "known_beta");
	assert_non_null(beta);
	Dl_info info;
	assert_true(dladdr(beta, &info) != 0);
	uint64_t nm_addr, nm_size;
	assert_true(sym_test_nm_find(lib, false, "known_beta", &nm_addr, &nm_size));

	struct proc_maps *maps = proc_maps_read(getpid());
	const struct proc_map *m = proc_maps_find(maps, (uintptr_t)beta);
	assert_non_null(m);
	struct elf_cache *cache = elf_cache_new(NULL);
	const struct elf_symbols *s = elf_cache_get(cache, getpid(), m);
	assert_non_null(s);
	uint64_t vaddr;
	assert_true(elf_symbols_offset_to_vaddr(s, (uintptr_t)beta - m->start + m->offset, &vaddr));
	assert_int_equal(vaddr, (uintptr_t)beta - (uintptr_t)info.dli_fbase);
	assert_int_equal(vaddr, nm_addr);
	assert_frame(cache, getpid(), maps, (uintptr_t)beta + nm_size / 2, "known_beta", lib);
	assert_ptr_equal(elf_cache_get(cache, getpid(), m), s); /* cached */
	elf_cache_free(cache);
	proc_maps_free(maps);
	dlclose(handle);
}

__attribute__((noinline)) static int test_local_function(int x)
{
	return x * 5 + 2;
}

static void test_own_executable(void **state)
{
	(void)state;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	uint64_t nm_addr, nm_size;
	assert_true(sym_test_nm_find(exe, false, "test_local_function", &nm_addr, &nm_size));
	struct proc_maps *maps = proc_maps_read(getpid());
	struct elf_cache *cache = elf_cache_new(NULL);
	uint64_t addr = (uintptr_t)&test_local_function;
	assert_frame(cache, getpid(), maps, addr, "test_local_function", exe);
	struct native_frame f;
	native_symbolize(cache, getpid(), maps, addr, false, &f);
	assert_int_equal(f.vaddr, nm_addr);
	assert_int_equal(test_local_function(1), 7);
	elf_cache_free(cache);
	proc_maps_free(maps);
}

static void test_cpp_names_are_demangled(void **state)
{
	(void)state;
	const char *lib = path_in_dir("libdemo.so");
	char *mangled = sym_test_capture("nm -D --defined-only '%s' | awk '$3 ~ /twice/ { print $3 }'", lib);
	assert_non_null(mangled);
	mangled[strcspn(mangled, "\n")] = '\0';
	assert_true(strncmp(mangled, "_Z", 2) == 0);
	char *expected = sym_test_capture("c++filt '%s'", mangled);
	assert_non_null(expected);
	expected[strcspn(expected, "\n")] = '\0';
	assert_string_equal(expected, "long demo::inner::twice<long>(long)");

	void *handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(handle);
	void *(*address_of)(void) = (void *(*)(void))dlsym(handle, "demo_twice_long_address");
	assert_non_null(address_of);
	struct proc_maps *maps = proc_maps_read(getpid());
	struct elf_cache *cache = elf_cache_new(NULL);
	assert_frame(cache, getpid(), maps, (uintptr_t)address_of(), expected, lib);
	elf_cache_free(cache);
	proc_maps_free(maps);
	dlclose(handle);
	free(mangled);
	free(expected);
}

static void test_vdso(void **state)
{
	(void)state;
	void *vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (!vdso)
		skip();
	void *fn = dlsym(vdso, "__vdso_clock_gettime");
	assert_non_null(fn);
	struct proc_maps *maps = proc_maps_read(getpid());
	const struct proc_map *own = proc_maps_find(maps, (uintptr_t)fn);
	assert_non_null(own);
	assert_string_equal(own->path, "[vdso]");
	struct elf_cache *cache = elf_cache_new(NULL);
	assert_frame(cache, getpid(), maps, (uintptr_t)fn, "__vdso_clock_gettime", "[vdso]");

	/* another process: same image at its own address (ASLR), read through /proc/PID/mem */
	struct child c;
	start_child(path_in_dir("child_pie"), &c);
	struct proc_maps *child_maps = proc_maps_read(c.proc.pid);
	const struct proc_map *theirs = NULL;
	for (size_t i = 0; i < child_maps->n; i++)
		if (child_maps->maps[i].path && strcmp(child_maps->maps[i].path, "[vdso]") == 0)
			theirs = &child_maps->maps[i];
	assert_non_null(theirs);
	struct elf_cache *fresh = elf_cache_new(NULL);
	assert_frame(fresh, c.proc.pid, child_maps, theirs->start + ((uintptr_t)fn - own->start), "__vdso_clock_gettime", "[vdso]");
	elf_cache_free(fresh);
	proc_maps_free(child_maps);
	stop_child(&c);
	elf_cache_free(cache);
	proc_maps_free(maps);
	dlclose(vdso);
}

static void test_unknown_addresses(void **state)
{
	(void)state;
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	struct proc_maps *maps = proc_maps_read(getpid());
	struct elf_cache *cache = elf_cache_new(NULL);
	struct native_frame f;
	char expected[64];

	native_symbolize(cache, getpid(), maps, (uintptr_t)anon + 16, false, &f);
	snprintf(expected, sizeof(expected), "0x%llx", (unsigned long long)(uintptr_t)anon + 16);
	assert_string_equal(f.name, expected);
	assert_false(f.known);
	assert_null(f.module);

	native_symbolize(cache, getpid(), maps, 0x10, false, &f);
	assert_string_equal(f.name, "0x10");
	assert_false(f.known);

	/* the ELF header of our own executable is in the file, but in no function */
	const struct proc_map *exe = proc_maps_find(maps, (uintptr_t)&test_local_function);
	const struct proc_map *first = NULL;
	for (size_t i = 0; i < maps->n && !first; i++)
		if (maps->maps[i].path && strcmp(maps->maps[i].path, exe->path) == 0 && maps->maps[i].offset == 0)
			first = &maps->maps[i];
	assert_non_null(first);
	native_symbolize(cache, getpid(), maps, first->start + 8, false, &f);
	snprintf(expected, sizeof(expected), "0x%llx (test_sym_native)", (unsigned long long)first->start + 8);
	assert_string_equal(f.name, expected);
	assert_false(f.known);
	assert_string_equal(f.module, exe->path);

	/* a file that cannot be read gives no symbols, and is not retried */
	struct proc_map missing = { .start = 0x1000, .end = 0x2000, .inode = 424242, .path = "/no/such/file" };
	assert_null(elf_cache_get(cache, getpid(), &missing));
	assert_null(elf_cache_get(cache, getpid(), &missing));
	elf_cache_free(cache);
	proc_maps_free(maps);
	munmap(anon, 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_processes_pie_and_non_pie),
		cmocka_unit_test(test_deleted_binary),
		cmocka_unit_test(test_shared_object_against_dladdr),
		cmocka_unit_test(test_own_executable),
		cmocka_unit_test(test_cpp_names_are_demangled),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_unknown_addresses),
	};
	return cmocka_run_group_tests(tests, build_all, remove_all);
}
