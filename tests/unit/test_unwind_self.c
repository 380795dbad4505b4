// SPDX-License-Identifier: MIT
/*
 * The test process unwinds itself: a chain of functions, part of it in a
 * shared object built here with -O2 -fomit-frame-pointer, captures its
 * registers and a copy of its stack, and unwind_snapshot over tables built
 * from /proc/self/maps must return the same addresses as glibc's backtrace()
 * (libgcc's unwinder) at the same point, down to _start. Also through a
 * signal frame, and the stop reasons on cut or unknown stacks.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "helpers/unwind_test_util.h"
#include "unwind/unwind.h"

#define MAX_FRAMES 128

/* The shared object: every level keeps locals and work after the call, so no tail calls. */
static const char chain_source[] =
	"typedef void (*callback_fn)(int);\n"
	"volatile int chain_sink;\n"
	"__attribute__((noinline)) void chain_level3(callback_fn cb, int n) {\n"
	"	volatile char pad[40]; pad[n & 7] = (char)n;\n"
	"	cb(n + pad[0]);\n"
	"	chain_sink += pad[1];\n"
	"}\n"
	"__attribute__((noinline)) void chain_recurse(callback_fn cb, int n) {\n"
	"	volatile long big[40]; big[n % 40] = n;\n"
	"	if (n > 0) chain_recurse(cb, n - 1); else chain_level3(cb, n);\n"
	"	chain_sink += (int)big[7];\n"
	"}\n"
	"__attribute__((noinline)) void chain_level1(callback_fn cb, int n) {\n"
	"	chain_recurse(cb, n);\n"
	"	chain_sink++;\n"
	"}\n";

typedef void (*callback_fn)(int);
typedef void (*chain_entry_fn)(callback_fn cb, int n);

struct capture {
	struct unwind_regs regs;
	uint8_t stack[UNWIND_SNAPSHOT_MAX_SIZE];
	size_t stack_size;
	void *backtrace[MAX_FRAMES];
	int backtrace_count;
};

static struct capture captured;
static uint64_t stack_end;
/* cmocka's runner sits between main and the tests: the whole stack is a bit over 16 KiB. */
static size_t snapshot_size = UNWIND_SNAPSHOT_MAX_SIZE;
static chain_entry_fn chain_entry;
static volatile int sink;

/* A raw copy of live stack crosses ASan's redzones by design: copy without instrumentation. */
__attribute__((no_sanitize_address, noinline)) static void copy_stack_words(uint8_t *out, uint64_t from, size_t size)
{
	const volatile uint64_t *src = (const volatile uint64_t *)from;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < size / 8; i++)
		dst[i] = src[i];
}

/*
 * Registers first, then the stack copy, then backtrace(): the copy is taken
 * with this function's frame exactly as the registers describe it.
 */
__attribute__((noinline)) static void capture_here(void)
{
	uint64_t ip, sp, bp;
	size_t size;

	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp));
	captured.regs = (struct unwind_regs){ .ip = ip, .sp = sp, .bp = bp };
	size = stack_end - sp < snapshot_size ? stack_end - sp : snapshot_size;
	copy_stack_words(captured.stack, sp, size);
	captured.stack_size = size;
	captured.backtrace_count = backtrace(captured.backtrace, MAX_FRAMES);
}

__attribute__((noinline)) static void exe_callback(int n)
{
	volatile int local[4];

	local[n & 3] = n;
	capture_here();
	sink += local[0];
}

__attribute__((noinline)) static void exe_outer(int depth)
{
	volatile char buf[64];

	buf[depth & 63] = 1;
	chain_entry(exe_callback, depth);
	sink += buf[3];
}

static char *chain_dir; /* kept until teardown: tables are built from the mapped file's path */

static int load_chain(void **state)
{
	static char so_path[4200], command[9000];
	char *dir = chain_dir = unwind_test_make_tmpdir();
	char src[4200];
	void *handle;

	if (!dir)
		return -1;
	snprintf(src, sizeof(src), "%s/chain.c", dir);
	snprintf(so_path, sizeof(so_path), "%s/chain.so", dir);
	if (unwind_test_write_file(src, chain_source, strlen(chain_source)) != 0)
		return -1;
	snprintf(command, sizeof(command), "cc -O2 -fomit-frame-pointer -fPIC -shared -o %s %s", so_path, src);
	if (system(command) != 0)
		return -1;
	handle = dlopen(so_path, RTLD_NOW);
	if (!handle)
		return -1;
	chain_entry = (chain_entry_fn)dlsym(handle, "chain_level1");
	*state = handle;
	return chain_entry ? 0 : -1;
}

static int unload_chain(void **state)
{
	if (*state)
		dlclose(*state);
	unwind_test_remove_tree(chain_dir);
	free(chain_dir);
	return 0;
}

static void unwind_captured(const struct unwind_test_process *p, uint64_t *frames, struct unwind_result *result)
{
	struct unwind_snapshot_input in = {
		.regs = captured.regs,
		.stack = captured.stack,
		.stack_size = captured.stack_size,
		.find_mapping = unwind_address_space_find,
		.find_mapping_ctx = (void *)&p->space,
	};

	assert_int_equal(unwind_snapshot(&in, frames, MAX_FRAMES, result), 0);
}

static void print_frames(const char *label, const uint64_t *frames, size_t count)
{
	char **names = backtrace_symbols((void *const *)frames, (int)count);

	for (size_t i = 0; i < count; i++)
		fprintf(stderr, "  %s[%zu] %#lx %s\n", label, i, (unsigned long)frames[i], names ? names[i] : "");
	free(names);
}

/*
 * backtrace()[0] is the return address inside capture_here where ours is the
 * captured ip there; under ASan an interceptor frame comes first. Align on our
 * frames[1], the first return address.
 */
static void assert_matches_backtrace(const uint64_t *frames, const struct unwind_result *result)
{
	size_t skip = 1;

	while (skip < 3 && skip < (size_t)captured.backtrace_count && (uint64_t)captured.backtrace[skip] != frames[1])
		skip++;
	if (skip == 3 || result->frame_count - 1 != (size_t)captured.backtrace_count - skip ||
	    memcmp(frames + 1, captured.backtrace + skip, (result->frame_count - 1) * sizeof(*frames)) != 0) {
		print_frames("ours", frames, result->frame_count);
		print_frames("backtrace", (const uint64_t *)captured.backtrace, (size_t)captured.backtrace_count);
		fprintf(stderr, "  stopped: %s\n", unwind_stop_reason_name(result->stop_reason));
	}
	assert_true(skip < 3);
	assert_int_equal(result->frame_count - 1, (size_t)captured.backtrace_count - skip);
	for (size_t i = 1; i < result->frame_count; i++)
		assert_int_equal(frames[i], (uint64_t)captured.backtrace[skip + i - 1]);
	assert_int_equal(result->stop_reason, UNWIND_STOP_END_OF_STACK);
	assert_int_equal(result->frame_pointer_steps, 0);
}

static bool frame_in_function(const uint64_t *frames, size_t count, const char *symbol)
{
	for (size_t i = 0; i < count; i++) {
		Dl_info info;

		if (dladdr((void *)frames[i], &info) && info.dli_sname && strcmp(info.dli_sname, symbol) == 0)
			return true;
	}
	return false;
}

static bool frame_just_after(const uint64_t *frames, size_t count, uint64_t function, uint64_t span)
{
	for (size_t i = 0; i < count; i++)
		if (frames[i] > function && frames[i] - function <= span)
			return true;
	return false;
}

static void test_unwinds_own_stack_like_backtrace(void **state)
{
	struct unwind_test_process p;
	uint64_t frames[MAX_FRAMES];
	struct unwind_result result;

	assert_int_equal(unwind_test_process_load(&p), 0);
	stack_end = p.stack_end;
	exe_outer(3);
	unwind_captured(&p, frames, &result);
	assert_matches_backtrace(frames, &result);
	/* The chain really went through the FP-less shared object and out to libc's start code. */
	assert_true(frame_in_function(frames, result.frame_count, "chain_recurse"));
	assert_true(frame_in_function(frames, result.frame_count, "chain_level3"));
	assert_true(frame_in_function(frames, result.frame_count, "__libc_start_main"));
	assert_true(result.frame_count >= 12);
	unwind_test_process_free(&p);
}

__attribute__((noinline)) void send_signal_to_self(int sig)
{
	raise(sig);
	sink++;
}

static void signal_handler(int sig)
{
	exe_callback(sig);
}

static void test_unwinds_through_signal_frame(void **state)
{
	struct unwind_test_process p;
	struct sigaction action = { .sa_handler = signal_handler }, installed, previous;
	uint64_t frames[MAX_FRAMES];
	struct unwind_result result;
	bool restorer_seen = false;

	assert_int_equal(unwind_test_process_load(&p), 0);
	stack_end = p.stack_end;
	sigemptyset(&action.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &action, &previous), 0);
	assert_int_equal(sigaction(SIGUSR1, NULL, &installed), 0);
	send_signal_to_self(SIGUSR1);
	assert_int_equal(sigaction(SIGUSR1, &previous, NULL), 0);

	unwind_captured(&p, frames, &result);
	assert_matches_backtrace(frames, &result);
	/* glibc's restorer (__restore_rt) is the handler's return address. */
	for (size_t i = 0; i < result.frame_count; i++)
		restorer_seen |= frames[i] == (uint64_t)installed.sa_restorer;
	assert_true(restorer_seen);
	/* ...and the interrupted code's callers follow it (the test binary exports no symbols for dladdr:
	 * the call to raise is within the first bytes of this tiny function). */
	assert_true(frame_just_after(frames, result.frame_count, (uint64_t)send_signal_to_self, 32));
	unwind_test_process_free(&p);
}

/*
 * A sigreturn trampoline whose CFI does not say so (no 'S' in its CIE, unlike
 * glibc's): the table builder knows it by its code, read from the file.
 * Without glibc's leading nop, a read one byte off misses it.
 */
__asm__(".text\n"
	".globl unmarked_sigreturn\n"
	".type unmarked_sigreturn, @function\n"
	"unmarked_sigreturn:\n"
	".cfi_startproc\n"
	"mov $15, %rax\n"
	"syscall\n"
	".cfi_endproc\n"
	".size unmarked_sigreturn, .-unmarked_sigreturn\n");
extern char unmarked_sigreturn[];

static int main_program_bias(struct dl_phdr_info *info, size_t size, void *bias)
{
	*(uint64_t *)bias = info->dlpi_addr;
	return 1; /* the main program comes first */
}

static void test_finds_unmarked_sigreturn_trampoline(void **state)
{
	uint64_t bias = 0;
	dl_iterate_phdr(main_program_bias, &bias);
	uint64_t at = (uint64_t)(uintptr_t)unmarked_sigreturn - bias;
	struct unwind_table *from_file, *from_memory;
	size_t size = 0;
	void *image = unwind_test_read_file("/proc/self/exe", &size);

	assert_non_null(image);
	assert_int_equal(unwind_table_build_from_path("/proc/self/exe", &from_file), 0);
	assert_int_equal(unwind_table_build_from_memory(image, size, &from_memory), 0);
	for (int i = 0; i < 2; i++) {
		const struct unwind_table *t = i ? from_memory : from_file;
		const struct unwind_row *row = unwind_table_lookup(t, at + 1);
		assert_non_null(row);
		assert_int_equal(row->cfa_rule, UNWIND_CFA_SIGNAL);
		/* the function before it is an ordinary one */
		row = unwind_table_lookup(t, (uint64_t)(uintptr_t)main_program_bias - bias);
		assert_non_null(row);
		assert_int_not_equal(row->cfa_rule, UNWIND_CFA_SIGNAL);
	}
	unwind_table_free(from_file);
	unwind_table_free(from_memory);
	free(image);
}

static void test_stops_when_snapshot_is_cut(void **state)
{
	struct unwind_test_process p;
	uint64_t frames[MAX_FRAMES], full_frames[MAX_FRAMES];
	struct unwind_result full, cut;

	assert_int_equal(unwind_test_process_load(&p), 0);
	stack_end = p.stack_end;
	exe_outer(3);
	unwind_captured(&p, full_frames, &full);
	assert_matches_backtrace(full_frames, &full);
	/* The first recursion level of the shared object is about 400 bytes up. */
	captured.stack_size = 512;
	unwind_captured(&p, frames, &cut);
	assert_int_equal(cut.stop_reason, UNWIND_STOP_LEFT_SNAPSHOT);
	assert_true(cut.frame_count < full.frame_count);
	for (size_t i = 1; i < cut.frame_count; i++) /* the same frames as far as it got */
		assert_int_equal(frames[i], full_frames[i]);
	unwind_test_process_free(&p);
}

static void test_stops_at_depth_limit(void **state)
{
	struct unwind_test_process p;
	uint64_t frames[MAX_FRAMES];
	struct unwind_result result;
	struct unwind_snapshot_input in;

	assert_int_equal(unwind_test_process_load(&p), 0);
	stack_end = p.stack_end;
	exe_outer(3);
	in = (struct unwind_snapshot_input){
		.regs = captured.regs, .stack = captured.stack, .stack_size = captured.stack_size,
		.find_mapping = unwind_address_space_find, .find_mapping_ctx = &p.space,
	};
	assert_int_equal(unwind_snapshot(&in, frames, 5, &result), 0);
	assert_int_equal(result.frame_count, 5);
	assert_int_equal(result.stop_reason, UNWIND_STOP_DEPTH);
	unwind_test_process_free(&p);
}

static const struct unwind_mapping *no_mappings(void *ctx, uint64_t address)
{
	return NULL;
}

/* A hand-made frame-pointer chain in an address range nothing maps: the fallback must follow it. */
static void test_frame_pointer_fallback_without_tables(void **state)
{
	uint64_t stack[16] = { 0 };
	const uint64_t base = 0x7ffd00001000;
	uint64_t frames[8];
	struct unwind_result result;
	struct unwind_snapshot_input in = {
		.regs = { .ip = 0x1111, .sp = base, .bp = base + 16 },
		.stack = (const uint8_t *)stack,
		.stack_size = sizeof(stack),
		.find_mapping = no_mappings,
	};

	/* frame at base+16: [saved bp = base+64][ra 0x2222]; frame at base+64: [saved bp = 0][ra 0x3333] */
	stack[2] = base + 64;
	stack[3] = 0x2222;
	stack[8] = 0;
	stack[9] = 0x3333;
	assert_int_equal(unwind_snapshot(&in, frames, 8, &result), 0);
	assert_int_equal(result.frame_count, 3);
	assert_int_equal(frames[0], 0x1111);
	assert_int_equal(frames[1], 0x2222);
	assert_int_equal(frames[2], 0x3333);
	assert_int_equal(result.frame_pointer_steps, 2);
	/* bp = 0 is not inside the copy: the fallback refuses and reports the missing table. */
	assert_int_equal(result.stop_reason, UNWIND_STOP_NO_TABLE);
}

static void test_measures_unwind_cost(void **state)
{
	struct unwind_test_process p;
	uint64_t frames[MAX_FRAMES];
	struct unwind_result result;
	struct timespec a, b;
	const int iterations = 20000;
	double ns;

	assert_int_equal(unwind_test_process_load(&p), 0);
	stack_end = p.stack_end;
	exe_outer(6); /* about 20 frames */
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < iterations; i++)
		unwind_captured(&p, frames, &result);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_matches_backtrace(frames, &result);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / iterations;
	printf("unwind_snapshot: %zu frames, %zu bytes of stack used of %zu copied: %.0f ns/sample (%.1f ns/frame)\n",
	       result.frame_count, (size_t)(stack_end - captured.regs.sp), captured.stack_size, ns,
	       ns / (double)result.frame_count);
	unwind_test_process_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwinds_own_stack_like_backtrace),
		cmocka_unit_test(test_unwinds_through_signal_frame),
		cmocka_unit_test(test_finds_unmarked_sigreturn_trampoline),
		cmocka_unit_test(test_stops_when_snapshot_is_cut),
		cmocka_unit_test(test_stops_at_depth_limit),
		cmocka_unit_test(test_frame_pointer_fallback_without_tables),
		cmocka_unit_test(test_measures_unwind_cost),
	};

	return cmocka_run_group_tests(tests, load_chain, unload_chain);
}
