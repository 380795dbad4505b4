// SPDX-License-Identifier: MIT
#include "recorder/process_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/sampler.h"
#include "native/kernel_unwind.h"
#include "util/u32map.h"

struct process_table {
	struct elf_cache *elf;
	struct sampler *sampler;
	struct kernel_unwind *kunwind;
	struct u32map procs; /* pid -> struct target_process */
	size_t seen, python;
	bool python_tables_on_demand; /* a Python process's tables wait for a sample without Python frames */
	uint32_t *tables_queue; /* pids whose tables to (re)install, oldest first */
	size_t tables_head, tables_count, tables_cap;
};

struct process_table *process_table_new(struct elf_cache *elf)
{
	struct process_table *pt = calloc(1, sizeof(*pt));
	if (pt)
		pt->elf = elf;
	return pt;
}

void process_table_free(struct process_table *pt)
{
	if (!pt)
		return;
	u32map_free_with(&pt->procs, (void (*)(void *))target_process_free);
	free(pt->tables_queue);
	free(pt);
}

void process_table_connect(struct process_table *pt, struct sampler *s, struct kernel_unwind *ku)
{
	pt->sampler = s;
	pt->kunwind = ku;
}

bool process_table_has_threading(const struct process_table *pt)
{
	for (size_t i = 0; i < pt->procs.cap; i++) {
		const struct target_process *p = pt->procs.keys && pt->procs.keys[i] ? pt->procs.vals[i] : NULL;
		/* or threads that may be gone by the next wake-up without it: their names must be read now */
		if (p && p->python == PYTHON_YES && (p->names_memo.threading.found || (p->other_threads_seen && p->names_waiting)))
			return true;
	}
	return false;
}

struct target_process *process_table_find(const struct process_table *pt, uint32_t pid)
{
	return u32map_get(&pt->procs, pid);
}

size_t process_table_seen(const struct process_table *pt)
{
	return pt->seen;
}

size_t process_table_python_count(const struct process_table *pt)
{
	return pt->python;
}

struct target_process *process_table_next(const struct process_table *pt, size_t *cursor)
{
	while (*cursor < pt->procs.cap) {
		size_t i = (*cursor)++;
		if (pt->procs.keys[i])
			return pt->procs.vals[i];
	}
	return NULL;
}

void process_table_install_python(struct process_table *pt, struct target_process *p)
{
	if (!pt->sampler)
		return;
	if (p->python == PYTHON_YES) {
		sampler_set_pending(pt->sampler, p->pid, false);
		sampler_set_python(pt->sampler, p->pid, &p->py.proc);
	} else if (p->python == PYTHON_PENDING) {
		sampler_set_pending(pt->sampler, p->pid, true);
	}
}

/*
 * Queues giving the in-kernel unwinder the process's current mappings and
 * their tables. Done from the ring-buffer callback, building them would hold
 * back the exec and mmap records behind them, and a short-lived process would
 * be gone before we read it; until they are installed the kernel falls back
 * to stack copies.
 */
static void queue_unwind_tables(struct process_table *pt, struct target_process *p)
{
	if (!pt->kunwind || !p || p->tables_queued)
		return;
	if (pt->python_tables_on_demand && p->tables_on_demand && p->python == PYTHON_YES && !p->tables_wanted)
		return;
	if (pt->tables_head + pt->tables_count == pt->tables_cap) {
		if (pt->tables_head) { /* reuse the consumed front */
			memmove(pt->tables_queue, pt->tables_queue + pt->tables_head, pt->tables_count * sizeof(uint32_t));
			pt->tables_head = 0;
		} else {
			size_t cap = pt->tables_cap ? 2 * pt->tables_cap : 64;
			uint32_t *grown = realloc(pt->tables_queue, cap * sizeof(uint32_t));
			if (!grown)
				return;
			pt->tables_queue = grown;
			pt->tables_cap = cap;
		}
	}
	pt->tables_queue[pt->tables_head + pt->tables_count++] = (uint32_t)p->pid;
	p->tables_queued = true;
}

size_t process_table_install_queued_tables(struct process_table *pt, size_t max_processes)
{
	for (size_t done = 0; pt->tables_count && done < max_processes; done++) {
		uint32_t pid = pt->tables_queue[pt->tables_head++];
		pt->tables_count--;
		struct target_process *p = u32map_get(&pt->procs, pid);
		if (!p || !p->tables_queued)
			continue;
		p->tables_queued = false;
		if (!p->maps)
			target_process_refresh_maps(p);
		if (p->maps)
			kernel_unwind_install(pt->kunwind, p->pid, p->maps);
	}
	if (!pt->tables_count)
		pt->tables_head = 0;
	return pt->tables_count;
}

void process_table_defer_python_tables(struct process_table *pt, bool on_demand)
{
	pt->python_tables_on_demand = on_demand;
}

void process_table_native_stack_needed(struct process_table *pt, struct target_process *p)
{
	if (!pt->python_tables_on_demand || !p || !p->tables_on_demand || p->python != PYTHON_YES || p->tables_wanted)
		return;
	p->tables_wanted = true;
	queue_unwind_tables(pt, p);
}

void process_table_table_missed(struct process_table *pt, struct target_process *p, uint64_t stop_pc)
{
	if (!pt->kunwind || !p)
		return;
	bool stale = target_process_refresh_stale_maps(p);
	bool wanted = kernel_unwind_want(pt->kunwind, p->pid, p->maps, stop_pc);
	if (stale || wanted)
		queue_unwind_tables(pt, p);
}

bool process_table_detect(struct process_table *pt, struct target_process *p)
{
	bool was_python = p->python == PYTHON_YES;
	target_process_detect_python(p, pt->elf);
	process_table_install_python(pt, p);
	if (p->python == PYTHON_PENDING) {
		/* libpython may have been mapped between our read of the maps and arming the mmap hook */
		target_process_refresh_maps(p);
		target_process_detect_python(p, pt->elf);
		process_table_install_python(pt, p);
	}
	if (p->python == PYTHON_YES && !was_python) {
		pt->python++;
		return true;
	}
	return false;
}

struct target_process *process_table_get(struct process_table *pt, pid_t pid, const char *comm, bool ran_before,
					 bool *became_python)
{
	struct target_process *p = u32map_get(&pt->procs, (uint32_t)pid);
	if (became_python)
		*became_python = false;
	if (p)
		return p;
	p = target_process_new(pid, comm);
	if (!p || u32map_put(&pt->procs, (uint32_t)pid, p) != 0) {
		target_process_free(p);
		return NULL;
	}
	pt->seen++;
	p->tables_on_demand = ran_before; /* before queue_unwind_tables, which reads it */
	bool now_python = process_table_detect(pt, p);
	if (became_python)
		*became_python = now_python;
	queue_unwind_tables(pt, p);
	return p;
}

bool process_table_on_exec(struct process_table *pt, const struct bpfspy_proc_event *e)
{
	struct target_process *p = u32map_get(&pt->procs, e->pid);
	bool became_python = false;
	if (!p) {
		process_table_get(pt, (pid_t)e->pid, e->comm, false, &became_python);
		return became_python;
	}
	snprintf(p->comm, sizeof(p->comm), "%s", e->comm);
	/*
	 * A sample of the new image, ahead of this record in the ring buffer
	 * (taken inside execve), may have made us read the maps after the exec
	 * already: they are the new image's, and re-reading now could find the
	 * process gone and forget that it is Python. But that read did not look
	 * for Python: what the old image was (a shell: not Python) must not stay.
	 */
	bool maps_of_new_image = p->maps_read_ns > e->ts_ns;
	if (maps_of_new_image && p->python == PYTHON_YES)
		return false;
	if (p->python == PYTHON_YES && pt->python)
		pt->python--;
	if (maps_of_new_image)
		target_process_forget_python(p);
	else
		target_process_reset(p);
	/* a new image, started during the session: its tables from the start, as for a launched command */
	p->tables_on_demand = false;
	p->tables_wanted = false;
	if (pt->sampler)
		sampler_set_pending(pt->sampler, p->pid, false);
	became_python = process_table_detect(pt, p);
	queue_unwind_tables(pt, p);
	return became_python;
}

bool process_table_on_fork(struct process_table *pt, const struct bpfspy_proc_event *e)
{
	struct target_process *parent = u32map_get(&pt->procs, e->ppid);
	bool became_python = false;
	if (u32map_get(&pt->procs, e->pid))
		return false;
	struct target_process *child = target_process_new((pid_t)e->pid, parent ? parent->comm : e->comm);
	if (!child || u32map_put(&pt->procs, e->pid, child) != 0) {
		target_process_free(child);
		return false;
	}
	pt->seen++;
	if (parent) {
		target_process_inherit_maps(child, parent);
		child->tables_on_demand = parent->tables_on_demand; /* the same image */
	}
	if (parent && parent->python == PYTHON_YES) {
		target_process_inherit_python(child, parent);
		pt->python++;
		process_table_install_python(pt, child);
	} else {
		became_python = process_table_detect(pt, child);
	}
	queue_unwind_tables(pt, child);
	return became_python;
}

bool process_table_on_mmap_exec(struct process_table *pt, const struct bpfspy_proc_event *e)
{
	struct target_process *p = u32map_get(&pt->procs, e->pid);
	bool became_python = false;
	if (!p || (p->python != PYTHON_PENDING && !pt->kunwind))
		return false;
	target_process_refresh_maps(p);
	if (p->python == PYTHON_PENDING)
		became_python = process_table_detect(pt, p);
	queue_unwind_tables(pt, p);
	return became_python;
}

/*
 * A host with churning processes must not keep their maps, symbolizers and
 * open /proc/PID/mem files until the end.
 */
void process_table_on_exit(struct process_table *pt, uint32_t pid)
{
	kernel_unwind_forget(pt->kunwind, (pid_t)pid);
	struct target_process *p = u32map_remove(&pt->procs, pid);
	if (!p)
		return;
	if (pt->sampler && p->python == PYTHON_PENDING)
		sampler_set_pending(pt->sampler, p->pid, false);
	target_process_free(p);
}
