/* SPDX-License-Identifier: MIT */
/*
 * asyncio tasks read from live CPython 3.14+ processes (user/python/py_asyncio.c):
 * the task tree of tests/unit/py/asyncio_target.py, whose tasks print their
 * own names and addresses (id()), must come back with the same names, the
 * same awaited_by links and a coroutine chain; the section decoder refuses
 * truncated and implausible offsets; older Pythons get a clear refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/py_asyncio.h"

#define SCRIPT "py/asyncio_target.py"

struct printed_task {
	char name[64];
	uint64_t addr;
};

static size_t parse_ready(const char *ready, struct printed_task *out, size_t max)
{
	size_t n = 0;
	const char *p = strchr(ready, ' ');

	while (p && n < max) {
		char name[64];
		uint64_t addr;

		if (sscanf(p, " %63[^=]=%" SCNx64, name, &addr) != 2)
			break;
		snprintf(out[n].name, sizeof(out[n].name), "%s", name);
		out[n++].addr = addr;
		p = strchr(p + 1, ' ');
	}
	return n;
}

static const struct py_task *find_task(const struct py_task_list *l, uint64_t addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->tasks[i].addr == addr)
			return &l->tasks[i];
	return NULL;
}

static uint64_t addr_of(const struct printed_task *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].addr;
	fail_msg("the target printed no task %s", name);
	return 0;
}

static void check_tree(const struct py_test_interp *pi)
{
	char python[512], script[4096];
	struct py_test_target target;
	struct printed_task printed[8];
	struct py_target t;
	struct py_asyncio_offsets ao;
	struct py_task_list l;
	char err[256];
	size_t n;

	if (!py_test_interp_path(pi, python, sizeof(python))) {
		assert_false(pi->required);
		skip();
	}
	assert_non_null(realpath(SCRIPT, script));
	assert_int_equal(py_test_target_start(&target, python, script, 30), 0);
	n = parse_ready(target.ready, printed, 8);
	assert_int_equal(n, 4); /* main task, parent, two children */

	struct proc_maps *maps = proc_maps_read(target.pid);
	struct elf_cache *cache = elf_cache_new();
	assert_non_null(maps);
	assert_int_equal(py_detect(target.pid, maps, cache, &t), PY_DETECT_PYTHON);
	assert_int_equal(py_asyncio_find_offsets(target.pid, maps, cache, &ao, err, sizeof(err)), 0);
	/* the tasks print before the children park: retry until the lists hold still and both children sleep */
	for (int attempt = 0;; attempt++) {
		assert_true(attempt < 200);
		if (py_asyncio_read_tasks(target.pid, &t, &ao, &l, err, sizeof(err)) == 0) {
			const struct py_task *c1 = find_task(&l, addr_of(printed, n, "child-1"));
			const struct py_task *c2 = find_task(&l, addr_of(printed, n, "child-2"));

			if (c1 && c2 && c1->state == PY_TASK_SUSPENDED && c2->state == PY_TASK_SUSPENDED &&
			    c1->nframes == 2 && c2->nframes == 2)
				break;
			py_task_list_free(&l);
		}
		usleep(10000);
	}
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < n; i++) {
		const struct py_task *task = find_task(&l, printed[i].addr);

		assert_non_null(task);
		assert_string_equal(task->name, printed[i].name);
		assert_int_equal(task->state, PY_TASK_SUSPENDED);
		assert_false(task->running);
		assert_int_equal(task->native_tid, target.pid);
		assert_true(task->nframes >= 1);
	}
	/* who awaits whom, as the program built it */
	const struct py_task *parent = find_task(&l, addr_of(printed, n, "parent"));
	assert_int_equal(parent->nawaited_by, 1);
	assert_int_equal(parent->awaited_by[0], l.tasks[0].addr); /* the main task, first in its thread's list */
	for (const char *const *c = (const char *const[]){ "child-1", "child-2", NULL }; *c; c++) {
		const struct py_task *child = find_task(&l, addr_of(printed, n, *c));

		assert_int_equal(child->nawaited_by, 1);
		assert_int_equal(child->awaited_by[0], parent->addr);
		/* its chain is two coroutines, child() suspended in asyncio.sleep() */
		assert_int_not_equal(child->frames[0].code, child->frames[1].code);
	}
	uint64_t parent_addr = parent->addr;
	py_task_list_free(&l);

	/* one task by address gives the same as the listing */
	struct py_task one;
	assert_int_equal(py_asyncio_read_task(target.pid, &t, &ao, parent_addr, &one), 0);
	assert_string_equal(one.name, "parent");
	/* an address that is no task is refused, not followed */
	assert_int_equal(py_asyncio_read_task(target.pid, &t, &ao, t.proc.runtime_addr, &one), -1);

	py_test_target_stop(&target);
	elf_cache_free(cache);
	proc_maps_free(maps);
}

static void test_task_tree(void **state)
{
	(void)state;
	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++)
		if (py_test_interps[i].minor >= 14)
			check_tree(&py_test_interps[i]);
}

/* A well-formed block, as 3.14 lays it out, to mutate. */
static void valid_block(uint64_t v[13])
{
	const uint64_t good[13] = { 0xa8, 0x88, 0x60, 0x6c, 0x6d, 0x80, 0x98, 0x37248, 0x2a80, 0x3a8, 0x360, 0x368,
				    0x370 };
	memcpy(v, good, sizeof(good));
}

static void test_decode_refuses_bad_blocks(void **state)
{
	uint64_t v[13];
	struct py_asyncio_offsets ao;
	char err[256];
	(void)state;

	valid_block(v);
	assert_int_equal(py_asyncio_offsets_decode((const uint8_t *)v, sizeof(v), &ao, err, sizeof(err)), 0);
	assert_int_equal(ao.ts_running_task, 0x368);
	assert_int_equal(py_asyncio_offsets_decode((const uint8_t *)v, sizeof(v) - 8, &ao, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too short"));
	/* each field outside its struct, and absurd struct sizes */
	for (size_t i = 0; i < 13; i++) {
		valid_block(v);
		v[i] = i == 0 || i == 7 || i == 9 ? 1ull << 40 : 0x7fffffff;
		assert_int_equal(py_asyncio_offsets_decode((const uint8_t *)v, sizeof(v), &ao, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "implausible"));
	}
}

static void test_older_python_is_refused(void **state)
{
	struct py_target t;
	struct py_asyncio_offsets ao;
	struct py_task_list l;
	char err[256];
	(void)state;

	memset(&t, 0, sizeof(t));
	memset(&ao, 0, sizeof(ao));
	snprintf(t.version, sizeof(t.version), "3.11.2");
	assert_int_equal(py_asyncio_read_tasks(getpid(), &t, &ao, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "3.14"));
	assert_non_null(strstr(err, "3.11.2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_refuses_bad_blocks),
		cmocka_unit_test(test_older_python_is_refused),
		cmocka_unit_test(test_task_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
