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
	struct elf_cache *cache = elf_cache_new(NULL);
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

/* ---- memory built by hand, to be corrupt in chosen ways ----------------- */

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x40000u
#define RUNTIME 0x10000u
#define INTERP 0x11000u
#define TSTATE 0x12000u
#define LONG_TYPE 0x13000u
#define CORO_TYPE 0x13800u
#define CODE 0x14000u
#define TASK(i) (0x20000u + (i) * 0x1000u)     /* a task, its name at +0x200, its coroutine at +0x400 */

struct fake_mem {
	uint8_t bytes[MEM_SIZE];
	unsigned long reads;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake_mem *m = ctx;

	m->reads++;
	if (addr < MEM_BASE || addr - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (addr - MEM_BASE))
		return -1;
	memcpy(buf, m->bytes + (addr - MEM_BASE), len);
	return 0;
}

static void put64(struct fake_mem *m, uint64_t addr, uint64_t v) { memcpy(m->bytes + (addr - MEM_BASE), &v, 8); }
static void put8(struct fake_mem *m, uint64_t addr, uint8_t v) { m->bytes[addr - MEM_BASE] = v; }

/* A small made-up layout (3.14's frame states); every offset is inside its made-up struct. */
static void fake_layout(struct py_target *t, struct py_asyncio_offsets *ao)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->version, sizeof(t->version), "3.14.0");
	t->proc.runtime_addr = RUNTIME;
	t->proc.off = (struct py_offsets){ .frame_model = PY_FRAMES_DIRECT, .interp_threads_head = 0, .interp_next = 8,
					   .ts_next = 0, .ts_interp = 8, .ts_native_thread_id = 0x10, .frame_code = 0,
					   .frame_instr = 8, .frame_owner = 0x10, .code_tag_mask = 3,
					   .code_filename = 0x20, .code_name = 0x28, .code_adaptive = 0x40 };
	t->obj.ob_type = 8;
	t->obj.type_flags = 0x40;
	t->obj.long_size = 0x10;
	t->obj.long_digit = 0x18;
	t->locals.frame_localsplus = 0x20;
	t->async = (struct py_async_layout){ .known = true, .gen_iframe = 0x40, .gen_frame_state = 0x20,
					     .frame_stackpointer = 0x18, .frame_size = 0x20, .set_used = 0x10,
					     .set_table = 0x18, .set_mask = 0x20, .set_size = 0x28, .llist_next = 0,
					     .fs_created = -3, .fs_suspended = -2, .fs_yield_from = -1,
					     .fs_executing = 0, .awaited_slot = 1 };
	*ao = (struct py_asyncio_offsets){ .task_size = 0x100, .task_name = 0x10, .task_awaited_by = 0x18,
					   .task_is_task = 0x20, .task_awaited_by_is_set = 0x21, .task_coro = 0x28,
					   .task_node = 0x30, .interp_size = 0x1000, .interp_tasks_head = 0x100,
					   .ts_size = 0x1000, .ts_running_loop = 0x100, .ts_running_task = 0x108,
					   .ts_tasks_head = 0x110 };
}

/* One interpreter, one thread (TID 77), n tasks in its list; each task's coroutine suspended in an await of nothing. */
static void fake_process(struct fake_mem *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	put64(m, RUNTIME, INTERP);
	put64(m, INTERP + 0, TSTATE);
	put64(m, INTERP + 0x100, INTERP + 0x100); /* the interpreter's own list: empty */
	put64(m, TSTATE + 8, INTERP);
	put64(m, TSTATE + 0x10, 77);
	put64(m, LONG_TYPE + 0x40, 1ul << 24);
	put64(m, CODE + 0x20, 0x111);
	put64(m, CODE + 0x28, 0x222);
	uint64_t prev = TSTATE + 0x110;
	for (size_t i = 0; i < n; i++) {
		uint64_t task = TASK(i), name = task + 0x200, coro = task + 0x400, frame = coro + 0x40;

		put64(m, task + 0x10, name);
		put8(m, task + 0x20, 1);
		put64(m, task + 0x28, coro);
		put64(m, name + 8, LONG_TYPE);
		put64(m, name + 0x10, 1 << 3); /* one digit */
		put64(m, name + 0x18, i + 1);  /* Task-<i+1> */
		put64(m, coro + 8, CORO_TYPE);
		put8(m, coro + 0x20, (uint8_t)-2); /* suspended, not in an await */
		put64(m, frame + 0, CODE);
		put64(m, frame + 8, CODE + 0x40 + 2 * i);
		put8(m, frame + 0x10, 1);
		put64(m, prev, task + 0x30);
		prev = task + 0x30;
	}
	put64(m, prev, TSTATE + 0x110);
}

static void test_fake_memory_reads_as_built(void **state)
{
	static struct fake_mem m;
	struct py_async_source src = { fake_read, &m };
	struct py_target t;
	struct py_asyncio_offsets ao;
	struct py_task_list l;
	char err[256];
	(void)state;

	fake_layout(&t, &ao);
	fake_process(&m, 3);
	put64(&m, TASK(1) + 0x18, TASK(0)); /* Task-2 is awaited by Task-1 */
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	for (size_t i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "Task-%zu", i + 1);
		assert_string_equal(l.tasks[i].name, name);
		assert_int_equal(l.tasks[i].native_tid, 77);
		assert_int_equal(l.tasks[i].state, PY_TASK_SUSPENDED);
		assert_int_equal(l.tasks[i].nframes, 1);
		assert_int_equal(l.tasks[i].frames[0].code, CODE);
		assert_int_equal(l.tasks[i].frames[0].lasti, i);
	}
	assert_int_equal(l.tasks[1].nawaited_by, 1);
	assert_int_equal(l.tasks[1].awaited_by[0], TASK(0));
	py_task_list_free(&l);
}

static void test_corrupt_memory_is_bounded(void **state)
{
	static struct fake_mem m;
	struct py_async_source src = { fake_read, &m };
	struct py_target t;
	struct py_asyncio_offsets ao;
	struct py_task_list l;
	char err[256];
	(void)state;

	fake_layout(&t, &ao);

	/* a coroutine awaiting itself: the chain stops at its depth limit */
	fake_process(&m, 1);
	put8(&m, TASK(0) + 0x400 + 0x20, (uint8_t)-1);                  /* in an await */
	put64(&m, TASK(0) + 0x400 + 0x40 + 0x18, TASK(0) + 0x400 + 0x40 + 0x30); /* stackpointer */
	put64(&m, TASK(0) + 0x400 + 0x40 + 0x28, TASK(0) + 0x400);        /* stackpointer[-1]: itself */
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.tasks[0].nframes, PY_TASK_MAX_FRAMES);
	assert_true(l.tasks[0].frames_truncated);
	py_task_list_free(&l);

	/* a list whose last node points back at itself, never at the head: the walk ends, bounded */
	fake_process(&m, 2);
	put64(&m, TASK(1) + 0x30, TASK(1) + 0x30);
	m.reads = 0;
	int rc = py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err));
	assert_true(rc == -1 || l.truncated);
	assert_true(m.reads < 100u * PY_ASYNCIO_MAX_TASKS);
	if (rc == 0)
		py_task_list_free(&l);

	/* a node pointing nowhere: a failed read, not a crash */
	fake_process(&m, 2);
	put64(&m, TASK(0) + 0x30, 0xdead0000);
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), -1);

	/* awaited_by claims a set with an absurd table: the task is refused */
	fake_process(&m, 1);
	put64(&m, TASK(0) + 0x18, TASK(0) + 0x800);
	put8(&m, TASK(0) + 0x21, 1);
	put64(&m, TASK(0) + 0x800 + 0x10, 5);          /* used */
	put64(&m, TASK(0) + 0x800 + 0x20, 1ul << 40);  /* mask */
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), -1);

	/* two tasks awaiting each other: read as they are (the printer refuses to draw the cycle) */
	fake_process(&m, 2);
	put64(&m, TASK(0) + 0x18, TASK(1));
	put64(&m, TASK(1) + 0x18, TASK(0));
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), 0);
	assert_int_equal(l.tasks[0].awaited_by[0], TASK(1));
	assert_int_equal(l.tasks[1].awaited_by[0], TASK(0));
	py_task_list_free(&l);

	/* a name that is no int and no str: "?" */
	fake_process(&m, 1);
	put64(&m, LONG_TYPE + 0x40, 0);
	assert_int_equal(py_asyncio_read_tasks_from(&src, &t, &ao, &l, err, sizeof(err)), 0);
	assert_string_equal(l.tasks[0].name, "?");
	py_task_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_memory_reads_as_built),
		cmocka_unit_test(test_corrupt_memory_is_bounded),
		cmocka_unit_test(test_decode_refuses_bad_blocks),
		cmocka_unit_test(test_older_python_is_refused),
		cmocka_unit_test(test_task_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
