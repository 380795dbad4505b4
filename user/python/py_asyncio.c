/* SPDX-License-Identifier: MIT */
/*
 * asyncio tasks read out of a live CPython 3.14+ (see py_asyncio.h).
 *
 * Layout facts (CPython 3.14/3.15): each thread state, and the interpreter
 * for tasks whose thread ended, holds a circular doubly linked list of tasks
 * through the task's task_node (struct llist_node; the head is a node inside
 * the state). A task's coroutine is a PyCoroObject with its frame embedded
 * (gi_iframe) and a frame state: suspended inside an await
 * (FRAME_SUSPENDED_YIELD_FROM), the awaited object is the frame's top of
 * stack but one (stackpointer[-2]); when it is a coroutine of the same type
 * the chain goes on there. task_awaited_by is a single task, or a set of
 * them when task_awaited_by_is_set.
 */
#include "python/py_asyncio.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "python/py_layout.h"
#include "python/py_memory.h"
#include "python/py_objects.h"

#define FRAME_OWNED_BY_GENERATOR 1

#define TPFLAGS_LONG_SUBCLASS (1ul << 24)
#define TPFLAGS_UNICODE_SUBCLASS (1ul << 28)

/* Bounds against corrupt or racing memory. */
#define MAX_LIST_NODES (1u << 16)
#define MAX_SET_SLOTS (1u << 16)
#define MAX_INTERPRETERS 64
#define MAX_THREADS 4096
/* Reads one listing may make: a little over what MAX_ASYNCIO_TASKS full tasks need. */
#define MAX_READS (PY_ASYNCIO_MAX_TASKS * (PY_TASK_MAX_FRAMES * 6 + 64))

/* The low bits of a _PyStackRef (and of some tagged task fields) are flags, not address. */
#define UNTAG(p) ((p) & ~(uint64_t)3)

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int py_asyncio_offsets_decode(const uint8_t *buf, size_t len, struct py_asyncio_offsets *out, char *err,
			      size_t errlen)
{
	uint64_t v[13];
	const char *why = NULL;

	if (!buf || len < sizeof(v)) {
		snprintf(err, errlen, "%s section too short (%zu bytes)", PY_ASYNCIO_SECTION, len);
		return -1;
	}
	for (size_t i = 0; i < 13; i++)
		v[i] = get_u64(buf + 8 * i);
	*out = (struct py_asyncio_offsets){
		.task_size = v[0], .task_name = v[1], .task_awaited_by = v[2], .task_is_task = v[3],
		.task_awaited_by_is_set = v[4], .task_coro = v[5], .task_node = v[6],
		.interp_size = v[7], .interp_tasks_head = v[8],
		.ts_size = v[9], .ts_running_loop = v[10], .ts_running_task = v[11], .ts_tasks_head = v[12],
	};
	if (out->task_size < 0x40 || out->task_size > 0x400)
		why = "task object size";
	else if (out->task_name + 8 > out->task_size || out->task_awaited_by + 8 > out->task_size ||
		 out->task_coro + 8 > out->task_size || out->task_node + 16 > out->task_size ||
		 out->task_is_task >= out->task_size || out->task_awaited_by_is_set >= out->task_size)
		why = "task object offsets";
	else if (out->interp_size < 0x100 || out->interp_size > (16u << 20) ||
		 out->interp_tasks_head + 16 > out->interp_size)
		why = "interpreter state offsets";
	else if (out->ts_size < 0x80 || out->ts_size > 0x10000 || out->ts_running_loop + 8 > out->ts_size ||
		 out->ts_running_task + 8 > out->ts_size || out->ts_tasks_head + 16 > out->ts_size)
		why = "thread state offsets";
	if (why) {
		snprintf(err, errlen, "implausible _Py_AsyncioModuleDebugOffsets: %s", why);
		return -1;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Files that can hold _asyncio: a python executable, libpython, or the module's own shared object. */
static bool may_hold_asyncio(const char *path)
{
	const char *b = base_name(path);

	return strncmp(b, "_asyncio", 8) == 0 || strstr(b, "python") != NULL;
}

static int read_section_from_file(const char *path, uint64_t file_offset, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)file_offset);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

int py_asyncio_find_offsets(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
			    struct py_asyncio_offsets *out, char *err, size_t errlen)
{
	snprintf(err, errlen, "no %s section in any file PID %d maps: asyncio is not imported yet",
		 PY_ASYNCIO_SECTION, pid);
	if (!maps)
		return -1;
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		const struct elf_symbols *elf;
		uint64_t vaddr, size, file_offset;
		uint8_t buf[PY_ASYNCIO_OFFSETS_LEN];

		if (!m->path || m->path[0] != '/' || !may_hold_asyncio(m->path))
			continue;
		/* One look per file: only its first (lowest) mapping. */
		if (i > 0 && maps->maps[i - 1].path && strcmp(maps->maps[i - 1].path, m->path) == 0)
			continue;
		elf = elf_cache_get(cache, pid, m);
		if (!elf || !elf_symbols_section(elf, PY_ASYNCIO_SECTION, &vaddr, &size, &file_offset))
			continue;
		if (size < sizeof(buf) || read_section_from_file(elf_symbols_path(elf), file_offset, buf, sizeof(buf)) < 0) {
			snprintf(err, errlen, "%s: cannot read its %s section", m->path, PY_ASYNCIO_SECTION);
			return -1;
		}
		return py_asyncio_offsets_decode(buf, sizeof(buf), out, err, errlen);
	}
	return 1;
}

/* ---- reading tasks ------------------------------------------------------ */

/*
 * Decoded tasks kept between samples (record --async-aware): a task whose
 * object still holds the same name, coroutine and awaited_by pointers is
 * reused instead of decoded again, for at most CACHE_TTL_NS. The tasks above
 * a running one are suspended in the same await while it runs, so a sample
 * costs one read per task level instead of a few dozen.
 */
#define CACHE_ENTRIES 64
#define CACHE_TTL_NS 100000000ull

struct cached_task {
	uint64_t addr, name, coro, awaited_by;
	uint64_t stamp_ns;
	struct py_task task;
};

struct py_async_cache {
	struct cached_task e[CACHE_ENTRIES];
	unsigned next;
};

struct py_async_cache *py_async_cache_new(void)
{
	return calloc(1, sizeof(struct py_async_cache));
}

void py_async_cache_free(struct py_async_cache *c)
{
	free(c);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct reader {
	struct py_mem mem;
	const struct py_async_source *src; /* NULL: the live process through mem */
	struct py_async_cache *cache; /* NULL: decode every task */
	const struct py_target *t;
	const struct py_async_layout *a;
	const struct py_asyncio_offsets *ao;
	unsigned long reads; /* budget: MAX_READS */
};

static int rd(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	if (++r->reads > MAX_READS)
		return -1;
	if (r->src)
		return r->src->read(r->src->ctx, addr, buf, len);
	return py_mem_read(&r->mem, addr, buf, len);
}

static int rd_u64(struct reader *r, uint64_t addr, uint64_t *out)
{
	return rd(r, addr, out, sizeof(*out));
}

static int rd_i8(struct reader *r, uint64_t addr, int8_t *out)
{
	return rd(r, addr, out, sizeof(*out));
}

static int type_flags(struct reader *r, uint64_t obj, uint64_t *flags)
{
	uint64_t type;

	if (r->t->obj.type_flags == PY_OFF_NONE || rd_u64(r, obj + r->t->obj.ob_type, &type) < 0)
		return -1;
	return rd_u64(r, type + r->t->obj.type_flags, flags);
}

/* A small int (3.12+ layout: lv_tag = digits << 3 | sign, 30-bit digits). */
static int read_small_long(struct reader *r, uint64_t obj, long long *out)
{
	uint64_t tag;
	uint32_t digits[3];
	uint64_t ndigits, v = 0;

	if (r->t->obj.long_size == PY_OFF_NONE || r->t->obj.long_digit == PY_OFF_NONE ||
	    rd_u64(r, obj + r->t->obj.long_size, &tag) < 0)
		return -1;
	ndigits = tag >> 3;
	if (ndigits > 2)
		return -1;
	if (ndigits && rd(r, obj + r->t->obj.long_digit, digits, ndigits * 4) < 0)
		return -1;
	for (uint64_t i = ndigits; i-- > 0;)
		v = (v << 30) | (digits[i] & 0x3fffffffu);
	*out = (tag & 3) == 2 ? -(long long)v : (long long)v;
	return 0;
}

/* Task names are the counter (an int) until get_name() formats "Task-N", or the str given. */
static void read_task_name(struct reader *r, uint64_t name_obj, char *out, size_t len)
{
	uint64_t flags;
	long long n;

	snprintf(out, len, "?");
	if (!name_obj || type_flags(r, name_obj, &flags) < 0)
		return;
	if (flags & TPFLAGS_LONG_SUBCLASS) {
		if (read_small_long(r, name_obj, &n) == 0)
			snprintf(out, len, "Task-%lld", n);
		return;
	}
	if (flags & TPFLAGS_UNICODE_SUBCLASS) {
		char *s = py_read_string(&r->mem, r->t, name_obj);

		if (s)
			snprintf(out, len, "%s", s);
		free(s);
	}
}

/* One frame record for the frame at frame_addr, as the walker would report it (symbolizer input). */
static int frame_record(struct reader *r, uint64_t frame_addr, struct py_frame_rec *rec)
{
	const struct py_offsets *o = &r->t->proc.off;
	uint64_t code, instr, names[2], first;

	if (rd_u64(r, frame_addr + o->frame_code, &code) < 0 || rd_u64(r, frame_addr + o->frame_instr, &instr) < 0)
		return -1;
	code &= ~(uint64_t)o->code_tag_mask;
	if (!code || rd(r, code + o->code_filename, names, sizeof(names)) < 0)
		return -1;
	first = code + o->code_adaptive;
	rec->code = code;
	rec->sig = names[0] ^ names[1];
	rec->lasti = instr < first || instr - first > (1ull << 31) ? PY_LASTI_NOT_STARTED : (uint32_t)((instr - first) / 2);
	rec->flags = 0;
	return 0;
}

static enum py_task_state state_of(const struct py_async_layout *a, int8_t frame_state)
{
	if (frame_state == a->fs_created)
		return PY_TASK_NOT_STARTED;
	if (frame_state == a->fs_suspended || frame_state == a->fs_yield_from)
		return PY_TASK_SUSPENDED;
	if (frame_state == a->fs_executing)
		return PY_TASK_RUNNING;
	return PY_TASK_DONE;
}

/* What a coroutine suspended in an await is awaiting: the object under its frame's top of stack. */
static int awaited_object(struct reader *r, uint64_t frame_addr, uint64_t *obj)
{
	uint8_t owner;
	uint64_t sp;

	*obj = 0;
	if (rd(r, frame_addr + r->t->proc.off.frame_owner, &owner, 1) < 0 || owner != FRAME_OWNED_BY_GENERATOR)
		return -1;
	if (rd_u64(r, frame_addr + r->a->frame_stackpointer, &sp) < 0)
		return -1;
	sp = UNTAG(sp);
	/* the value stack lies in the frame's localsplus, after its locals */
	if (sp < frame_addr + r->t->locals.frame_localsplus + 8u * r->a->awaited_slot || sp - frame_addr > (1u << 20))
		return -1;
	if (rd_u64(r, sp - 8u * r->a->awaited_slot, obj) < 0)
		return -1;
	*obj = UNTAG(*obj);
	return 0;
}

/*
 * The chain from coroutine coro: its frame, and while it is suspended in an
 * await of another coroutine of its own type, that one's. Innermost first.
 */
static void read_coro_chain(struct reader *r, uint64_t coro, struct py_task *task)
{
	struct py_frame_rec outer_first[PY_TASK_MAX_FRAMES];
	size_t n = 0;
	uint64_t coro_type = 0;

	task->state = PY_TASK_DONE;
	for (size_t depth = 0; coro; depth++) {
		int8_t fs;
		uint64_t type, frame = coro + r->a->gen_iframe, next;

		if (depth == PY_TASK_MAX_FRAMES) {
			task->frames_truncated = true;
			break;
		}
		if (rd_i8(r, coro + r->a->gen_frame_state, &fs) < 0 || rd_u64(r, coro + r->t->obj.ob_type, &type) < 0)
			break;
		if (depth == 0) {
			coro_type = type;
			task->state = state_of(r->a, fs);
			task->coro_frame = frame;
		} else if (type != coro_type) {
			break; /* an awaitable that is no coroutine of the task's kind: the chain ends */
		}
		if (state_of(r->a, fs) == PY_TASK_DONE)
			break;
		if (frame_record(r, frame, &outer_first[n]) < 0)
			break;
		n++;
		if (fs != r->a->fs_yield_from || awaited_object(r, frame, &next) < 0)
			break;
		coro = next;
	}
	for (size_t i = 0; i < n; i++)
		task->frames[i] = outer_first[n - 1 - i];
	task->nframes = n;
}

static void add_awaiter(struct py_task *task, uint64_t waiter)
{
	if (!waiter)
		return;
	for (size_t i = 0; i < task->nawaited_by; i++)
		if (task->awaited_by[i] == waiter)
			return;
	if (task->nawaited_by == PY_TASK_MAX_AWAITERS) {
		task->awaited_by_truncated = true;
		return;
	}
	task->awaited_by[task->nawaited_by++] = waiter;
}

/*
 * The entries of a set (task_awaited_by when it holds several): a table of
 * mask + 1 (key, hash) slots; empty slots have no key. Deleted slots hold the
 * dummy key, which is no task: the caller keeps only tasks it knows.
 */
static int read_awaiter_set(struct reader *r, uint64_t set, struct py_task *task)
{
	uint64_t used, mask, table;

	if (rd_u64(r, set + r->a->set_used, &used) < 0 || rd_u64(r, set + r->a->set_mask, &mask) < 0 ||
	    rd_u64(r, set + r->a->set_table, &table) < 0)
		return -1;
	if (mask >= MAX_SET_SLOTS || used > mask + 1 || ((mask + 1) & mask) != 0)
		return -1;
	for (uint64_t i = 0, found = 0; i <= mask && found < used; i++) {
		uint64_t key;

		if (rd_u64(r, table + 16 * i, &key) < 0)
			return -1;
		if (key) {
			add_awaiter(task, key);
			found++;
		}
	}
	return 0;
}

static struct cached_task *cache_lookup(struct reader *r, uint64_t addr, uint64_t name, uint64_t coro,
				       uint64_t awaited_by, uint64_t now)
{
	for (unsigned i = 0; r->cache && i < CACHE_ENTRIES; i++) {
		struct cached_task *c = &r->cache->e[i];

		if (c->addr == addr && c->name == name && c->coro == coro && c->awaited_by == awaited_by &&
		    now - c->stamp_ns < CACHE_TTL_NS)
			return c;
	}
	return NULL;
}

static void cache_store(struct reader *r, const struct py_task *task, uint64_t name, uint64_t coro,
			uint64_t awaited_by, uint64_t now)
{
	struct cached_task *c;

	if (!r->cache)
		return;
	c = &r->cache->e[r->cache->next++ % CACHE_ENTRIES];
	*c = (struct cached_task){ .addr = task->addr, .name = name, .coro = coro, .awaited_by = awaited_by,
				   .stamp_ns = now };
	memcpy(&c->task, task, sizeof(*task));
}

static int decode_task(struct reader *r, uint64_t addr, const uint8_t *obj, struct py_task *task);

static int read_task(struct reader *r, uint64_t addr, struct py_task *task)
{
	uint8_t obj[0x400];
	const struct py_asyncio_offsets *ao = r->ao;
	uint64_t name, coro, awaited_by, now = r->cache ? now_ns() : 0;
	const struct cached_task *c;

	if (rd(r, addr, obj, ao->task_size) < 0 || !obj[ao->task_is_task])
		return -1;
	name = get_u64(obj + ao->task_name);
	coro = get_u64(obj + ao->task_coro);
	awaited_by = get_u64(obj + ao->task_awaited_by) | obj[ao->task_awaited_by_is_set];
	if ((c = cache_lookup(r, addr, name, coro, awaited_by, now))) {
		memcpy(task, &c->task, sizeof(*task));
		return 0;
	}
	if (decode_task(r, addr, obj, task) < 0)
		return -1;
	cache_store(r, task, name, coro, awaited_by, now);
	return 0;
}

/* A task from its object's bytes obj: name, coroutine chain, awaiting tasks. */
static int decode_task(struct reader *r, uint64_t addr, const uint8_t *obj, struct py_task *task)
{
	const struct py_asyncio_offsets *ao = r->ao;
	uint64_t awaited_by;

	memset(task, 0, sizeof(*task));
	task->addr = addr;
	read_task_name(r, UNTAG(get_u64(obj + ao->task_name)), task->name, sizeof(task->name));
	read_coro_chain(r, UNTAG(get_u64(obj + ao->task_coro)), task);
	awaited_by = UNTAG(get_u64(obj + ao->task_awaited_by));
	if (awaited_by) {
		if (obj[ao->task_awaited_by_is_set])
			return read_awaiter_set(r, awaited_by, task) < 0 ? -1 : 0;
		add_awaiter(task, awaited_by);
	}
	return 0;
}

static int push_task(struct py_task_list *l, size_t *cap)
{
	if (l->n == PY_ASYNCIO_MAX_TASKS) {
		l->truncated = true;
		return 1;
	}
	if (l->n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct py_task *p = realloc(l->tasks, c * sizeof(*p));

		if (!p)
			return -1;
		l->tasks = p;
		*cap = c;
	}
	return 0;
}

/* The tasks of one list (head: the llist_node inside a thread or interpreter state). */
static int read_list(struct reader *r, uint64_t head, uint64_t tstate, uint32_t tid, uint64_t running,
		     struct py_task_list *l, size_t *cap)
{
	uint64_t node;

	if (rd_u64(r, head + r->a->llist_next, &node) < 0)
		return -1;
	if (!node)
		return 0; /* a state whose list was never initialised */
	for (unsigned n = 0; node != head; n++) {
		int p;

		if (n == MAX_LIST_NODES || !node)
			return -1;
		p = push_task(l, cap);
		if (p < 0)
			return -1;
		if (p > 0)
			return 0;
		struct py_task *task = &l->tasks[l->n];
		uint64_t addr = node - r->ao->task_node;

		if (read_task(r, addr, task) < 0)
			return -1;
		task->tstate = tstate;
		task->native_tid = tid;
		task->running = running && running == addr;
		l->n++;
		uint64_t prev = node;
		/* a node linked to itself is a list caught mid-update (or corrupt); longer loops end at the task cap */
		if (rd_u64(r, node + r->a->llist_next, &node) < 0 || node == prev)
			return -1;
	}
	return 0;
}

static bool asyncio_layout(const struct py_target *t, char *err, size_t errlen)
{
	if (t->async.known && !t->free_threaded && t->proc.off.frame_model == PY_FRAMES_DIRECT)
		return true;
	snprintf(err, errlen, "asyncio tasks can be read on CPython 3.14+ only (this is %s%s)", t->version,
		 t->free_threaded ? ", free-threaded" : "");
	return false;
}

static void open_reader(struct reader *r, pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao)
{
	memset(r, 0, sizeof(*r));
	py_mem_open(&r->mem, pid);
	r->t = t;
	r->a = &t->async;
	r->ao = ao;
}

static int read_thread_tasks(struct reader *r, uint64_t ts, struct py_task_list *out, size_t *cap)
{
	const struct py_offsets *o = &r->t->proc.off;
	uint64_t loop = 0, running = 0;
	uint32_t tid = 0;

	if (o->ts_native_thread_id != PY_OFF_NONE && rd(r, ts + o->ts_native_thread_id, &tid, sizeof(tid)) < 0)
		return -1;
	if (rd_u64(r, ts + r->ao->ts_running_loop, &loop) < 0)
		return -1;
	if (loop && rd_u64(r, ts + r->ao->ts_running_task, &running) < 0)
		return -1;
	return read_list(r, ts + r->ao->ts_tasks_head, ts, tid, running, out, cap);
}

/* Every task of every thread and interpreter through r. Returns 0 or -1. */
static int read_all_tasks(struct reader *r, struct py_task_list *out)
{
	const struct py_offsets *o = &r->t->proc.off;
	uint64_t interp = 0;
	size_t cap = 0;
	int rc = 0;

	if (rd_u64(r, r->t->proc.runtime_addr + o->rt_interpreters_head, &interp) < 0)
		rc = -1;
	for (int ni = 0; rc == 0 && interp && ni < MAX_INTERPRETERS; ni++) {
		uint64_t ts = 0, back;

		if (rd_u64(r, interp + o->interp_threads_head, &ts) < 0)
			rc = -1;
		for (int nt = 0; rc == 0 && ts && nt < MAX_THREADS; nt++) {
			/* a thread state that does not point back was freed under us */
			if (rd_u64(r, ts + o->ts_interp, &back) < 0 || back != interp ||
			    read_thread_tasks(r, ts, out, &cap) < 0 || rd_u64(r, ts + o->ts_next, &ts) < 0)
				rc = -1;
		}
		if (rc == 0)
			rc = read_list(r, interp + r->ao->interp_tasks_head, 0, 0, 0, out, &cap);
		if (rc == 0 && rd_u64(r, interp + o->interp_next, &interp) < 0)
			rc = -1;
	}
	if (rc < 0)
		py_task_list_free(out);
	return rc;
}

int py_asyncio_read_tasks(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			  struct py_task_list *out, char *err, size_t errlen)
{
	struct reader r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!asyncio_layout(t, err, errlen))
		return -1;
	open_reader(&r, pid, t, ao);
	rc = read_all_tasks(&r, out);
	py_mem_close(&r.mem);
	if (rc < 0)
		snprintf(err, errlen, "cannot read the asyncio tasks of PID %d (it exited, or its tasks kept changing)",
			 pid);
	return rc;
}

int py_asyncio_read_tasks_from(const struct py_async_source *src, const struct py_target *t,
			       const struct py_asyncio_offsets *ao, struct py_task_list *out, char *err, size_t errlen)
{
	struct reader r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!asyncio_layout(t, err, errlen))
		return -1;
	/* no process: strings (task names given as str) are not read; int names are */
	open_reader(&r, 0, t, ao);
	r.src = src;
	rc = read_all_tasks(&r, out);
	py_mem_close(&r.mem);
	if (rc < 0)
		snprintf(err, errlen, "cannot read the asyncio tasks (unreadable or inconsistent memory)");
	return rc;
}

void py_task_list_free(struct py_task_list *l)
{
	free(l->tasks);
	memset(l, 0, sizeof(*l));
}

int py_asyncio_read_task(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao, uint64_t addr,
			 struct py_task *out)
{
	struct reader r;
	char err[128];
	int rc;

	if (!asyncio_layout(t, err, sizeof(err)) || !addr)
		return -1;
	open_reader(&r, pid, t, ao);
	rc = read_task(&r, addr, out);
	py_mem_close(&r.mem);
	return rc;
}

int py_asyncio_running_task(pid_t pid, const struct py_asyncio_offsets *ao, uint64_t tstate, uint64_t *task)
{
	struct py_mem mem;
	uint64_t loop = 0;
	int rc = 0;

	*task = 0;
	py_mem_open(&mem, pid);
	if (py_mem_read_u64(&mem, tstate + ao->ts_running_loop, &loop) < 0 ||
	    (loop && py_mem_read_u64(&mem, tstate + ao->ts_running_task, task) < 0))
		rc = -1;
	py_mem_close(&mem);
	return rc;
}

const char *py_task_state_name(enum py_task_state s)
{
	switch (s) {
	case PY_TASK_NOT_STARTED:
		return "not started";
	case PY_TASK_SUSPENDED:
		return "suspended";
	case PY_TASK_RUNNING:
		return "running";
	case PY_TASK_DONE:
		return "done";
	}
	return "?";
}

/* ---- a sample's stack as asyncio sees it -------------------------------- */

static bool push_item(struct py_async_item *out, size_t max, size_t *n, const struct py_frame_rec *rec,
		      const char *task_name)
{
	if (*n == max)
		return false;
	out[*n].is_task = task_name != NULL;
	if (rec)
		out[*n].rec = *rec;
	if (task_name)
		snprintf(out[*n].task_name, sizeof(out[*n].task_name), "%s", task_name);
	(*n)++;
	return true;
}

/* The first task awaiting this one that is itself suspended in an await (a set's dummy slot is not). */
static bool awaiting_task(struct reader *r, const struct py_task *task, struct py_task *parent)
{
	for (size_t k = 0; k < task->nawaited_by; k++)
		if (read_task(r, task->awaited_by[k], parent) == 0 && parent->state == PY_TASK_SUSPENDED)
			return true;
	return false;
}

/*
 * Appends task's marker, then each task awaiting it in turn (its chain and
 * its marker) up to a task nobody awaits. task is overwritten; spare is
 * scratch for one task.
 */
static void append_task_and_awaiters(struct reader *r, struct py_task *task, struct py_task *spare,
				     struct py_async_item *out, size_t max, size_t *count)
{
	uint64_t seen[PY_ASYNC_MAX_TASK_LEVELS];

	for (size_t level = 0;; level++) {
		if (!push_item(out, max, count, NULL, task->name) || level == PY_ASYNC_MAX_TASK_LEVELS)
			return;
		seen[level] = task->addr;
		if (!awaiting_task(r, task, spare))
			return;
		/* a task awaiting itself through others: stop where the cycle closes */
		for (size_t i = 0; i <= level; i++)
			if (seen[i] == spare->addr)
				return;
		for (size_t i = 0; i < spare->nframes; i++)
			if (!push_item(out, max, count, &spare->frames[i], NULL))
				return;
		memcpy(task, spare, sizeof(*task));
	}
}

size_t py_asyncio_sample_stack(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			       struct py_async_cache *cache, uint64_t task_addr, const struct py_frame_rec *py, size_t n,
			       struct py_async_item *out, size_t max)
{
	struct reader r;
	struct py_task *task = malloc(2 * sizeof(*task));
	size_t count = 0, own = n;
	char err[128];

	if (!task || !task_addr || !asyncio_layout(t, err, sizeof(err))) {
		free(task);
		return 0;
	}
	open_reader(&r, pid, t, ao);
	r.cache = cache;
	if (read_task(&r, task_addr, task) < 0 || task->nframes == 0)
		goto out;
	/* the running coroutine's frame is the chain's outermost; the outermost frame with its code on the stack */
	for (size_t k = n; k-- > 0;)
		if (py[k].code == task->frames[task->nframes - 1].code) {
			own = k;
			break;
		}
	if (own == n)
		goto out;
	for (size_t k = 0; k <= own; k++)
		if (!(py[k].flags & PYF_SHIM) && !push_item(out, max, &count, &py[k], NULL))
			goto out;
	append_task_and_awaiters(&r, task, task + 1, out, max, &count);
out:
	py_mem_close(&r.mem);
	free(task);
	return count;
}

static bool awaits_no_task(const struct py_task_list *l, uint64_t addr)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < l->tasks[i].nawaited_by; k++)
			if (l->tasks[i].awaited_by[k] == addr)
				return false;
	return true;
}

int py_asyncio_waiting_stacks(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			      struct py_async_cache *cache, uint64_t tstate, struct py_async_item *items, size_t max,
			      py_async_stack_cb cb, void *arg)
{
	struct reader r;
	struct py_task_list l = { 0 };
	struct py_task *task = malloc(2 * sizeof(*task));
	size_t cap = 0, stacks = 0;
	uint64_t loop = 0, running = 0;
	char err[128];
	int rc = -1;

	if (!task || !asyncio_layout(t, err, sizeof(err))) {
		free(task);
		return -1;
	}
	open_reader(&r, pid, t, ao);
	r.cache = cache;
	/* only a thread whose event loop waits: no loop, or a task running, is no idle loop */
	if (rd_u64(&r, tstate + ao->ts_running_loop, &loop) < 0 || !loop ||
	    rd_u64(&r, tstate + ao->ts_running_task, &running) < 0 || running)
		goto out;
	if (read_list(&r, tstate + ao->ts_tasks_head, tstate, 0, 0, &l, &cap) < 0)
		goto out;
	rc = 0;
	for (size_t i = 0; i < l.n && stacks < PY_ASYNC_MAX_WAITING; i++) {
		size_t count = 0;

		/* a task waiting for other tasks is where they hang, not a place of its own */
		if (l.tasks[i].state != PY_TASK_SUSPENDED || !awaits_no_task(&l, l.tasks[i].addr))
			continue;
		memcpy(task, &l.tasks[i], sizeof(*task));
		for (size_t k = 0; k < task->nframes; k++)
			if (!push_item(items, max, &count, &task->frames[k], NULL))
				break;
		append_task_and_awaiters(&r, task, task + 1, items, max, &count);
		stacks++;
		if (cb(items, count, arg) != 0)
			break;
	}
	rc = (int)stacks;
out:
	py_task_list_free(&l);
	py_mem_close(&r.mem);
	free(task);
	return rc;
}
