// SPDX-License-Identifier: MIT
/*
 * --native end to end on real stacks, without BPF: each test stops a live
 * Python process with ptrace, copies its registers and user stack the way the
 * BPF snapshot does, walks its Python frames with py_walk_thread_stacks (the
 * BPF walker itself, built for userspace), and checks what native_mode_build makes
 * of it, for every interpreter installed.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "python/py_method_symbols.h"
#include "native/native_mode.h"
#include "unwind/unwind.h"
#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/python.h"

#define SNAPSHOTS 12
#define STACK_COPY (64 * 1024)
#define MAX_OUT 2048

/* 30 levels of Python recursion, then C (sorted) calling Python (key) in a loop. */
static const char sorted_script[] = "import sys\n"
				    "def key(x):\n"
				    "    return -x\n"
				    "def rec(n):\n"
				    "    if n == 0:\n"
				    "        print('ready', flush=True)\n"
				    "        while True:\n"
				    "            sorted(range(3000), key=key)\n"
				    "    return rec(n - 1)\n"
				    "rec(30)\n";

/* C re-entry 50 levels deep: each level calls the next through map(). */
static const char map_script[] = "import sys\n"
				 "def level(n):\n"
				 "    if n == 0:\n"
				 "        print('ready', flush=True)\n"
				 "        while True:\n"
				 "            sum(range(100000))\n"
				 "    return list(map(level, [n - 1]))\n"
				 "level(50)\n";

struct out_frame {
	char *name;
	enum frame_kind kind;
};

struct sample_out {
	struct py_symbolizer *sym;
	struct out_frame frames[MAX_OUT]; /* innermost first, as pushed */
	size_t n;
};

static void sink(struct sample_out *o, const struct frame_desc *f)
{
	if (o->n < MAX_OUT)
		o->frames[o->n++] = (struct out_frame){ .name = strdup(f->name), .kind = f->kind };
}

static bool namer(struct sample_out *o, const struct py_frame_rec *rec, struct frame_desc *out)
{
	struct py_code_info info;
	int line;
	if (py_symbolize(o->sym, rec->code, rec->sig, py_lasti_widen(rec->lasti), &info, &line) != 0)
		return false;
	*out = (struct frame_desc){ .name = info.name, .file = info.filename, .line = line, .kind = FRAME_PYTHON };
	return true;
}

static void sample_out_clear(struct sample_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->frames[i].name);
	o->n = 0;
}

/* ---- a stopped process, as the BPF side would see it ---- */

struct capture {
	uint64_t ip, sp, bp;
	uint8_t stack[STACK_COPY];
	size_t stack_len;
	struct py_frame_rec py[BPFSPY_MAX_PY_DEPTH];
	size_t npy;
	bool py_truncated;
};

static int copy_main_thread(const struct py_thread_stack *st, void *arg)
{
	struct capture *c = arg;
	c->npy = st->n_frames < BPFSPY_MAX_PY_DEPTH ? st->n_frames : BPFSPY_MAX_PY_DEPTH;
	memcpy(c->py, st->frames, c->npy * sizeof(c->py[0]));
	c->py_truncated = st->truncated;
	return 1; /* one thread only */
}

static size_t read_stack(pid_t pid, const struct proc_maps *maps, uint64_t sp, uint8_t *buf, size_t cap)
{
	const struct proc_map *m = proc_maps_find(maps, sp);
	char path[64];
	if (!m)
		return 0;
	size_t len = m->end - sp < cap ? m->end - sp : cap;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDONLY);
	ssize_t got = fd >= 0 ? pread(fd, buf, len, (off_t)sp) : -1;
	if (fd >= 0)
		close(fd);
	return got > 0 ? (size_t)got : 0;
}

static int capture_stopped(pid_t pid, const struct proc_maps *maps, const struct py_target *t, struct capture *c)
{
	struct user_regs_struct regs;
	int status, rc = -1;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0)
		return -1;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0 && waitpid(pid, &status, __WALL) == pid &&
	    ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0) {
		c->ip = regs.rip;
		c->sp = regs.rsp;
		c->bp = regs.rbp;
		c->stack_len = read_stack(pid, maps, c->sp, c->stack, sizeof(c->stack));
		c->npy = 0;
		if (py_walk_thread_stacks(pid, t, BPFSPY_MAX_PY_DEPTH, copy_main_thread, c) >= 0 && c->npy > 0)
			rc = 0;
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return rc;
}

/* ---- checks over the merged stack ---- */

static void print_stack(const struct sample_out *o)
{
	for (size_t i = o->n; i-- > 0;) {
		const char *tag = o->frames[i].kind == FRAME_PYTHON ? "py" : o->frames[i].kind == FRAME_MARKER ? "**" : "c ";
		printf("    %s %s\n", tag, o->frames[i].name);
	}
}

/* Root-first names of the frames that are Python or named in want[] (the rest is skipped). */
static size_t interesting_frames(const struct sample_out *o, const char *const *want, size_t nwant,
				 const char **names, size_t cap)
{
	size_t n = 0;
	for (size_t i = o->n; i-- > 0 && n < cap;) {
		bool keep = o->frames[i].kind == FRAME_PYTHON;
		for (size_t w = 0; w < nwant && !keep; w++)
			keep = strcmp(o->frames[i].name, want[w]) == 0;
		if (keep)
			names[n++] = o->frames[i].name;
	}
	return n;
}

static bool has_frame(const struct sample_out *o, enum frame_kind kind, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->frames[i].kind == kind && strcmp(o->frames[i].name, name) == 0)
			return true;
	return false;
}

/* sorted's and map's C frames: C symbols where the binary keeps them, Python names from the method tables where stripped */
static bool is_sorted_frame(const char *name)
{
	return strcmp(name, "builtin_sorted") == 0 || strncmp(name, "list_sort", 9) == 0 ||
	       strcmp(name, "builtins.sorted") == 0 || strcmp(name, "list.sort") == 0;
}

static bool is_map_next_frame(const char *name)
{
	return strcmp(name, "map_next") == 0 || strcmp(name, "map.__next__") == 0;
}

/*
 * sorted workload, root first: <module>, rec x 31, then possibly sorted's C
 * frames, then possibly key (always under sorted's C frames).
 */
static void check_sorted_stack(const struct py_test_interp *pi, const struct sample_out *o)
{
	static const char *const c_frames[] = { "builtin_sorted", "list_sort", "list_sort_impl", "builtins.sorted",
						"list.sort" };
	const char *seq[MAX_OUT];
	size_t n = interesting_frames(o, c_frames, 5, seq, MAX_OUT), i = 0;

	assert_true(n >= 32);
	assert_string_equal(seq[i++], "<module>");
	for (int level = 0; level <= 30; level++)
		assert_string_equal(seq[i++], "rec");
	bool saw_sort = false;
	while (i < n && strcmp(seq[i], "key") != 0) {
		assert_true(is_sorted_frame(seq[i]));
		saw_sort = true;
		i++;
	}
	if (i < n) { /* in the key callback: sorted's C frames sit between rec and key */
		assert_string_equal(seq[i++], "key");
		assert_true(saw_sort);
	}
	assert_int_equal(i, n);
}

/* map workload, root first: <module>, level(50), then 50 x (map's C iterator, level). */
static void check_map_stack(const struct py_test_interp *pi, const struct sample_out *o)
{
	static const char *const c_frames[] = { "map_next", "map.__next__" };
	const char *seq[MAX_OUT];
	size_t n = interesting_frames(o, c_frames, 2, seq, MAX_OUT), i = 0;

	assert_string_equal(seq[i++], "<module>");
	for (int level = 50; level >= 0; level--) {
		if (level < 50)
			assert_true(is_map_next_frame(seq[i++]));
		assert_true(i < n);
		assert_string_equal(seq[i++], "level");
	}
	assert_int_equal(i, n);
}

static char *write_script(const char *text)
{
	char *path = strdup("/tmp/bpfspy-native-XXXXXX.py");
	int fd = mkstemps(path, 3);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* What a failed assertion leaves behind, for the teardown to clean up and show. */
static pid_t running_target;
static char *running_script;
static const struct sample_out *checking; /* the merged stack a check is judging, until it passes */

static int kill_target(void **state)
{
	if (checking) {
		printf("  the snapshot that failed the check, root first:\n");
		print_stack(checking);
		checking = NULL;
	}
	if (running_target > 0) {
		kill(running_target, SIGKILL);
		waitpid(running_target, NULL, 0);
	}
	running_target = 0;
	if (running_script) {
		unlink(running_script);
		free(running_script);
	}
	running_script = NULL;
	return 0;
}

typedef void (*stack_check_fn)(const struct py_test_interp *pi, const struct sample_out *o);

static void run_workload(const struct py_test_interp *pi, const char *script_text, stack_check_fn check,
			 bool keep_all)
{
	char python[512];
	struct py_test_target target;
	struct py_target t;
	static struct capture cap;
	static struct sample_out out;

	if (!py_test_interp_path(pi, python, sizeof(python))) {
		assert_false(pi->required);
		skip();
	}
	char *script = running_script = write_script(script_text);
	int started = py_test_target_start(&target, python, script, 30);
	running_target = target.pid;
	assert_int_equal(started, 0);
	usleep(200000);
	struct proc_maps *maps = proc_maps_read(target.pid);
	struct elf_cache *elf = elf_cache_new(&py_method_names);
	assert_non_null(maps);
	assert_int_equal(py_detect(target.pid, maps, elf, &t), PY_DETECT_PYTHON);
	struct native_mode *m = native_mode_new(elf, keep_all);
	assert_non_null(m);
	out.sym = py_symbolizer_new(target.pid, &t);
	assert_non_null(out.sym);

	int captured = 0;
	for (int attempt = 0; attempt < SNAPSHOTS * 3 && captured < SNAPSHOTS; attempt++) {
		usleep(30000);
		if (capture_stopped(target.pid, maps, &t, &cap) != 0)
			continue;
		captured++;
		struct native_sample s = {
			.pid = target.pid, .maps = maps, .ip = cap.ip, .sp = cap.sp, .bp = cap.bp,
			.stack = cap.stack, .stack_len = cap.stack_len, .py = cap.py, .npy = cap.npy,
			.model = t.proc.off.frame_model, .py_truncated = cap.py_truncated,
		};
		sample_out_clear(&out);
		if (getenv("NATIVE_TEST_VERBOSE"))
			printf("  ip 0x%" PRIx64 " sp 0x%" PRIx64 " stack %zu bytes\n", cap.ip, cap.sp, cap.stack_len);
		struct native_stack st;
		native_mode_build(m, &s, &st);
		for (size_t i = 0; i < st.count; i++) {
			struct frame_desc f;
			if (!native_stack_frame(&st, i, &f) && !namer(&out, &cap.py[st.items[i].index], &f))
				f = (struct frame_desc){ .name = "<unknown>", .kind = FRAME_PYTHON };
			sink(&out, &f);
		}
		bool merged = !st.mismatch;
		if (!merged || captured == 1 || getenv("NATIVE_TEST_VERBOSE")) {
			printf("  %s snapshot %d (%s), Python records innermost first: ", pi->label, captured,
			       merged ? "merged" : "MISMATCH");
			for (size_t i = 0; i < cap.npy; i++)
				putchar(cap.py[i].flags & PYF_SHIM ? 'S' : cap.py[i].flags & PYF_ENTRY ? 'E' : '.');
			putchar('\n');
			print_stack(&out);
		}
		assert_true(merged);
		assert_false(has_frame(&out, FRAME_MARKER, "[merge mismatch]"));
		if (!keep_all)
			assert_false(has_frame(&out, FRAME_NATIVE, "_PyEval_EvalFrameDefault"));
		checking = &out;
		check(pi, &out);
		checking = NULL;
	}
	struct native_mode_stats st;
	native_mode_read_stats(m, &st);
	char line[200];
	native_mode_format_stats(&st, line, sizeof(line));
	printf("  %s%s: %s; unwind stops:", pi->label, keep_all ? " (--native-all)" : "", line);
	for (int r = 0; r <= UNWIND_STOP_DEPTH; r++)
		printf(" %s %" PRIu64, unwind_stop_reason_name(r), st.unwind_stopped[r]);
	printf("\n");
	assert_true(captured >= SNAPSHOTS / 2);
	assert_int_equal(st.samples, (uint64_t)captured);
	assert_int_equal(st.reached_root, st.samples);
	assert_int_equal(st.mismatches, 0);

	sample_out_clear(&out);
	py_symbolizer_free(out.sym);
	native_mode_free(m);
	elf_cache_free(elf);
	proc_maps_free(maps);
	kill_target(NULL);
}

static void test_sorted(void **state)
{
	run_workload(*state, sorted_script, check_sorted_stack, false);
}

static void test_map_reentry(void **state)
{
	run_workload(*state, map_script, check_map_stack, false);
}

/*
 * --native-all: each eval frame stays, right below the Python frames it ran;
 * only the innermost may have none (caught entering or leaving the loop).
 */
static void check_eval_below_each_group(const struct py_test_interp *pi, const struct sample_out *o)
{
	size_t evals = 0, levels = 0;
	bool innermost = true;
	for (size_t i = 0; i < o->n; i++) {
		if (o->frames[i].kind == FRAME_NATIVE && strncmp(o->frames[i].name, "_PyEval_EvalFrameDefault", 24) == 0) {
			bool under_python = i > 0 && o->frames[i - 1].kind == FRAME_PYTHON;
			if (!innermost)
				assert_true(under_python);
			evals += under_python;
			innermost = false;
		}
		levels += o->frames[i].kind == FRAME_PYTHON && strcmp(o->frames[i].name, "level") == 0;
	}
	assert_int_equal(levels, 51);
	/* <module> and level(50) share one activation from 3.11 on (Python-to-Python calls are inlined) */
	assert_int_equal(evals, pi->minor <= 10 ? 52 : 51);
}

static void test_map_native_all(void **state)
{
	run_workload(*state, map_script, check_eval_below_each_group, true);
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS * 3];
	char names[PY_TEST_N_INTERPS * 3][96];
	size_t n = 0;
	const char *only = getenv("NATIVE_TEST_ONLY"); /* a substring of the test names to run, for chasing one case */
	setvbuf(stdout, NULL, _IONBF, 0);
	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		const struct py_test_interp *pi = &py_test_interps[i];
		snprintf(names[n], sizeof(names[n]), "sorted with key, 30 deep: %s", pi->label);
		tests[n++] = (struct CMUnitTest){ names[n - 1], test_sorted, NULL, kill_target, (void *)pi };
		snprintf(names[n], sizeof(names[n]), "map re-entry, 50 deep: %s", pi->label);
		tests[n++] = (struct CMUnitTest){ names[n - 1], test_map_reentry, NULL, kill_target, (void *)pi };
		snprintf(names[n], sizeof(names[n]), "map re-entry --native-all: %s", pi->label);
		tests[n++] = (struct CMUnitTest){ names[n - 1], test_map_native_all, NULL, kill_target, (void *)pi };
	}
	if (only) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++)
			if (strstr(tests[i].name, only))
				tests[kept++] = tests[i];
		n = kept;
	}
	return _cmocka_run_group_tests("native_snapshot", tests, n, NULL, NULL);
}
