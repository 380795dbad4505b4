// SPDX-License-Identifier: MIT
#include "process/target_process.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/log.h"
#include "util/procfs.h"

/* A few hundred ms of samples: longer than any interpreter takes to initialise. */
#define MAX_PENDING_CHECKS 200

uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct target_process *target_process_new(pid_t pid, const char *comm)
{
	struct target_process *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	target_process_refresh_maps(p);
	return p;
}

static void drop_python(struct target_process *p)
{
	py_symbolizer_free(p->pysym);
	p->pysym = NULL;
	p->python = PYTHON_UNKNOWN;
	p->pending_checks = 0;
	memset(&p->py, 0, sizeof(p->py));
	free(p->thread_names);
	p->thread_names = NULL;
	p->nthread_names = 0;
	memset(&p->names_memo, 0, sizeof(p->names_memo));
	p->thread_names_read_ns = p->thread_names_ok_ns = 0;
	p->names_waiting = p->names_lookups = 0;
	p->names_next_lookup_ns = 0;
}

int target_process_read_thread_names(struct target_process *p, struct py_thread_name *scratch, size_t max)
{
	size_t n = 0;
	p->thread_names_read_ns = monotonic_ns();
	if (p->python != PYTHON_YES || py_read_thread_names(p->pid, &p->py, &p->names_memo, scratch, max, &n) != 0)
		return -1;
	struct py_thread_name *names = n ? malloc(n * sizeof(*names)) : NULL;
	if (n && !names)
		return -1;
	if (n)
		memcpy(names, scratch, n * sizeof(*names));
	free(p->thread_names);
	p->thread_names = names;
	p->nthread_names = n;
	p->thread_names_ok_ns = p->thread_names_read_ns;
	return 0;
}

const char *target_process_thread_name(const struct target_process *p, uint64_t ident, uint32_t native_id)
{
	/* an ident (pthread_t) is reused by later threads: a known native id must agree */
	for (size_t i = 0; ident && i < p->nthread_names; i++)
		if (p->thread_names[i].ident == ident &&
		    (!native_id || !p->thread_names[i].native_id || p->thread_names[i].native_id == native_id))
			return p->thread_names[i].name;
	for (size_t i = 0; !ident && native_id && i < p->nthread_names; i++)
		if (p->thread_names[i].native_id == native_id)
			return p->thread_names[i].name;
	return NULL;
}

const char *target_process_thread_name_by_native_id(const struct target_process *p, uint64_t ident,
						    uint32_t native_id)
{
	for (size_t i = 0; native_id && i < p->nthread_names; i++)
		if (p->thread_names[i].native_id == native_id && (!ident || p->thread_names[i].ident == ident))
			return p->thread_names[i].name;
	return NULL;
}

uint32_t target_process_ns_tid(pid_t pid, pid_t tid)
{
	char path[96], nspid[128];
	struct stat a, b;
	procfs_path(path, sizeof(path), pid, 0, "ns/pid");
	if (stat(path, &a) == 0 && stat("/proc/self/ns/pid", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return (uint32_t)tid;
	/* another PID namespace: the last NSpid field is the TID the process itself sees */
	if (procfs_status_field(pid, tid, "NSpid", nspid, sizeof(nspid)) != 0)
		return 0;
	const char *last = strrchr(nspid, '\t');
	return (uint32_t)strtoul(last ? last + 1 : nspid, NULL, 10);
}

void target_process_free(struct target_process *p)
{
	if (!p)
		return;
	drop_python(p);
	proc_maps_free(p->maps);
	free(p);
}

void target_process_refresh_maps(struct target_process *p)
{
	struct proc_maps *m = proc_maps_read(p->pid);
	p->maps_read_ns = monotonic_ns();
	/* an exited process (a zombie until reaped) has no mappings: its samples still need the last ones */
	if (!m || (m->n == 0 && p->maps)) {
		proc_maps_free(m);
		return;
	}
	proc_maps_free(p->maps);
	p->maps = m;
}

#define MAPS_REFRESH_MIN_NS 2000000ull

bool target_process_maps_may_refresh(const struct target_process *p)
{
	return monotonic_ns() - p->maps_read_ns > MAPS_REFRESH_MIN_NS;
}

bool target_process_refresh_stale_maps(struct target_process *p)
{
	if (!target_process_maps_may_refresh(p))
		return false;
	target_process_refresh_maps(p);
	return true;
}

bool target_process_detect_python(struct target_process *p, struct elf_cache *cache)
{
	if (!p->maps || p->python == PYTHON_YES)
		return false;
	struct py_target t;
	memset(&t, 0, sizeof(t));
	switch (py_detect(p->pid, p->maps, cache, &t)) {
	case PY_DETECT_PYTHON:
		p->py = t;
		p->pysym = py_symbolizer_new(p->pid, &p->py);
		p->python = PYTHON_YES;
		log_debug("pid %d: Python %s, _PyRuntime at 0x%llx in %s", p->pid, t.version,
			  (unsigned long long)t.proc.runtime_addr, t.runtime_module);
		return true;
	case PY_DETECT_PENDING:
		/* libpython not mapped yet, or the interpreter mid-initialisation: bounded retries */
		if (++p->pending_checks > MAX_PENDING_CHECKS && t.warning[0]) {
			p->python = PYTHON_UNSUPPORTED;
			if (!p->warned)
				log_warn("pid %d (%s): %s; recording native frames only", p->pid, p->comm, t.warning);
			p->warned = true;
			return false;
		}
		p->python = PYTHON_PENDING;
		return false;
	case PY_DETECT_UNSUPPORTED:
		p->python = PYTHON_UNSUPPORTED;
		if (!p->warned)
			log_warn("pid %d (%s): %s; recording native frames only", p->pid, p->comm, t.warning);
		p->warned = true;
		return false;
	case PY_DETECT_NOT_PYTHON:
	default:
		p->python = PYTHON_NO;
		return false;
	}
}

void target_process_inherit_python(struct target_process *child, const struct target_process *parent)
{
	if (parent->python != PYTHON_YES)
		return;
	child->py = parent->py;
	child->pysym = py_symbolizer_new(child->pid, &child->py);
	child->python = PYTHON_YES;
}

void target_process_inherit_maps(struct target_process *child, const struct target_process *parent)
{
	struct proc_maps *copy = parent->maps ? proc_maps_copy(parent->maps) : NULL;
	if (!copy)
		return;
	proc_maps_free(child->maps);
	child->maps = copy;
	child->maps_read_ns = 0; /* not read from this process: an exec record after this one resets it */
}

void target_process_reset(struct target_process *p)
{
	drop_python(p);
	target_process_refresh_maps(p);
}

void target_process_forget_python(struct target_process *p)
{
	drop_python(p);
}
