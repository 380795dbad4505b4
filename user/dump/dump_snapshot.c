// SPDX-License-Identifier: MIT
/* Takes a dump snapshot: walk the thread states, name frames, match OS threads. */
#include "python/py_method_symbols.h"
#include "dump/dump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump/dump_fsbase.h"
#include "dump/dump_native.h"
#include "native/native_mode.h"
#include "python/py_memory.h"
#include "process/target_process.h"
#include "process/thread_reader.h"
#include "util/log.h"
#include "util/procfs.h"

/* A walk of the thread list can race with a thread starting or exiting: retry a few times. */
#define WALK_ATTEMPTS 20
/* Reads of one thread's frame chain before it is shown as changing (two per attempt, 75 us apart). */
#define STACK_READS 80
#define MAX_DUMP_THREADS 4096

static int walk_with_retries(pid_t pid, const struct py_target *t, struct py_thread_set *w)
{
	for (int attempt = 0; attempt < WALK_ATTEMPTS; attempt++) {
		py_thread_set_clear(w);
		if (py_walk_thread_stacks_consistent(pid, t, BPFSPY_MAX_PY_DEPTH, STACK_READS, py_thread_set_keep, w) == 0)
			return 0;
	}
	py_thread_set_clear(w);
	return -1;
}

/* ---- naming frames ------------------------------------------------------ */

/* Most locals shown per frame. */
#define MAX_LOCALS 256

static int read_locals(struct target_process *p, const struct py_frame_rec *rec, uint64_t addr, struct dump_frame *f)
{
	struct py_local *l = calloc(MAX_LOCALS, sizeof(*l));
	int n;

	if (!l)
		return -1;
	n = py_frame_locals(p->pid, &p->py, addr, rec->code, l, MAX_LOCALS);
	if (n <= 0) {
		free(l);
		f->locals_unreadable = n < 0;
		return 0;
	}
	f->locals = l;
	f->nlocals = (size_t)n;
	return 0;
}

int dump_frame_from_record(struct target_process *p, const struct py_frame_rec *rec, struct dump_frame *f)
{
	struct py_code_info info;
	int line = 0;
	if (p->pysym && py_symbolize(p->pysym, rec->code, rec->sig, py_lasti_widen(rec->lasti), &info, &line) == 0) {
		f->name = strdup(info.qualname ? info.qualname : info.name);
		f->file = info.filename ? strdup(info.filename) : NULL;
		f->line = line;
	} else {
		f->name = strdup("<unknown>");
	}
	return f->name ? 0 : -1;
}

static int name_frames(struct target_process *p, const struct py_thread_frames *raw, bool locals, struct dump_thread *out)
{
	out->frames = calloc(raw->n ? raw->n : 1, sizeof(*out->frames));
	if (!out->frames)
		return -1;
	/* the walker reports innermost first; a traceback lists it last */
	for (size_t i = raw->n; i-- > 0;) {
		const struct py_frame_rec *rec = &raw->frames[i];
		if (rec->flags & PYF_SHIM)
			continue;
		struct dump_frame *f = &out->frames[out->nframes];
		if (dump_frame_from_record(p, rec, f) != 0)
			return -1;
		out->nframes++;
		if (locals && read_locals(p, rec, raw->addrs[i], f) != 0)
			return -1;
	}
	out->truncated = raw->truncated;
	out->changing = raw->changing;
	return 0;
}

/* ---- OS threads --------------------------------------------------------- */

static bool thread_exists(pid_t pid, pid_t tid)
{
	return procfs_state(pid, tid) != 0;
}

/*
 * The main thread is "MainThread" as in threading; other threads carry the
 * OS name when it differs from the process name (Python 3.14+ names OS
 * threads after threading.Thread.name, truncated to 15 bytes).
 */
static void thread_name(pid_t pid, pid_t tid, const char *process_comm, char *out, size_t len)
{
	char comm[64];
	out[0] = '\0';
	if (tid == pid) {
		snprintf(out, len, "MainThread");
		return;
	}
	procfs_comm(pid, tid, comm, sizeof(comm));
	if (comm[0] && strcmp(comm, process_comm) != 0)
		snprintf(out, len, "%s", comm);
}

/* Before 3.11 a thread state only knows pthread_self(): look it up among the threads' fs_base. */
static pid_t tid_from_fsbase(const struct thread_fsbase *fs, size_t nfs, uint64_t thread_id)
{
	for (size_t i = 0; i < nfs; i++)
		if (thread_id && fs[i].fsbase == thread_id)
			return fs[i].tid;
	return 0;
}

static bool needs_fsbase(const struct py_thread_set *w, pid_t pid)
{
	for (size_t i = 0; i < w->n; i++)
		if (!w->threads[i].native_thread_id || !thread_exists(pid, (pid_t)w->threads[i].native_thread_id))
			return true;
	return false;
}

static void match_os_threads(pid_t pid, const struct py_thread_set *w, struct dump_thread *out)
{
	struct thread_fsbase *fs = NULL;
	size_t nfs = 0;
	if (needs_fsbase(w, pid)) {
		char err[256];
		fs = calloc(MAX_DUMP_THREADS, sizeof(*fs));
		if (fs && dump_read_fsbases(pid, fs, MAX_DUMP_THREADS, &nfs, err, sizeof(err)) != 0)
			log_warn("%s; threads are shown by Python thread id", err);
	}
	for (size_t i = 0; i < w->n; i++) {
		const struct py_thread_frames *r = &w->threads[i];
		pid_t tid = (pid_t)r->native_thread_id;
		if (!tid || !thread_exists(pid, tid))
			tid = tid_from_fsbase(fs, nfs, r->thread_id);
		out[i].tid = tid;
		out[i].thread_id = r->thread_id;
	}
	free(fs);
}

/* ---- the GIL ------------------------------------------------------------ */

static bool read_gil_holder(pid_t pid, const struct py_target *t, uint64_t *holder)
{
	const struct py_proc *py = &t->proc;
	struct py_mem mem;
	int32_t locked = 0;
	bool ok = false;
	*holder = 0;
	if (!py->gil_addr)
		return false;
	py_mem_open(&mem, pid);
	if (py_mem_read(&mem, py->gil_addr + py->off.gil_locked, &locked, sizeof(locked)) == 0) {
		ok = !locked || py_mem_read_u64(&mem, py->gil_addr + py->off.gil_last_holder, holder) == 0;
		if (!locked)
			*holder = 0;
	}
	py_mem_close(&mem);
	return ok;
}

/* ---- the snapshot ------------------------------------------------------- */

static int thread_order(const void *a, const void *b)
{
	const struct dump_thread *x = a, *y = b;
	/* unmatched threads (tid 0) last */
	uint32_t kx = x->tid ? (uint32_t)x->tid : UINT32_MAX, ky = y->tid ? (uint32_t)y->tid : UINT32_MAX;
	return kx < ky ? -1 : kx > ky;
}

static int detect(struct target_process *p, struct elf_cache *cache, char *err, size_t errlen)
{
	target_process_detect_python(p, cache);
	switch (p->python) {
	case PYTHON_YES:
		return 0;
	case PYTHON_UNSUPPORTED:
		snprintf(err, errlen, "PID %d (%s): %s", p->pid, p->comm,
			 p->py.warning[0] ? p->py.warning : "this Python cannot be read");
		return -1;
	default:
		snprintf(err, errlen, "PID %d (%s) is not a Python process (no _PyRuntime in it or its libpython)",
			 p->pid, p->comm);
		return -1;
	}
}

/* --native: each thread's native stack, merged with its Python frames, in place of those alone. */
static void add_native_stacks(struct target_process *p, struct elf_cache *cache, const struct py_thread_set *w,
			      struct dump_snapshot *s)
{
	struct thread_fsbase *regs = calloc(MAX_DUMP_THREADS, sizeof(*regs));
	struct native_mode *m = native_mode_new(cache, false);
	size_t nregs = 0;
	char err[256];

	if (!regs || !m || dump_read_fsbases(p->pid, regs, MAX_DUMP_THREADS, &nregs, err, sizeof(err)) != 0) {
		log_warn("dump --native: %s; showing Python frames only", regs && m ? err : "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct dump_thread *t = &s->threads[i];
		const struct thread_fsbase *r = NULL;

		for (size_t k = 0; t->tid && k < nregs && !r; k++)
			if (regs[k].tid == t->tid)
				r = &regs[k];
		if (t->changing)
			continue; /* no stack a second read confirmed: nothing to merge into */
		if (!r)
			t->native_note = "no OS thread matched: Python frames only";
		else if (r->on_cpu)
			t->native_note = "running on a CPU as it was read: its native stack changes under the reader, "
					 "Python frames only (record --native samples it)";
		else if (!r->ip || dump_native_stack(m, p, r, w->threads[i].frames, w->threads[i].n,
						      w->threads[i].truncated, t) != 0)
			t->native_note = "native stack unreadable: Python frames only";
	}
out:
	native_mode_free(m);
	free(regs);
}

/*
 * threading's own name of a thread (Thread.name, in full), matched by its
 * ident (the thread state's thread_id) or else its native id; false if the
 * table has no such thread.
 */
static bool python_thread_name(const struct py_thread_name *names, size_t n, const struct dump_thread *t,
			       uint64_t native_thread_id, char *out, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (t->thread_id && names[i].ident == t->thread_id) {
			snprintf(out, len, "%s", names[i].name);
			return true;
		}
	for (size_t i = 0; i < n; i++)
		if (native_thread_id && names[i].native_id == native_thread_id) {
			snprintf(out, len, "%s", names[i].name);
			return true;
		}
	return false;
}

static int fill_threads(struct target_process *p, const struct py_thread_set *w, bool locals, struct dump_snapshot *s)
{
	uint64_t gil_holder = 0;
	s->gil_known = read_gil_holder(p->pid, &p->py, &gil_holder);
	s->threads = calloc(w->n ? w->n : 1, sizeof(*s->threads));
	if (!s->threads)
		return -1;
	/* threading's names; a read that keeps failing (dicts changing under it) leaves the OS names */
	size_t nnames = 0;
	struct py_thread_name *names = calloc(PY_THREAD_NAMES_MAX, sizeof(*names));
	for (int attempt = 0; names && attempt < 3; attempt++)
		if (py_read_thread_names(p->pid, &p->py, NULL, names, PY_THREAD_NAMES_MAX, &nnames) == 0)
			break;
		else
			nnames = 0;
	s->nthreads = w->n;
	match_os_threads(p->pid, w, s->threads);
	for (size_t i = 0; i < w->n; i++) {
		struct dump_thread *t = &s->threads[i];
		t->holds_gil = gil_holder && gil_holder == w->threads[i].tstate;
		if (t->tid) {
			t->state = procfs_state(p->pid, t->tid);
			thread_name(p->pid, t->tid, p->comm, t->name, sizeof(t->name));
		}
		python_thread_name(names, nnames, t, w->threads[i].native_thread_id, t->name, sizeof(t->name));
		if (name_frames(p, &w->threads[i], locals, t) != 0) {
			free(names);
			return -1;
		}
	}
	free(names);
	if (s->native_requested)
		add_native_stacks(p, s->elf, w, s);
	if (s->nthreads)
		qsort(s->threads, s->nthreads, sizeof(*s->threads), thread_order);
	return 0;
}

/* --async: the tasks, with the walked stacks for the frames of the tasks running now. */
static int take_async(struct target_process *p, struct elf_cache *cache, const struct py_thread_set *w,
		      struct dump_snapshot *s, char *err, size_t errlen)
{
	struct dump_raw_stack *stacks = calloc(w->n ? w->n : 1, sizeof(*stacks));
	int rc;

	if (!stacks) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < w->n; i++)
		stacks[i] = (struct dump_raw_stack){ w->threads[i].tstate, w->threads[i].frames, w->threads[i].addrs,
						     w->threads[i].n };
	rc = dump_async_take(p, cache, stacks, w->n, s, err, errlen);
	free(stacks);
	return rc;
}

int dump_snapshot_take(pid_t pid, bool locals, bool native, bool async, struct dump_snapshot *s, char *err,
		       size_t errlen)
{
	char comm[32];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->locals = locals;
	s->native_requested = native;
	s->async_requested = async;
	procfs_comm(pid, 0, comm, sizeof(comm));
	procfs_cmdline(pid, s->cmdline, sizeof(s->cmdline));

	struct elf_cache *cache = elf_cache_new(&py_method_names);
	struct target_process *p = cache ? target_process_new(pid, comm) : NULL;
	struct py_thread_set w = { 0 };
	int rc = -1;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!p->maps) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", pid, strerror(errno));
		goto out;
	}
	if (detect(p, cache, err, errlen) != 0)
		goto out;
	py_read_full_version(pid, &p->py); /* "3.9.18" rather than "3.9" */
	snprintf(s->python_version, sizeof(s->python_version), "%s", p->py.version);
	snprintf(s->python_module, sizeof(s->python_module), "%s", p->py.runtime_module);
	if (walk_with_retries(pid, &p->py, &w) != 0) {
		snprintf(err, errlen, "cannot read the Python threads of PID %d (it exited, or its memory kept changing)",
			 pid);
		goto out;
	}
	s->elf = cache;
	if (fill_threads(p, &w, locals, s) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (async && take_async(p, cache, &w, s, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	py_thread_set_clear(&w);
	target_process_free(p);
	s->elf = NULL;
	elf_cache_free(cache);
	if (rc != 0)
		dump_snapshot_free(s);
	return rc;
}

void dump_snapshot_free(struct dump_snapshot *s)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		for (size_t j = 0; j < s->threads[i].nframes; j++) {
			free(s->threads[i].frames[j].name);
			free(s->threads[i].frames[j].file);
			free(s->threads[i].frames[j].locals);
		}
		free(s->threads[i].frames);
	}
	free(s->threads);
	s->threads = NULL;
	s->nthreads = 0;
	dump_async_free(s);
}
