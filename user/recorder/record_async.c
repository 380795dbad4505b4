// SPDX-License-Identifier: MIT
/* record --async-aware: see record_async.h. */
#include "recorder/record_async.h"

#include <stdlib.h>
#include <string.h>

#include "process/target_process.h"
#include "util/log.h"
#include "util/u32map.h"

/* How often a Python process without _asyncio loaded yet is looked at again. */
#define RETRY_NS 200000000ull
/* Items of one async-aware stack: the walker's depth, plus a task marker per level. */
#define MAX_ITEMS (BPFSPY_MAX_PY_DEPTH + PY_ASYNC_MAX_TASK_LEVELS + 1)

struct async_proc {
	uint64_t runtime_addr; /* the Python it was found for: a new image (exec) looks again */
	uint64_t next_try_ns;
	bool found;
	bool warned;          /* told once that this Python has no readable tasks */
	struct py_asyncio_offsets ao;
	struct py_async_cache *cache;
};

struct record_async {
	struct u32map procs; /* pid -> struct async_proc */
	struct py_async_item *items;
	unsigned long long stacks, missed;
};

struct record_async *record_async_new(void)
{
	struct record_async *a = calloc(1, sizeof(*a));

	if (a && !(a->items = calloc(MAX_ITEMS, sizeof(*a->items)))) {
		free(a);
		return NULL;
	}
	return a;
}

void record_async_free(struct record_async *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->procs.cap; i++)
		if (a->procs.keys && a->procs.keys[i]) {
			py_async_cache_free(((struct async_proc *)a->procs.vals[i])->cache);
			free(a->procs.vals[i]);
		}
	u32map_free(&a->procs);
	free(a->items);
	free(a);
}

static struct async_proc *proc_state(struct record_async *a, const struct target_process *p)
{
	struct async_proc *ap = u32map_get(&a->procs, (uint32_t)p->pid);

	if (!ap) {
		ap = calloc(1, sizeof(*ap));
		if (!ap || u32map_put(&a->procs, (uint32_t)p->pid, ap) != 0) {
			free(ap);
			return NULL;
		}
	}
	if (ap->runtime_addr != p->py.proc.runtime_addr) {
		py_async_cache_free(ap->cache);
		memset(ap, 0, sizeof(*ap));
		ap->runtime_addr = p->py.proc.runtime_addr;
		ap->cache = py_async_cache_new(); /* NULL only costs speed */
	}
	return ap;
}

bool record_async_prepare(struct record_async *a, struct target_process *p, struct elf_cache *cache)
{
	struct async_proc *ap;
	uint64_t now;
	char err[256];

	if (p->python != PYTHON_YES || !(ap = proc_state(a, p)))
		return false;
	if (!p->py.async.known || p->py.free_threaded) {
		if (!ap->warned)
			log_warn("--async-aware: PID %d (%s) runs Python %s%s; asyncio tasks are read on CPython 3.14+ "
				 "(not free-threaded): its stacks stay as sampled", p->pid, p->comm, p->py.version,
				 p->py.free_threaded ? " free-threaded" : "");
		ap->warned = true;
		return false;
	}
	if (!ap->found) {
		now = monotonic_ns();
		if (now < ap->next_try_ns)
			return false;
		ap->next_try_ns = now + RETRY_NS;
		/* _asyncio (a shared object on 3.14) is mapped when asyncio is first imported */
		target_process_refresh_maps(p);
		if (py_asyncio_find_offsets(p->pid, p->maps, cache, &ap->ao, err, sizeof(err)) != 0)
			return false; /* not imported yet (looked at again later), or an implausible section */
		ap->found = true;
	}
	if (p->py.proc.off.ts_asyncio_task == ap->ao.ts_running_task)
		return false;
	p->py.proc.off.ts_asyncio_task = (uint16_t)ap->ao.ts_running_task;
	return true;
}

const struct py_async_item *record_async_stack(struct record_async *a, struct target_process *p,
					       const struct bpfspy_sample *s, const struct py_frame_rec *py,
					       size_t *n)
{
	struct async_proc *ap;

	*n = 0;
	if (!s->asyncio_task || !(ap = u32map_get(&a->procs, (uint32_t)p->pid)) || !ap->found)
		return NULL;
	*n = py_asyncio_sample_stack(p->pid, &p->py, &ap->ao, ap->cache, s->asyncio_task, py, s->n_py, a->items, MAX_ITEMS);
	if (*n)
		a->stacks++;
	else
		a->missed++;
	return a->items;
}

size_t record_async_waiting(struct record_async *a, struct target_process *p, const struct bpfspy_sample *s,
			    py_async_stack_cb cb, void *arg)
{
	struct async_proc *ap;
	int n;

	if (s->asyncio_task || !s->tstate || !(ap = u32map_get(&a->procs, (uint32_t)p->pid)) || !ap->found)
		return 0;
	n = py_asyncio_waiting_stacks(p->pid, &p->py, &ap->ao, ap->cache, s->tstate, a->items, MAX_ITEMS, cb, arg);
	return n > 0 ? (size_t)n : 0;
}

void record_async_counts(const struct record_async *a, unsigned long long *stacks, unsigned long long *missed)
{
	*stacks = a ? a->stacks : 0;
	*missed = a ? a->missed : 0;
}
