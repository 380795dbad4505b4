/* SPDX-License-Identifier: MIT */
/*
 * py_detect's verdicts on real processes, and the symbolizer's refusal of a
 * code address whose sig doesn't match (a freed and reused object).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "python/py_method_symbols.h"
#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/python.h"

#define IMPORT_SCRIPT "py/import_target.py"

static enum py_detect_result detect(pid_t pid, struct py_target *t)
{
	struct proc_maps *maps = proc_maps_read(pid);
	struct elf_cache *cache = elf_cache_new(&py_method_names);
	enum py_detect_result r;

	assert_non_null(maps);
	assert_non_null(cache);
	r = py_detect(pid, maps, cache, t);
	elf_cache_free(cache);
	proc_maps_free(maps);
	return r;
}

static void test_sleep_is_not_python(void **state)
{
	struct py_test_target target = { 0 };
	struct py_target t;

	(void)state;
	target.pid = fork();
	assert_true(target.pid >= 0);
	if (target.pid == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	usleep(200000);
	assert_int_equal(detect(target.pid, &t), PY_DETECT_NOT_PYTHON);
	py_test_target_stop(&target);
}

/* Stopped right after execve: only the executable and ld.so are mapped. */
static void test_libpython_not_mapped_yet_is_pending(void **state)
{
	const char *python = pyenv_find("3.12", "bin/python3.12");
	struct py_test_target target = { 0 };
	struct py_target t;
	int status;

	(void)state;
	if (!python || access(python, X_OK) != 0) {
		printf("SKIP: pyenv 3.12 not found\n");
		skip();
	}
	target.pid = fork();
	assert_true(target.pid >= 0);
	if (target.pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(python, python, "-c", "pass", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(target.pid, &status, 0), target.pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(detect(target.pid, &t), PY_DETECT_PENDING);
	py_test_target_stop(&target);
}

static void test_python_37_is_unsupported(void **state)
{
	const char *python = pyenv_find("3.7", "bin/python3.7");
	char script[PATH_MAX];
	struct py_test_target target;
	struct py_target t;

	(void)state;
	if (!python || access(python, X_OK) != 0) {
		printf("SKIP: pyenv 3.7 not found\n");
		skip();
	}
	assert_non_null(realpath(IMPORT_SCRIPT, script));
	assert_int_equal(py_test_target_start(&target, python, script, 30), 0);
	assert_int_equal(detect(target.pid, &t), PY_DETECT_UNSUPPORTED);
	printf("3.7: %s\n", t.warning);
	assert_non_null(strstr(t.warning, "3.7"));
	py_test_target_stop(&target);
}

struct first_frames {
	struct py_frame_rec top;
	bool have_top;
	struct py_symbolizer *sym;
	bool saw_frozen;
};

static int inspect_main_thread(const struct py_thread_stack *st, void *arg)
{
	struct first_frames *ff = arg;

	for (size_t i = 0; i < st->n_frames; i++) {
		const struct py_frame_rec *r = &st->frames[i];
		struct py_code_info info;
		int line;

		if (r->flags & PYF_SHIM)
			continue;
		if (!ff->have_top) {
			ff->top = *r;
			ff->have_top = true;
		}
		if (py_symbolize(ff->sym, r->code, r->sig, py_lasti_widen(r->lasti), &info, &line) == 0 &&
		    strcmp(info.filename, "<frozen importlib._bootstrap>") == 0)
			ff->saw_frozen = true;
	}
	return 0;
}

/* Frozen importlib frames keep their "<frozen ...>" name; a wrong sig is refused. */
static void test_symbolizer(void **state)
{
	const struct py_test_interp *pi = *state;
	char python[512], script[PATH_MAX];
	struct py_test_target target;
	struct py_target t;
	struct first_frames ff = { 0 };
	struct py_code_info info;
	int line;

	if (!py_test_interp_path(pi, python, sizeof(python))) {
		assert_false(pi->required);
		skip();
	}
	assert_non_null(realpath(IMPORT_SCRIPT, script));
	assert_int_equal(py_test_target_start(&target, python, script, 30), 0);
	assert_int_equal(detect(target.pid, &t), PY_DETECT_PYTHON);
	ff.sym = py_symbolizer_new(target.pid, &t);
	assert_non_null(ff.sym);
	/* "ready" is printed just before the sleep on line 5: let the target get there. */
	for (int i = 0; i < 40; i++) {
		ff.have_top = ff.saw_frozen = false;
		py_walk_thread_stacks(target.pid, &t, 64, inspect_main_thread, &ff);
		if (ff.saw_frozen && ff.have_top &&
		    py_symbolize(ff.sym, ff.top.code, ff.top.sig, py_lasti_widen(ff.top.lasti), &info, &line) == 0 &&
		    line == 5)
			break;
		usleep(50000);
	}
	assert_true(ff.saw_frozen);
	assert_true(ff.have_top);

	assert_int_equal(py_symbolize(ff.sym, ff.top.code, ff.top.sig, py_lasti_widen(ff.top.lasti), &info, &line), 0);
	assert_string_equal(info.name, "<module>");
	assert_non_null(strstr(info.filename, "parked_module.py"));
	assert_int_equal(line, 5);
	/* Same address, other names: the object was freed and reused. */
	assert_int_equal(py_symbolize(ff.sym, ff.top.code, ff.top.sig ^ 0x1000, 0, &info, &line), -1);
	/* Not a code object at all. */
	assert_int_equal(py_symbolize(ff.sym, ff.top.code + 0x10, ff.top.sig, 0, &info, &line), -1);
	assert_int_equal(py_symbolize(ff.sym, 0, 0, 0, &info, &line), -1);
	printf("%s: frozen importlib frames named, wrong sig refused\n", pi->label);

	py_symbolizer_free(ff.sym);
	py_test_target_stop(&target);
}

int main(void)
{
	struct CMUnitTest tests[PY_TEST_N_INTERPS + 3];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sleep_is_not_python);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_libpython_not_mapped_yet_is_pending);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_python_37_is_unsupported);
	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_symbolizer, (void *)&py_test_interps[i]);
		tests[n++].name = py_test_interps[i].label;
	}
	return _cmocka_run_group_tests("py_detect", tests, n, NULL, NULL);
}
