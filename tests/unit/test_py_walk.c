/* SPDX-License-Identifier: MIT */
/*
 * End to end against live interpreters: py_detect chooses the offsets,
 * py_walk_thread_stacks follows them with the BPF walker itself, and
 * py_symbolize names the frames. py/walk_target.py parks two threads in known
 * stacks; its `# CALL` markers give the expected lines. Passing this for an
 * interpreter proves its py_offsets (table or _Py_DebugOffsets) are right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "python/py_method_symbols.h"
#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/python.h"

#define SCRIPT "py/walk_target.py"
#define MAX_STACK 64
#define MAX_THREADS 8
#define WALK_ATTEMPTS 10

struct frame {
	bool shim, entry;
	char name[128], qualname[160], filename[512];
	int line;
};

struct thread {
	uint64_t tstate, thread_id, native_thread_id;
	struct frame frames[MAX_STACK];
	size_t n;
};

struct snapshot {
	struct py_symbolizer *sym;
	struct thread threads[MAX_THREADS];
	size_t n;
	bool symbolize_failed;
};

static int collect_thread(const struct py_thread_stack *st, void *arg)
{
	struct snapshot *snap = arg;
	struct thread *th;

	if (snap->n == MAX_THREADS)
		return 0;
	th = &snap->threads[snap->n++];
	memset(th, 0, sizeof(*th));
	th->tstate = st->tstate;
	th->thread_id = st->thread_id;
	th->native_thread_id = st->native_thread_id;
	for (size_t i = 0; i < st->n_frames && th->n < MAX_STACK; i++) {
		const struct py_frame_rec *r = &st->frames[i];
		struct frame *f = &th->frames[th->n++];
		struct py_code_info info;

		f->shim = r->flags & PYF_SHIM;
		f->entry = r->flags & PYF_ENTRY;
		if (f->shim)
			continue;
		if (py_symbolize(snap->sym, r->code, r->sig, py_lasti_widen(r->lasti), &info, &f->line) < 0) {
			snap->symbolize_failed = true;
			continue;
		}
		snprintf(f->name, sizeof(f->name), "%s", info.name);
		snprintf(f->qualname, sizeof(f->qualname), "%s", info.qualname);
		snprintf(f->filename, sizeof(f->filename), "%s", info.filename);
	}
	return 0;
}

/* The target runs while we read it: retry until a walk is clean. */
static int walk(pid_t pid, const struct py_target *t, struct snapshot *snap)
{
	for (int attempt = 0; attempt < WALK_ATTEMPTS; attempt++) {
		snap->n = 0;
		snap->symbolize_failed = false;
		if (py_walk_thread_stacks(pid, t, MAX_STACK, collect_thread, snap) == 0 && !snap->symbolize_failed)
			return 0;
		usleep(20000);
	}
	return -1;
}

/* Line of the `# CALL name` marker in the script. */
static int marker_line(const char *name)
{
	int line = py_test_marker_line(SCRIPT, name);

	assert_true(line > 0);
	return line;
}

static void print_thread(const struct thread *th)
{
	printf("  thread 0x%" PRIx64 " (tid %" PRIu64 "):", th->thread_id, th->native_thread_id);
	for (size_t i = 0; i < th->n; i++) {
		const struct frame *f = &th->frames[i];

		if (f->shim)
			printf(" [shim]");
		else
			printf(" %s:%d%s", f->qualname, f->line, f->entry ? "*" : "");
	}
	printf("\n");
}

static const struct thread *thread_by_id(const struct snapshot *snap, uint64_t id)
{
	for (size_t i = 0; i < snap->n; i++)
		if (snap->threads[i].thread_id == id)
			return &snap->threads[i];
	return NULL;
}

/* The i-th frame that has code (shims skipped). */
static const struct frame *code_frame(const struct thread *th, size_t i)
{
	for (size_t k = 0; k < th->n; k++)
		if (!th->frames[k].shim && i-- == 0)
			return &th->frames[k];
	return NULL;
}

static void expect_frame(const struct thread *th, size_t i, const char *name, const char *qualname,
			 const char *script_path)
{
	const struct frame *f = code_frame(th, i);

	assert_non_null(f);
	assert_string_equal(f->name, name);
	assert_string_equal(f->qualname, qualname);
	assert_string_equal(f->filename, script_path);
	assert_int_equal(f->line, marker_line(name));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static size_t index_of(const struct thread *th, const char *name)
{
	for (size_t k = 0; k < th->n; k++)
		if (!th->frames[k].shim && strcmp(th->frames[k].name, name) == 0)
			return k;
	fail_msg("no frame %s", name);
	return 0;
}

/* Where the eval loop was entered (3.11: is_entry; 3.12+: a shim below the group). */
static void check_eval_boundaries(const struct thread *main, const struct thread *worker, unsigned minor)
{
	size_t f = index_of(worker, "функция"), y = index_of(worker, "y");

	if (minor == 11) {
		assert_true(worker->frames[f].entry);  /* map() called функция from C */
		assert_false(worker->frames[y].entry); /* y was inlined */
		assert_true(main->frames[index_of(main, "<module>")].entry);
		assert_false(main->frames[index_of(main, "c")].entry);
		assert_false(main->frames[index_of(main, "a")].entry);
	} else if (minor >= 12) {
		assert_true(f + 1 < worker->n && worker->frames[f + 1].shim);
		assert_false(worker->frames[y + 1].shim);
		assert_true(worker->frames[worker->n - 1].shim);
		assert_true(main->frames[main->n - 1].shim);
		for (size_t k = 0; k < index_of(main, "<module>"); k++)
			assert_false(main->frames[k].shim);
	}
}

static void check_gil(pid_t pid, const struct py_target *t, const struct snapshot *snap)
{
	uint64_t holder = 0;
	char path[64];
	FILE *mem;
	bool known = false;

	assert_true(t->proc.gil_addr != 0);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = fopen(path, "rb");
	assert_non_null(mem);
	assert_int_equal(fseeko(mem, (off_t)(t->proc.gil_addr + t->proc.off.gil_last_holder), SEEK_SET), 0);
	assert_int_equal(fread(&holder, sizeof(holder), 1, mem), 1);
	fclose(mem);
	/* last_holder is not cleared on release: it is one of the thread states we walked. */
	for (size_t i = 0; i < snap->n; i++)
		known |= snap->threads[i].tstate == holder;
	assert_true(known);
}

struct consistent {
	uint64_t thread_id;
	struct py_frame_rec frames[MAX_STACK];
	uint64_t addrs[MAX_STACK];
	size_t n;
	bool found, changing;
};

static int keep_consistent(const struct py_thread_stack *st, void *arg)
{
	struct consistent *c = arg;

	if (st->thread_id != c->thread_id)
		return 0;
	c->found = true;
	c->changing = st->changing;
	c->n = st->n_frames < MAX_STACK ? st->n_frames : MAX_STACK;
	memcpy(c->frames, st->frames, c->n * sizeof(c->frames[0]));
	memcpy(c->addrs, st->frame_addrs, c->n * sizeof(c->addrs[0]));
	return 0;
}

/*
 * The consistent walk (bpfspy dump) of a parked thread settles at once, on
 * the same frames as the plain walk; its frame addresses give the locals:
 * функция(item) was called with 1.
 */
static void check_consistent_walk_and_locals(pid_t pid, const struct py_target *t, const struct thread *worker,
					     struct py_symbolizer *sym)
{
	struct consistent c = { .thread_id = worker->thread_id };
	struct py_local locals[8];
	size_t k;
	int n;

	assert_int_equal(py_walk_thread_stacks_consistent(pid, t, MAX_STACK, 20, keep_consistent, &c), 0);
	assert_true(c.found);
	assert_false(c.changing);
	assert_int_equal(c.n, worker->n);
	for (k = 0; k < c.n; k++) {
		struct py_code_info info;
		int line;

		assert_int_equal(!!(c.frames[k].flags & PYF_SHIM), worker->frames[k].shim);
		if (worker->frames[k].shim)
			continue;
		assert_int_equal(py_symbolize(sym, c.frames[k].code, c.frames[k].sig,
					      py_lasti_widen(c.frames[k].lasti), &info, &line), 0);
		assert_string_equal(info.name, worker->frames[k].name);
		assert_int_equal(line, worker->frames[k].line);
		if (strcmp(info.name, "функция") != 0)
			continue;
		n = py_frame_locals(pid, t, c.addrs[k], c.frames[k].code, locals, 8);
		assert_int_equal(n, 1);
		assert_string_equal(locals[0].name, "item");
		assert_string_equal(locals[0].repr, "1");
		assert_true(locals[0].arg);
		return;
	}
	fail_msg("no frame функция");
}

static void test_walk_interpreter(void **state)
{
	const struct py_test_interp *pi = *state;
	char python[512], script_path[PATH_MAX];
	uint64_t ids[4];
	struct py_test_target target;
	struct py_target t;
	struct snapshot snap = { 0 };
	struct proc_maps *maps;
	struct elf_cache *cache;
	const struct thread *main_th, *worker;
	bool qual = pi->minor >= 11;

	if (!py_test_interp_path(pi, python, sizeof(python))) {
		assert_false(pi->required);
		skip();
	}
	assert_non_null(realpath(SCRIPT, script_path));
	assert_int_equal(py_test_target_start(&target, python, script_path, 30), 0);
	assert_int_equal(sscanf(target.ready, "ready %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &ids[0], &ids[1],
				&ids[2], &ids[3]), 4);

	maps = proc_maps_read(target.pid);
	cache = elf_cache_new(&py_method_names);
	assert_non_null(maps);
	assert_non_null(cache);
	assert_int_equal(py_detect(target.pid, maps, cache, &t), PY_DETECT_PYTHON);
	printf("%s: Python %s, _PyRuntime 0x%" PRIx64 " in %s, GIL 0x%" PRIx64 "\n", pi->label, t.version,
	       (uint64_t)t.proc.runtime_addr, t.runtime_module, (uint64_t)t.proc.gil_addr);
	assert_int_equal((t.version_hex >> 16 & 0xff), pi->minor);

	snap.sym = py_symbolizer_new(target.pid, &t);
	assert_non_null(snap.sym);
	/* "ready" is printed just before the main thread's sleep: let it get there. */
	for (int settle = 0;; settle++) {
		assert_int_equal(walk(target.pid, &t, &snap), 0);
		main_th = thread_by_id(&snap, ids[0]);
		worker = thread_by_id(&snap, ids[2]);
		assert_non_null(main_th);
		assert_non_null(worker);
		if (settle == 40 || (code_frame(main_th, 0) && code_frame(main_th, 0)->line == marker_line("c")))
			break;
		usleep(50000);
	}
	for (size_t i = 0; i < snap.n; i++)
		print_thread(&snap.threads[i]);
	if (pi->minor >= 11) {
		assert_int_equal(main_th->native_thread_id, ids[1]);
		assert_int_equal(worker->native_thread_id, ids[3]);
	}

	expect_frame(main_th, 0, "c", "c", script_path);
	expect_frame(main_th, 1, "b", "b", script_path);
	expect_frame(main_th, 2, "a", "a", script_path);
	expect_frame(main_th, 3, "<module>", "<module>", script_path);
	assert_null(code_frame(main_th, 4));

	expect_frame(worker, 0, "y", "y", script_path);
	expect_frame(worker, 1, "функция", "функция", script_path);
	expect_frame(worker, 2, "x", qual ? "Worker.x" : "x", script_path);
	assert_string_equal(code_frame(worker, 3)->name, "run");
	assert_true(ends_with(code_frame(worker, 3)->filename, "/threading.py"));
	assert_string_equal(code_frame(worker, 5)->name, "_bootstrap");
	assert_null(code_frame(worker, 6));

	check_eval_boundaries(main_th, worker, pi->minor);
	check_gil(target.pid, &t, &snap);
	check_consistent_walk_and_locals(target.pid, &t, worker, snap.sym);

	py_symbolizer_free(snap.sym);
	elf_cache_free(cache);
	proc_maps_free(maps);
	py_test_target_stop(&target);
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS];

	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_walk_interpreter,
									(void *)&py_test_interps[i]);
		tests[i].name = py_test_interps[i].label;
	}
	return _cmocka_run_group_tests("py_walk", tests, PY_TEST_N_INTERPS, NULL, NULL);
}
