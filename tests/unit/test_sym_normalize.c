// SPDX-License-Identifier: MIT
/*
 * Normalization (sym/normalize.h) against independent tools: the build-id
 * per `readelf -n`, the file offset of a function from its `nm` address
 * through the file's PT_LOAD headers (read here with libelf). On this test's
 * own code, on a child whose binary was replaced on disk after it started
 * (the build-id must be the running file's, not the new one's), and on
 * mappings that are no file.
 */
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers/sym_test_util.h"
#include "sym/normalize.h"

/* Room for any build-id readelf prints (at most 64 bytes here). */
#define BUILD_ID_TEXT_SIZE 129

/* Normalized below: its address is taken, so it has one body. */
__attribute__((noinline, noclone, used)) int normalize_anchor(int x)
{
	return x * 13 + 5;
}

static const char child_source[] =
	"#include <stdio.h>\n"
	"#include <unistd.h>\n"
	"__attribute__((noinline, noclone)) int known_alpha(int x) { return x * VARIANT + 1; }\n"
	"int main(void) {\n"
	"	printf(\"%p\\n\", (void *)known_alpha);\n"
	"	fflush(stdout);\n"
	"	char c;\n"
	"	while (read(0, &c, 1) > 0) ;\n" /* live until the test closes our stdin */
	"	return known_alpha(1) & 0;\n"
	"}\n";

static char *dir;

static const char *path_in_dir(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static int build_children(void **state)
{
	(void)state;
	dir = sym_test_make_tmpdir();
	if (!dir || sym_test_write_file(path_in_dir("child.c"), child_source) != 0)
		return -1;
	/* two builds that differ in one constant, hence in build-id */
	return sym_test_run("cd %s && cc -O2 -Wl,--build-id -DVARIANT=7 child.c -o child_v1"
			    " && cc -O2 -Wl,--build-id -DVARIANT=9 child.c -o child_v2", dir) == 0 ? 0 : -1;
}

static int remove_children(void **state)
{
	(void)state;
	sym_test_remove_tree(dir);
	free(dir);
	return 0;
}

/* The file offset of vaddr per the file's PT_LOAD headers, read with libelf. */
static uint64_t file_offset_of_vaddr(const char *path, uint64_t vaddr)
{
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	size_t n;
	assert_int_equal(elf_getphdrnum(elf, &n), 0);
	uint64_t offset = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		assert_non_null(gelf_getphdr(elf, (int)i, &ph));
		if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			offset = vaddr - ph.p_vaddr + ph.p_offset;
	}
	elf_end(elf);
	close(fd);
	if (offset == UINT64_MAX)
		fail_msg("0x%llx is in no PT_LOAD segment of %s", (unsigned long long)vaddr, path);
	return offset;
}

static void expect_function(const struct normalized_address *got, const char *file, const char *function)
{
	char build_id[BUILD_ID_TEXT_SIZE];
	uint64_t vaddr, size;
	assert_true(sym_test_readelf_build_id(file, build_id, sizeof(build_id)));
	assert_string_equal(got->build_id, build_id);
	assert_true(sym_test_nm_find(file, false, function, &vaddr, &size));
	assert_int_equal(got->file_offset, file_offset_of_vaddr(file, vaddr));
}

static void test_own_function(void **state)
{
	(void)state;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';

	struct proc_maps *maps = proc_maps_read(getpid());
	assert_non_null(maps);
	struct elf_cache *cache = elf_cache_new(NULL);
	struct normalized_address got;
	uint64_t addr = (uintptr_t)&normalize_anchor;
	assert_null(elf_cache_mapped_build_id(cache, exe));
	assert_true(normalize_user_address(cache, getpid(), maps, addr, &got));
	/* what the recorder files a frame's module with, knowing only its path */
	assert_ptr_equal(elf_cache_mapped_build_id(cache, exe), got.build_id);
	assert_non_null(got.module);
	assert_string_equal(got.module, exe);
	expect_function(&got, exe, "normalize_anchor");
	printf("own code: %s build-id %s, normalize_anchor at file offset 0x%llx\n", got.module, got.build_id,
	       (unsigned long long)got.file_offset);

	/* the build-id is read once per file: a second address costs no read */
	size_t loaded = elf_cache_files_loaded(cache);
	uint64_t anchor_offset = got.file_offset;
	assert_true(normalize_user_address(cache, getpid(), maps, addr + 1, &got));
	assert_int_equal(got.file_offset, anchor_offset + 1);
	assert_int_equal(elf_cache_files_loaded(cache), loaded);
	elf_cache_free(cache);
	proc_maps_free(maps);
}

struct child {
	struct sym_test_child proc;
	uint64_t alpha;
};

static void start_child(const char *path, struct child *c)
{
	uint64_t addrs[1];
	sym_test_child_start(path, &c->proc, addrs, 1);
	c->alpha = addrs[0];
}

static void stop_child(struct child *c)
{
	sym_test_child_stop(&c->proc);
}

static void test_replaced_binary_keeps_its_build_id(void **state)
{
	(void)state;
	const char *path = path_in_dir("child_running"), *original = path_in_dir("child_v1");
	assert_int_equal(sym_test_run("cp %s %s", original, path), 0);
	struct child c;
	start_child(path, &c);
	/* a new build takes the path while the old one runs, as a package upgrade does */
	assert_int_equal(sym_test_run("cp %s %s.new && mv %s.new %s", path_in_dir("child_v2"), path, path, path), 0);

	struct proc_maps *maps = proc_maps_read(c.proc.pid);
	assert_non_null(maps);
	struct elf_cache *cache = elf_cache_new(NULL);
	struct normalized_address got;
	assert_true(normalize_user_address(cache, c.proc.pid, maps, c.alpha, &got));
	assert_string_equal(got.module, path); /* as the process sees it */
	expect_function(&got, original, "known_alpha");

	char now_at_path[BUILD_ID_TEXT_SIZE];
	assert_true(sym_test_readelf_build_id(path, now_at_path, sizeof(now_at_path)));
	assert_string_not_equal(got.build_id, now_at_path);
	printf("replaced binary: running %s, now on disk %s\n", got.build_id, now_at_path);
	elf_cache_free(cache);
	proc_maps_free(maps);
	stop_child(&c);
}

static void test_no_file_no_build_id(void **state)
{
	(void)state;
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	struct proc_maps *maps = proc_maps_read(getpid());
	assert_non_null(maps);
	struct elf_cache *cache = elf_cache_new(NULL);
	struct normalized_address got;

	assert_false(normalize_user_address(cache, getpid(), maps, (uintptr_t)anon + 8, &got));
	assert_null(got.module);
	assert_string_equal(got.build_id, "");
	assert_false(normalize_user_address(cache, getpid(), maps, 0, &got));
	assert_null(got.module);
	assert_false(normalize_user_address(cache, getpid(), NULL, (uintptr_t)&normalize_anchor, &got));
	assert_false(normalize_mapped_address(cache, getpid(), NULL, 0, &got));

	/* the vDSO is an ELF image, though no file: offsets are into it */
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (vdso) {
		assert_true(normalize_user_address(cache, getpid(), maps, vdso + 0x10, &got));
		assert_string_equal(got.module, "[vdso]");
		assert_int_equal(got.file_offset, 0x10);
		assert_non_null(got.build_id);
	}
	elf_cache_free(cache);
	proc_maps_free(maps);
	munmap(anon, 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function),
		cmocka_unit_test(test_replaced_binary_keeps_its_build_id),
		cmocka_unit_test(test_no_file_no_build_id),
	};
	return cmocka_run_group_tests(tests, build_children, remove_children);
}
