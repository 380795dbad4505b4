// SPDX-License-Identifier: MIT
#include "recorder.h"

#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfspy_events.h"
#include "native/kernel_unwind.h"
#include "native/interpreter_frames.h"
#include "native/native_mode.h"
#include "python/py_memory.h"
#include "sym/native_symbols.h"
#include "target_process.h"
#include "thread_reader.h"
#include "util/log.h"
#include "util/u32map.h"

#define MAX_STACK_FRAMES (BPFSPY_MAX_USER_FRAMES + BPFSPY_MAX_KERNEL_FRAMES + BPFSPY_MAX_PY_DEPTH + 4)
#define MAPS_REFRESH_MIN_NS 2000000ull /* re-read maps for an unknown address at most every 2 ms */

struct recorder {
	struct recorder_options opt;
	struct profile *profile;
	struct sampler *sampler;
	struct elf_cache *elf;
	struct kernel_symbols *ksyms;
	bool ksyms_tried;
	struct u32map procs;        /* pid -> struct target_process */
	struct u32map named_threads; /* tid -> struct thread_naming */
	struct py_thread_name *names_scratch; /* PY_THREAD_NAMES_MAX entries for reading names, on first use */
	struct u32map py_gaps;       /* tid -> 1 + samples without Python frames since its last one with */
	struct u32map offcpu_pending; /* tid -> struct pending_offcpu: stacks waiting for their duration */
	struct recorder_stats stats;
	struct native_mode *native;  /* --native, and the tables of the in-kernel unwinder */
	struct kernel_unwind *kunwind; /* installs those tables in BPF maps (--unwind kernel) */
	uint32_t *tables_queue;	     /* pids whose tables to (re)install, oldest first */
	size_t tables_head, tables_count, tables_cap;
	struct target_process *naming_process; /* the process whose frames are being named */
	uint32_t frames[MAX_STACK_FRAMES]; /* innermost first while building */
	size_t nframes;
};

struct pending_offcpu;
static void free_pending(struct pending_offcpu *p);

struct recorder *recorder_new(const struct recorder_options *o, struct profile *profile)
{
	struct recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->opt = *o;
	r->profile = profile;
	r->elf = elf_cache_new();
	if (r->elf && (o->native || o->kernel_unwind))
		r->native = native_mode_new(r->elf, o->native_all);
	if (!r->elf || ((o->native || o->kernel_unwind) && !r->native)) {
		elf_cache_free(r->elf);
		free(r);
		return NULL;
	}
	return r;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->procs.cap; i++)
		if (r->procs.keys[i])
			target_process_free(r->procs.vals[i]);
	u32map_free(&r->procs);
	for (size_t i = 0; i < r->named_threads.cap; i++)
		if (r->named_threads.keys[i])
			free(r->named_threads.vals[i]);
	u32map_free(&r->named_threads);
	free(r->names_scratch);
	u32map_free(&r->py_gaps);
	for (size_t i = 0; i < r->offcpu_pending.cap; i++)
		if (r->offcpu_pending.keys[i])
			free_pending(r->offcpu_pending.vals[i]);
	u32map_free(&r->offcpu_pending);
	kernel_unwind_free(r->kunwind);
	free(r->tables_queue);
	native_mode_free(r->native);
	elf_cache_free(r->elf);
	kernel_symbols_free(r->ksyms);
	free(r);
}

void recorder_native_summary(const struct recorder *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!r->opt.native)
		return;
	struct native_mode_stats st;
	native_mode_read_stats(r->native, &st);
	native_mode_format_stats(&st, buf, len);
}

void recorder_set_sampler(struct recorder *r, struct sampler *s)
{
	r->sampler = s;
	if (s && r->opt.kernel_unwind && !r->kunwind) {
		r->kunwind = kernel_unwind_new(sampler_unwind_files_fd(s), sampler_unwind_procs_fd(s),
					       native_mode_unwind_cache(r->native));
		if (!r->kunwind)
			log_warn("out of memory: native stacks fall back to frame pointers");
	}
}

void recorder_read_unwind_stats(const struct recorder *r, struct kernel_unwind_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (r->kunwind)
		kernel_unwind_read_stats(r->kunwind, out);
}

void recorder_read_stats(const struct recorder *r, struct recorder_stats *out)
{
	*out = r->stats;
}

/* A finished sample goes to the options' sink, or into the profile when none was given. */
static int emit_sample(struct recorder *r, uint32_t pid, uint32_t tid, const uint32_t *frames, size_t n,
		       uint64_t weight, uint64_t ts_ns)
{
	if (r->opt.sink.add_sample)
		return r->opt.sink.add_sample(r->opt.sink.ctx, pid, tid, frames, n, weight, ts_ns);
	return profile_add_sample(r->profile, pid, tid, frames, n, weight, ts_ns);
}

bool recorder_python_version(const struct recorder *r, pid_t pid, char *buf, size_t len)
{
	const struct target_process *p = u32map_get(&r->procs, (uint32_t)pid);
	if (!p || p->python != PYTHON_YES || !p->py.version[0])
		return false;
	snprintf(buf, len, "%s", p->py.version);
	return true;
}

/* ---- processes ---------------------------------------------------------- */

static void install_python(struct recorder *r, struct target_process *p)
{
	if (!r->sampler)
		return;
	if (p->python == PYTHON_YES) {
		sampler_set_pending(r->sampler, p->pid, false);
		sampler_set_python(r->sampler, p->pid, &p->py.proc);
	} else if (p->python == PYTHON_PENDING) {
		sampler_set_pending(r->sampler, p->pid, true);
	}
}

/*
 * Queues giving the in-kernel unwinder the process's current mappings and
 * their tables. Building a table takes milliseconds per file (more under
 * sanitizers): done from the ring-buffer callback it would hold back the
 * exec and mmap records behind it, and a short-lived process would be gone
 * before we read it. recorder_install_queued_tables does the work between
 * batches of records; until then the kernel falls back to stack copies.
 */
static void install_unwind_tables(struct recorder *r, struct target_process *p)
{
	if (!r->kunwind || !p || p->exited || p->tables_queued)
		return;
	if (r->tables_head + r->tables_count == r->tables_cap) {
		if (r->tables_head) { /* reuse the consumed front */
			memmove(r->tables_queue, r->tables_queue + r->tables_head, r->tables_count * sizeof(uint32_t));
			r->tables_head = 0;
		} else {
			size_t cap = r->tables_cap ? 2 * r->tables_cap : 64;
			uint32_t *grown = realloc(r->tables_queue, cap * sizeof(uint32_t));
			if (!grown)
				return;
			r->tables_queue = grown;
			r->tables_cap = cap;
		}
	}
	r->tables_queue[r->tables_head + r->tables_count++] = (uint32_t)p->pid;
	p->tables_queued = true;
}

size_t recorder_install_queued_tables(struct recorder *r, size_t max_processes)
{
	for (size_t done = 0; r->tables_count && done < max_processes; done++) {
		uint32_t pid = r->tables_queue[r->tables_head++];
		r->tables_count--;
		struct target_process *p = u32map_get(&r->procs, pid);
		if (!p || !p->tables_queued)
			continue;
		p->tables_queued = false;
		if (!p->maps)
			target_process_refresh_maps(p);
		if (p->maps && !p->exited)
			kernel_unwind_install(r->kunwind, p->pid, p->maps);
	}
	if (!r->tables_count)
		r->tables_head = 0;
	return r->tables_count;
}

static void restack_pending_offcpu(struct recorder *r, struct target_process *p);

/* Re-reads threading's names of p's threads (a remote walk of a few dicts). */
static void read_thread_names(struct recorder *r, struct target_process *p)
{
	if (!r->names_scratch)
		r->names_scratch = malloc(PY_THREAD_NAMES_MAX * sizeof(*r->names_scratch));
	if (r->names_scratch)
		target_process_read_thread_names(p, r->names_scratch, PY_THREAD_NAMES_MAX);
}

static void detect_python(struct recorder *r, struct target_process *p)
{
	bool was_python = p->python == PYTHON_YES;
	target_process_detect_python(p, r->elf);
	install_python(r, p);
	if (p->python == PYTHON_PENDING) {
		/* libpython may have been mapped between our read of the maps and arming the mmap hook */
		target_process_refresh_maps(p);
		target_process_detect_python(p, r->elf);
		install_python(r, p);
	}
	if (p->python == PYTHON_YES && !was_python) {
		r->stats.python_processes++;
		restack_pending_offcpu(r, p);
		read_thread_names(r, p); /* attached: its threads are there; launched: nothing yet */
	}
}

static struct target_process *process_get(struct recorder *r, pid_t pid, const char *comm)
{
	struct target_process *p = u32map_get(&r->procs, (uint32_t)pid);
	if (p)
		return p;
	p = target_process_new(pid, comm);
	if (!p || u32map_put(&r->procs, (uint32_t)pid, p) != 0) {
		target_process_free(p);
		return NULL;
	}
	r->stats.processes++;
	detect_python(r, p);
	install_unwind_tables(r, p);
	return p;
}

void recorder_note_if_not_python(struct recorder *r, pid_t pid)
{
	struct target_process *p = u32map_get(&r->procs, (uint32_t)pid);
	if (!p || p->python != PYTHON_NO || r->opt.native || p->warned)
		return;
	p->warned = true;
	if (r->kunwind)
		log_info("PID %d (%s) is not a Python process: showing its native stacks", pid, p->comm);
	else
		log_info("PID %d (%s) is not a Python process: showing its native stacks (frame pointers; "
			 "--unwind kernel or --native unwind from DWARF CFI)", pid, p->comm);
}

void recorder_add_process(struct recorder *r, pid_t pid)
{
	char comm[16] = "";
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	process_get(r, pid, comm);
}

void recorder_preload_command(struct recorder *r, const char *command)
{
	char path[4096];
	if (launch_resolve_path(command, path, sizeof(path)))
		elf_cache_preload(r->elf, path);
}

static void on_exec(struct recorder *r, const struct bpfspy_proc_event *e)
{
	struct target_process *p = u32map_get(&r->procs, e->pid);

	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_EXEC, e->ts_ns, e->comm);
	if (!p) {
		process_get(r, (pid_t)e->pid, e->comm);
		return;
	}
	snprintf(p->comm, sizeof(p->comm), "%s", e->comm);
	/*
	 * A sample of the new image, ahead of this record in the ring buffer
	 * (taken inside execve), may have made us read the process after the
	 * exec already: its state is the new image's, and re-reading now could
	 * find the process gone and forget that it is Python.
	 */
	if (p->maps_read_ns > e->ts_ns)
		return;
	bool was_python = p->python == PYTHON_YES;
	target_process_reset(p);
	if (was_python && r->stats.python_processes)
		r->stats.python_processes--;
	if (r->sampler)
		sampler_set_pending(r->sampler, p->pid, false);
	detect_python(r, p);
	install_unwind_tables(r, p);
}

static void on_fork(struct recorder *r, const struct bpfspy_proc_event *e)
{
	struct target_process *parent = u32map_get(&r->procs, e->ppid);
	struct target_process *child = u32map_get(&r->procs, e->pid);
	if (child)
		return;
	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_START, e->ts_ns,
				  parent ? parent->comm : e->comm);
	child = target_process_new((pid_t)e->pid, parent ? parent->comm : e->comm);
	if (!child || u32map_put(&r->procs, e->pid, child) != 0) {
		target_process_free(child);
		return;
	}
	r->stats.processes++;
	if (parent)
		target_process_inherit_maps(child, parent);
	if (parent && parent->python == PYTHON_YES) {
		target_process_inherit_python(child, parent);
		r->stats.python_processes++;
		install_python(r, child);
	} else {
		detect_python(r, child);
	}
	install_unwind_tables(r, child);
}

static void on_mmap_exec(struct recorder *r, const struct bpfspy_proc_event *e)
{
	struct target_process *p = u32map_get(&r->procs, e->pid);
	if (!p || (p->python != PYTHON_PENDING && !r->kunwind))
		return;
	target_process_refresh_maps(p);
	if (p->python == PYTHON_PENDING)
		detect_python(r, p);
	install_unwind_tables(r, p);
}

/*
 * Everything the BPF side sent about a process before its exit is ahead of
 * the exit record in the ring buffer, so its state can go now: a host with
 * churning processes must not keep their maps, symbolizers and open
 * /proc/PID/mem files until the end.
 */
static void close_offcpu_of_process(struct recorder *r, uint32_t pid, uint64_t exit_ns);

static void on_process_exit(struct recorder *r, const struct bpfspy_proc_event *e)
{
	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_EXIT, e->ts_ns, e->comm);
	close_offcpu_of_process(r, e->pid, e->ts_ns);
	kernel_unwind_forget(r->kunwind, (pid_t)e->pid);
	struct target_process *p = u32map_remove(&r->procs, e->pid);
	if (!p)
		return;
	if (r->sampler && p->python == PYTHON_PENDING)
		sampler_set_pending(r->sampler, p->pid, false);
	target_process_free(p);
}

/* ---- frames ------------------------------------------------------------- */

static void push_frame(struct recorder *r, const struct frame_desc *f)
{
	if (r->nframes < MAX_STACK_FRAMES)
		r->frames[r->nframes++] = profile_intern_frame(r->profile, f);
}

static void push_marker(struct recorder *r, const char *name)
{
	struct frame_desc f = { .name = name, .kind = FRAME_MARKER };
	push_frame(r, &f);
}

static int python_line(const struct recorder *r, int line, int firstlineno)
{
	if (r->opt.no_lineno)
		return 0;
	if (r->opt.function_only)
		return firstlineno;
	return line;
}

/* Names one Python frame; false when its code object could not be read. */
static bool name_python_frame(struct recorder *r, struct target_process *p, const struct py_frame_rec *rec,
			      struct frame_desc *f)
{
	struct py_code_info info;
	int line = 0;
	*f = (struct frame_desc){ .kind = FRAME_PYTHON };
	if (!p || !p->pysym || py_symbolize(p->pysym, rec->code, rec->sig, py_lasti_widen(rec->lasti), &info, &line) != 0) {
		f->name = "<unknown>";
		r->stats.py_unresolved_frames++;
		return false;
	}
	f->name = info.qualname ? info.qualname : info.name;
	f->file = info.filename;
	f->line = python_line(r, line, info.firstlineno);
	return true;
}

static bool native_namer(void *ctx, const struct py_frame_rec *rec, struct frame_desc *out)
{
	struct recorder *r = ctx;
	return name_python_frame(r, r->naming_process, rec, out);
}

static void native_sink(void *ctx, const struct frame_desc *f)
{
	push_frame(ctx, f);
}

/* native_mode's maps_refresh_fn: the unwind met code mapped after the snapshot (libc after exec). */
static const struct proc_maps *native_refresh_maps(void *ctx)
{
	struct recorder *r = ctx;
	struct target_process *p = r->naming_process;
	if (!p || p->exited || monotonic_ns() - p->maps_read_ns <= MAPS_REFRESH_MIN_NS)
		return NULL;
	target_process_refresh_maps(p);
	return p->maps;
}

/* --native: unwound native frames with the Python frames merged in; returns Python frames named. */
static size_t push_merged_frames(struct recorder *r, struct target_process *p, const struct bpfspy_sample *s,
				 const uint64_t *user, const struct py_frame_rec *py, const uint8_t *stack)
{
	bool cfi = s->flags & SAMPLE_USER_CFI;
	struct native_sample ns = {
		.kernel_frames = cfi ? user : NULL,
		.nkernel_frames = cfi ? s->n_user : 0,
		.kernel_stop = (enum unwind_stop_reason)s->unwind_stop,
		.pid = (pid_t)s->pid,
		.maps = p ? p->maps : NULL,
		.refresh_maps = native_refresh_maps,
		.ip = s->ip,
		.sp = s->sp,
		.bp = s->bp,
		.stack = stack,
		.stack_len = s->stack_len,
		.py = py,
		.npy = (s->flags & SAMPLE_PY_NO_TSTATE) ? 0 : s->n_py,
		.model = (p && p->python == PYTHON_YES) ? (enum py_frame_model)p->py.proc.off.frame_model : 0,
		.py_truncated = s->flags & SAMPLE_PY_TRUNCATED,
	};
	uint64_t unresolved = r->stats.py_unresolved_frames;
	size_t before = r->nframes;
	r->naming_process = p;
	native_mode_build(r->native, &ns, native_namer, native_sink, r);
	r->naming_process = NULL;
	size_t named = 0;
	for (size_t i = before; i < r->nframes; i++)
		named += profile_frame(r->profile, r->frames[i])->kind == FRAME_PYTHON;
	return named >= (r->stats.py_unresolved_frames - unresolved) ? named - (r->stats.py_unresolved_frames - unresolved)
								       : 0;
}

/* Pushes the Python frames of a sample, innermost first; returns how many were named. */
static size_t push_python_frames(struct recorder *r, struct target_process *p, const struct py_frame_rec *py,
				 size_t n)
{
	size_t named = 0;
	for (size_t i = 0; i < n; i++) {
		if (py[i].flags & PYF_SHIM)
			continue;
		struct frame_desc f;
		named += name_python_frame(r, p, &py[i], &f);
		push_frame(r, &f);
	}
	return named;
}

static void symbolize_native(struct recorder *r, struct target_process *p, uint64_t ip, bool is_return,
			     struct native_frame *out)
{
	const struct proc_maps *maps = p ? p->maps : NULL;
	if (p && maps && !proc_maps_find(maps, ip) && !p->exited &&
	    monotonic_ns() - p->maps_read_ns > MAPS_REFRESH_MIN_NS) {
		/* new code was mapped since the snapshot */
		target_process_refresh_maps(p);
		maps = p->maps;
	}
	native_symbolize(r->elf, p ? p->pid : 0, maps, ip, is_return, out);
	if (r->native && p && maps)
		native_mode_name_by_function(r->native, p->pid, maps, is_return && ip ? ip - 1 : ip, out);
}

/* A frame-pointer walk through code built without them returns data, not return addresses. */
static bool plausible_return_address(const struct target_process *p, uint64_t ip)
{
	if (!p || !p->maps)
		return true;
	const struct proc_map *m = proc_maps_find(p->maps, ip);
	return m && m->executable;
}

/* Re-reads the maps once if ip may be code mapped after the snapshot; true if it now is. */
static bool refresh_for(struct target_process *p, uint64_t ip)
{
	if (!p->maps || proc_maps_find(p->maps, ip) || monotonic_ns() - p->maps_read_ns <= MAPS_REFRESH_MIN_NS)
		return false;
	target_process_refresh_maps(p);
	return plausible_return_address(p, ip);
}

static void push_native_frames(struct recorder *r, struct target_process *p, const uint64_t *ips, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !plausible_return_address(p, ips[i]) && !(p && !p->exited && refresh_for(p, ips[i])))
			break;
		struct native_frame nf;
		symbolize_native(r, p, ips[i], i > 0, &nf);
		struct frame_desc f = { .name = nf.name, .file = nf.module, .kind = FRAME_NATIVE };
		push_frame(r, &f);
	}
}

static void push_kernel_frames(struct recorder *r, const uint64_t *ips, size_t n)
{
	if (!r->ksyms_tried) {
		r->ksyms_tried = true;
		r->ksyms = kernel_symbols_load();
		if (!r->ksyms)
			log_warn("cannot read kernel symbols from /proc/kallsyms; kernel frames will be addresses");
	}
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		uint64_t off;
		const char *name = r->ksyms ? kernel_symbols_lookup(r->ksyms, ips[i], &off) : NULL;
		if (!name) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ips[i]);
			name = buf;
		}
		struct frame_desc f = { .name = name, .kind = FRAME_KERNEL };
		push_frame(r, &f);
	}
}

/*
 * How far a thread's name has come: the OS name first (or MainThread), then
 * threading's own once its table has the thread. Threads the table lacks
 * (started a moment ago, or not threading's) wait; any sample of their
 * process looks them up again, each time after a longer wait (per process,
 * never per sample), so a thread seen only while it started is named too.
 */
enum thread_naming_state { THREAD_UNNAMED = 0, THREAD_NAMED_NATIVE, THREAD_NAMED_FALLBACK, THREAD_NAMED_PYTHON };

struct thread_naming {
	uint32_t pid;
	enum thread_naming_state state; /* THREAD_NAMED_FALLBACK: waiting for threading's name */
	uint64_t ident;                 /* its fs_base: threading's ident */
	uint32_t ns_tid;                /* its TID in its process's PID namespace (0: unknown) */
	uint64_t first_seen_ns;         /* its first sample: only a table read after that can name it */
};

#define NAME_RETRY_FIRST_NS 20000000ull   /* 20 ms, doubling ... */
#define NAME_RETRY_MAX_NS 5000000000ull   /* ... up to 5 s */
#define NAMES_FRESH_NS 10000000ull        /* a table read this recently serves every lookup */
/*
 * A sampled Python process's table is read again this often even when no
 * thread waits: a thread first seen late (while dying, or in a sample handled
 * after its process exited) is then named from a table that already held it.
 */
#define NAMES_REFRESH_NS 1000000000ull    /* 1 s */

/*
 * The thread's OS name (comm) when it is not its process's: from /proc, or,
 * once the thread is gone, the one the sample carried.
 */
static void os_thread_name(struct recorder *r, const struct target_process *p, uint32_t pid, uint32_t tid,
			   const char *sample_comm)
{
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	} else if (sample_comm) {
		snprintf(comm, sizeof(comm), "%.*s", BPFSPY_COMM_LEN, sample_comm);
	}
	if (comm[0] && (!p || strcmp(comm, p->comm) != 0))
		profile_set_thread_name(r->profile, pid, tid, comm);
}

static struct thread_naming *thread_naming_of(struct recorder *r, uint32_t pid, uint32_t tid)
{
	struct thread_naming *n = u32map_get(&r->named_threads, tid);
	if (n && n->pid == pid)
		return n;
	if (!n) { /* else a TID reused by another process: start over */
		n = malloc(sizeof(*n));
		if (!n || u32map_put(&r->named_threads, tid, n) != 0) {
			free(n);
			return NULL;
		}
	}
	*n = (struct thread_naming){ .pid = pid };
	return n;
}

/*
 * Reads p's table again (unless just read) and names every thread of p that
 * waits for it. glibc gives a new thread the pthread_t (the ident) of one
 * that finished, and samples are handled a little after they were taken: an
 * entry whose native id is the thread's own names it from any table; by the
 * ident alone, only a table read after the thread's first sample does.
 */
static void name_waiting_threads(struct recorder *r, struct target_process *p, uint64_t now, bool force)
{
	if ((force || now - p->thread_names_read_ns > NAMES_FRESH_NS) && !p->exited)
		read_thread_names(r, p);
	unsigned waiting = 0;
	bool too_new = false;
	for (size_t i = 0; i < r->named_threads.cap; i++) {
		struct thread_naming *n = r->named_threads.keys[i] ? r->named_threads.vals[i] : NULL;
		if (!n || n->pid != (uint32_t)p->pid || n->state != THREAD_NAMED_FALLBACK)
			continue;
		const char *name = target_process_thread_name_by_native_id(p, n->ident, n->ns_tid);
		if (!name && n->first_seen_ns > p->thread_names_ok_ns) {
			waiting++;
			too_new = true;
			continue;
		}
		if (!name)
			name = target_process_thread_name(p, n->ident, n->ns_tid);
		if (name) {
			profile_set_thread_name(r->profile, n->pid, r->named_threads.keys[i], name);
			n->state = THREAD_NAMED_PYTHON;
		} else {
			waiting++;
		}
	}
	p->names_waiting = waiting;
	if (too_new && p->thread_names_ok_ns == p->thread_names_read_ns) { /* the next read can be the first to tell */
		p->names_next_lookup_ns = p->thread_names_read_ns + NAMES_FRESH_NS + 1;
		return;
	}
	uint64_t wait = NAME_RETRY_FIRST_NS << (p->names_lookups < 8 ? p->names_lookups : 8);
	p->names_lookups++;
	p->names_next_lookup_ns = now + (wait < NAME_RETRY_MAX_NS ? wait : NAME_RETRY_MAX_NS);
}

static void name_thread(struct recorder *r, struct target_process *p, const struct bpfspy_sample *s)
{
	uint32_t pid = s->pid, tid = s->tid;
	bool python = p && p->python == PYTHON_YES;
	struct thread_naming *n = thread_naming_of(r, pid, tid);
	if (!n || (n->state == THREAD_NAMED_NATIVE && !python))
		return;
	if (!python) {
		if (n->state == THREAD_UNNAMED) {
			n->state = THREAD_NAMED_NATIVE;
			os_thread_name(r, p, pid, tid, s->comm);
		}
		return;
	}
	uint64_t now = monotonic_ns();
	if (n->state != THREAD_NAMED_PYTHON && n->state != THREAD_NAMED_FALLBACK) {
		/* until threading's table has it (first samples may precede detection, or threading) */
		if (pid == tid)
			profile_set_thread_name(r->profile, pid, tid, "MainThread");
		else if (n->state == THREAD_UNNAMED)
			os_thread_name(r, p, pid, tid, s->comm);
		n->state = THREAD_NAMED_FALLBACK;
		n->ident = s->fsbase;
		n->ns_tid = target_process_ns_tid((pid_t)pid, (pid_t)tid);
		n->first_seen_ns = s->ts_ns && s->ts_ns < now ? s->ts_ns : now;
		/* a new thread to name: look now, then back off again from the start */
		p->names_waiting++;
		p->names_lookups = 0;
		p->names_next_lookup_ns = now;
	}
	if (p->names_waiting && now >= p->names_next_lookup_ns)
		name_waiting_threads(r, p, now, false);
	else if (now - p->thread_names_read_ns > NAMES_REFRESH_NS && !p->exited)
		read_thread_names(r, p);
}

/* ---- samples ------------------------------------------------------------ */

static void reverse_frames(uint32_t *f, size_t n)
{
	for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
		uint32_t t = f[i];
		f[i] = f[j];
		f[j] = t;
	}
}

/* ---- off-CPU (--idle) ---------------------------------------------------- */

struct pending_offcpu {
	uint32_t pid, tid;
	uint64_t since_ns;
	void *raw; /* the (validated) sample, while its process may still turn out to be Python */
	size_t n;
	uint32_t frames[]; /* root first */
};

/* the leaf marker of an off-CPU stack; BPF tells why the thread waits */
static const char *offcpu_marker(uint32_t reason)
{
	static const char *const markers[] = {
		[OFFCPU_UNKNOWN] = "[off-cpu]", [OFFCPU_SLEEP] = "[sleep]", [OFFCPU_IO] = "[I/O]",
		[OFFCPU_FUTEX] = "[futex]",     [OFFCPU_PREEMPTED] = "[preempted]", [OFFCPU_POLL] = "[poll]",
		[OFFCPU_CHILD] = "[wait]",
	};
	return reason < sizeof(markers) / sizeof(markers[0]) ? markers[reason] : markers[OFFCPU_UNKNOWN];
}

static void free_pending(struct pending_offcpu *p)
{
	if (p)
		free(p->raw);
	free(p);
}

/*
 * frames are root first. The sample itself is kept when BPF took it before
 * it knew the process is Python (a process just exec'd): once detection
 * catches up, the stack is read again (restack_pending_offcpu).
 */
static void hold_offcpu(struct recorder *r, const struct bpfspy_sample *s, size_t size, bool keep_raw,
			const uint32_t *frames, size_t n)
{
	struct pending_offcpu *p = malloc(sizeof(*p) + n * sizeof(uint32_t));
	if (!p)
		return;
	p->pid = s->pid;
	p->tid = s->tid;
	p->since_ns = s->ts_ns;
	p->raw = keep_raw ? malloc(size) : NULL;
	if (p->raw)
		memcpy(p->raw, s, size);
	p->n = n;
	memcpy(p->frames, frames, n * sizeof(uint32_t));
	free_pending(u32map_remove(&r->offcpu_pending, s->tid));
	if (u32map_put(&r->offcpu_pending, s->tid, p) != 0)
		free_pending(p);
}

static void add_offcpu(struct recorder *r, struct pending_offcpu *p, uint64_t duration_ns)
{
	if (emit_sample(r, p->pid, p->tid, p->frames, p->n, duration_ns ? duration_ns : 1, p->since_ns) == 0) {
		r->stats.samples++;
		r->stats.offcpu_samples++;
		r->stats.offcpu_ns += duration_ns;
	}
}

static void on_offcpu_end(struct recorder *r, const struct bpfspy_offcpu_end *e)
{
	struct pending_offcpu *p = u32map_get(&r->offcpu_pending, e->tid);
	if (!p || p->since_ns != e->since_ns)
		return;
	u32map_remove(&r->offcpu_pending, e->tid);
	add_offcpu(r, p, e->duration_ns);
	free_pending(p);
}

/*
 * A thread's return to the CPU can be lost with the ring buffer full; its
 * off-CPU stack must not then stay open until the recording ends. At the
 * process's exit every such interval ends.
 */
static void close_offcpu_of_process(struct recorder *r, uint32_t pid, uint64_t exit_ns)
{
	uint32_t tids[64];
	size_t n = 0;

	/* collect first: removing reshuffles the table */
	for (size_t i = 0; i < r->offcpu_pending.cap && n < sizeof(tids) / sizeof(tids[0]); i++) {
		struct pending_offcpu *p = r->offcpu_pending.keys[i] ? r->offcpu_pending.vals[i] : NULL;
		if (p && p->pid == pid)
			tids[n++] = p->tid;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_offcpu *p = u32map_remove(&r->offcpu_pending, tids[i]);
		add_offcpu(r, p, exit_ns > p->since_ns ? exit_ns - p->since_ns : 0);
		free_pending(p);
	}
	if (n == sizeof(tids) / sizeof(tids[0]))
		close_offcpu_of_process(r, pid, exit_ns); /* more threads than one pass holds */
}

void recorder_finish(struct recorder *r, uint64_t now_ns)
{
	/* a process that blocked before its interpreter could be read gets one more look */
	uint32_t pids[64];
	size_t npids = 0;
	for (size_t i = 0; i < r->offcpu_pending.cap && npids < sizeof(pids) / sizeof(pids[0]); i++) {
		struct pending_offcpu *p = r->offcpu_pending.keys[i] ? r->offcpu_pending.vals[i] : NULL;
		if (p && p->raw && (!npids || pids[npids - 1] != p->pid))
			pids[npids++] = p->pid;
	}
	for (size_t i = 0; i < npids; i++) {
		struct target_process *p = u32map_get(&r->procs, pids[i]);
		if (p && !p->exited && (p->python == PYTHON_PENDING || p->python == PYTHON_UNKNOWN)) {
			target_process_refresh_maps(p);
			detect_python(r, p);
		}
	}
	/* a last look for threads still waiting for their names (seen only while starting) */
	for (size_t i = 0; i < r->procs.cap; i++) {
		struct target_process *p = r->procs.keys[i] ? r->procs.vals[i] : NULL;
		if (p && p->python == PYTHON_YES && p->names_waiting)
			name_waiting_threads(r, p, monotonic_ns(), true);
	}
	for (size_t i = 0; i < r->offcpu_pending.cap; i++) {
		struct pending_offcpu *p = r->offcpu_pending.keys[i] ? r->offcpu_pending.vals[i] : NULL;
		if (!p)
			continue;
		add_offcpu(r, p, now_ns > p->since_ns ? now_ns - p->since_ns : 0);
		free_pending(p);
		r->offcpu_pending.vals[i] = NULL;
	}
	u32map_free(&r->offcpu_pending);
}

static bool passes_filters(const struct recorder *r, const struct bpfspy_sample *s)
{
	if (r->opt.comm_filter && !strstr(s->comm, r->opt.comm_filter))
		return false;
	if (!r->opt.npid_filter)
		return true;
	for (size_t i = 0; i < r->opt.npid_filter; i++)
		if (r->opt.pid_filter[i] == s->pid)
			return true;
	return false;
}

/*
 * Samples of a thread without Python frames count against the resolve rate
 * only when they fall between two samples with Python frames: before the
 * first bytecode and after the last one the thread runs C (startup, exit).
 * Nor does a sample whose thread state has no frame running: C work outside
 * any Python frame, such as finalization's garbage collection between two
 * Python callbacks it calls.
 */
static void count_python_window(struct recorder *r, uint32_t tid, bool has_frames, bool no_frame_running)
{
	uintptr_t gap = (uintptr_t)u32map_get(&r->py_gaps, tid);
	r->stats.py_process_samples++;
	if (!has_frames && no_frame_running)
		return;
	if (has_frames) {
		r->stats.py_samples_with_frames++;
		r->stats.py_window_samples += 1 + (gap ? gap - 1 : 0);
		u32map_put(&r->py_gaps, tid, (void *)1);
	} else if (gap) {
		u32map_put(&r->py_gaps, tid, (void *)(gap + 1));
	}
}

/*
 * The kernel met code it has no table for: a library mapped before the mmap
 * hook saw it, or after an exec. Re-read the maps (rate-limited) and reinstall.
 */
static void reinstall_after_miss(struct recorder *r, struct target_process *p)
{
	if (!r->kunwind || !p || p->exited || monotonic_ns() - p->maps_read_ns <= MAPS_REFRESH_MIN_NS)
		return;
	target_process_refresh_maps(p);
	install_unwind_tables(r, p);
}

/* Default mode: how many native-only samples reached the program's entry, for the summary. */
static void count_native_root(struct recorder *r, size_t first)
{
	if (!r->kunwind || r->nframes <= first)
		return;
	/* frames go leaf first: the last one pushed is the outermost */
	const struct frame_desc *root = profile_frame(r->profile, r->frames[r->nframes - 1]);
	r->stats.native_only_samples++;
	if (root && root->kind == FRAME_NATIVE && native_frame_is_root(root->name))
		r->stats.native_only_complete++;
}

/* ---- stacks read from user space ------------------------------------------ */

/* A sample record as BPF lays it out (header, user ips, kernel ips, Python frames, stack bytes). */
static struct bpfspy_sample *build_sample(const struct bpfspy_sample *h, const uint64_t *user, size_t n_user,
					  const uint64_t *kernel, size_t n_kernel, const struct py_frame_rec *py,
					  size_t n_py, const uint8_t *stack, size_t stack_len, size_t *size)
{
	*size = sizeof(*h) + 8 * (n_user + n_kernel) + sizeof(*py) * n_py + stack_len;
	uint8_t *buf = malloc(*size);
	if (!buf)
		return NULL;
	struct bpfspy_sample *s = (struct bpfspy_sample *)buf;
	*s = *h;
	s->n_user = (uint16_t)n_user;
	s->n_kernel = (uint16_t)n_kernel;
	s->n_py = (uint16_t)n_py;
	s->stack_len = (uint32_t)stack_len;
	uint8_t *pos = buf + sizeof(*s);
	if (n_user)
		memcpy(pos, user, 8 * n_user);
	pos += 8 * n_user;
	if (n_kernel)
		memcpy(pos, kernel, 8 * n_kernel);
	pos += 8 * n_kernel;
	if (n_py)
		memcpy(pos, py, sizeof(*py) * n_py);
	pos += sizeof(*py) * n_py;
	if (stack_len)
		memcpy(pos, stack, stack_len);
	return s;
}

static size_t py_depth(const struct recorder *r)
{
	unsigned d = r->opt.py_max_depth;
	return d && d <= BPFSPY_MAX_PY_DEPTH ? d : BPFSPY_DEFAULT_PY_DEPTH;
}

static bool still_offcpu_since(const struct recorder *r, uint32_t tid, uint64_t since_ns)
{
	uint64_t v;
	return r->sampler && sampler_offcpu_since(r->sampler, (pid_t)tid, &v) == 0 && v == since_ns;
}

static void on_sample(struct recorder *r, const struct bpfspy_sample *s, size_t size);

/*
 * An off-CPU sample BPF took before the process had its Python config (the
 * first blocking call of a process just exec'd, while userspace still read
 * its interpreter). While the thread has not run since, its Python frames
 * are those of that moment: read them from its thread state, and record the
 * sample as BPF would have. false leaves the sample as it came.
 */
static bool restack_offcpu(struct recorder *r, struct target_process *p, const struct bpfspy_sample *s)
{
	if (!still_offcpu_since(r, s->tid, s->ts_ns))
		return false;
	struct py_thread_set set;
	if (py_thread_set_read(p->pid, &p->py, py_depth(r), &set) != 0)
		return false;
	const struct py_thread_frames *t = py_thread_set_find(&set, s->fsbase);
	bool done = false;
	/* it did not run during the read either: these frames are the ones it blocked in */
	if (t && t->n && still_offcpu_since(r, s->tid, s->ts_ns)) {
		const uint64_t *user = (const void *)(s + 1);
		const uint64_t *kernel = user + s->n_user;
		const struct py_frame_rec *old_py = (const void *)(kernel + s->n_kernel);
		const uint8_t *stack = (const uint8_t *)(old_py + s->n_py);
		struct bpfspy_sample h = *s;
		h.flags = (h.flags & ~(SAMPLE_PY_NO_TSTATE | SAMPLE_PY_ERROR | SAMPLE_PY_TRUNCATED)) | SAMPLE_PY_PROCESS |
			  (t->truncated ? SAMPLE_PY_TRUNCATED : 0);
		size_t n;
		struct bpfspy_sample *rebuilt = build_sample(&h, user, s->n_user, kernel, s->n_kernel, t->frames, t->n,
							     stack, s->stack_len, &n);
		if (rebuilt) {
			log_debug("pid %u tid %u: off-CPU since before Python was detected; its Python stack read now",
				  s->pid, s->tid);
			on_sample(r, rebuilt, n);
			free(rebuilt);
			done = true;
		}
	}
	py_thread_set_clear(&set);
	return done;
}

/* Python was just detected in p: its threads' pending off-CPU stacks taken before get their Python frames. */
static void restack_pending_offcpu(struct recorder *r, struct target_process *p)
{
	uint32_t tids[64];
	size_t n = 0;

	for (size_t i = 0; i < r->offcpu_pending.cap && n < sizeof(tids) / sizeof(tids[0]); i++) {
		struct pending_offcpu *q = r->offcpu_pending.keys[i] ? r->offcpu_pending.vals[i] : NULL;
		if (q && q->pid == (uint32_t)p->pid && q->raw)
			tids[n++] = q->tid;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_offcpu *q = u32map_get(&r->offcpu_pending, tids[i]);
		if (!q)
			continue;
		void *raw = q->raw;
		q->raw = NULL; /* tried once; on success the pending stack is replaced */
		restack_offcpu(r, p, raw);
		free(raw);
	}
}

struct seed_batch {
	struct bpfspy_offcpu_seed *seeds;
	size_t n, cap;
	bool oom;
};

static void collect_seed(void *ctx, const struct bpfspy_offcpu_seed *e)
{
	struct seed_batch *b = ctx;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct bpfspy_offcpu_seed *grown = realloc(b->seeds, cap * sizeof(*grown));
		if (!grown) {
			b->oom = true;
			return;
		}
		b->seeds = grown;
		b->cap = cap;
	}
	b->seeds[b->n++] = *e;
}

static int seed_order(const void *a, const void *b)
{
	const struct bpfspy_offcpu_seed *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static bool passes_filters(const struct recorder *r, const struct bpfspy_sample *s);

/* The off-CPU sample BPF would have taken when the seeded thread left the CPU. */
static void add_seeded_thread(struct recorder *r, struct target_process *p, const struct py_thread_set *set,
			      const struct bpfspy_offcpu_seed *e)
{
	struct bpfspy_sample h = {
		.type = EV_SAMPLE, .pid = e->pid, .tid = e->tid, .ts_ns = e->since_ns, .fsbase = e->fsbase,
		.ip = e->ip, .sp = e->sp, .bp = e->bp, .flags = SAMPLE_OFFCPU | SAMPLE_USER_REGS_KERNEL,
		.offcpu_reason = e->reason,
	};
	memcpy(h.comm, e->comm, sizeof(h.comm));
	if (!passes_filters(r, &h))
		return;
	const struct py_thread_frames *t = NULL;
	if (p && p->python == PYTHON_YES) {
		h.flags |= SAMPLE_PY_PROCESS;
		t = set ? py_thread_set_find(set, e->fsbase) : NULL;
		if (!t)
			h.flags |= SAMPLE_PY_NO_TSTATE;
		else if (t->truncated)
			h.flags |= SAMPLE_PY_TRUNCATED;
	}
	size_t n_py = t ? t->n : 0;
	uint64_t user[BPFSPY_MAX_FP_FRAMES];
	size_t n_user = 0, stack_len = 0;
	uint8_t *stack = NULL;
	/* native frames: where BPF would have sent them (no Python frames, or --native) */
	if (r->opt.native || n_py == 0) {
		size_t want = r->opt.stack_bytes ? r->opt.stack_bytes : BPFSPY_DEFAULT_STACK_SNAPSHOT;
		if (want > BPFSPY_MAX_STACK_SNAPSHOT)
			want = BPFSPY_MAX_STACK_SNAPSHOT;
		if (r->native && (stack = malloc(want)))
			stack_len = thread_read_user_stack((pid_t)e->pid, e->sp, stack, want);
		else
			n_user = thread_walk_frame_pointers((pid_t)e->pid, e->ip, e->bp, e->sp, user, BPFSPY_MAX_FP_FRAMES);
	}
	size_t size;
	struct bpfspy_sample *s = build_sample(&h, user, n_user, (const uint64_t *)e->kernel, r->opt.kernel_stacks ? e->n_kernel : 0,
					       t ? t->frames : NULL, n_py, stack, stack_len, &size);
	if (s)
		on_sample(r, s, size);
	free(s);
	free(stack);
}

int recorder_seed_offcpu(struct recorder *r, char *err, size_t errlen)
{
	struct seed_batch b = { 0 };
	if (!r->sampler) {
		snprintf(err, errlen, "no sampler");
		return -1;
	}
	int n = sampler_seed_offcpu(r->sampler, collect_seed, &b, err, errlen);
	if (n >= 0 && b.oom) {
		snprintf(err, errlen, "out of memory");
		n = -1;
	}
	if (b.n)
		qsort(b.seeds, b.n, sizeof(*b.seeds), seed_order);
	/* one walk of a process's thread states serves all its blocked threads */
	for (size_t i = 0; i < b.n;) {
		size_t end = i;
		while (end < b.n && b.seeds[end].pid == b.seeds[i].pid)
			end++;
		struct target_process *p = process_get(r, (pid_t)b.seeds[i].pid, b.seeds[i].comm);
		struct py_thread_set set;
		bool have_set = p && p->python == PYTHON_YES &&
				py_thread_set_read(p->pid, &p->py, py_depth(r), &set) == 0;
		for (; i < end; i++)
			add_seeded_thread(r, p, have_set ? &set : NULL, &b.seeds[i]);
		if (have_set)
			py_thread_set_clear(&set);
	}
	free(b.seeds);
	return n;
}

static void on_sample(struct recorder *r, const struct bpfspy_sample *s, size_t size)
{
	size_t need = sizeof(*s) + 8 * ((size_t)s->n_user + s->n_kernel) + sizeof(struct py_frame_rec) * s->n_py +
		      s->stack_len;
	if (size < need || s->n_user > BPFSPY_MAX_USER_FRAMES || s->n_kernel > BPFSPY_MAX_KERNEL_FRAMES ||
	    s->n_py > BPFSPY_MAX_PY_DEPTH || s->stack_len > BPFSPY_MAX_STACK_SNAPSHOT) {
		r->stats.malformed++;
		return;
	}
	if (!passes_filters(r, s)) {
		r->stats.filtered++;
		return;
	}
	if (r->opt.gil_only && !(s->flags & SAMPLE_GIL_HOLDER)) {
		r->stats.gil_dropped++;
		return;
	}
	const uint64_t *user = (const void *)(s + 1);
	const uint64_t *kernel = user + s->n_user;
	const struct py_frame_rec *py = (const void *)(kernel + s->n_kernel);

	struct target_process *p = process_get(r, (pid_t)s->pid, s->comm);
	bool offcpu = s->flags & SAMPLE_OFFCPU;
	if (p && p->python == PYTHON_PENDING && !p->exited &&
	    monotonic_ns() - p->maps_read_ns > MAPS_REFRESH_MIN_NS) {
		target_process_refresh_maps(p);
		detect_python(r, p);
	}
	/* BPF did not know yet that the process is Python: read the thread's Python stack now */
	if (offcpu && p && p->python == PYTHON_YES && !(s->flags & SAMPLE_PY_PROCESS) && restack_offcpu(r, p, s))
		return;
	r->nframes = 0;
	if (offcpu)
		push_marker(r, offcpu_marker(s->offcpu_reason));
	if (r->opt.kernel_stacks)
		push_kernel_frames(r, kernel, s->n_kernel);

	size_t named = 0;
	if ((s->flags & SAMPLE_USER_CFI) && s->unwind_stop == UNWIND_STOP_NO_TABLE)
		reinstall_after_miss(r, p);
	if (r->opt.native) {
		named = push_merged_frames(r, p, s, user, py, (const uint8_t *)(py + s->n_py));
		if (s->flags & SAMPLE_PY_TRUNCATED)
			r->stats.py_truncated++;
	} else {
		if (s->n_py > 0) {
			named = push_python_frames(r, p, py, s->n_py);
			if (s->flags & SAMPLE_PY_TRUNCATED) {
				push_marker(r, "[truncated]");
				r->stats.py_truncated++;
			}
		}
		if (s->n_py == 0 || (s->flags & SAMPLE_PY_NO_TSTATE)) {
			size_t first = r->nframes;
			if (s->stack_len && r->native) {
				/* tables not installed yet (all, or the code's): BPF copied the stack, unwound here */
				push_merged_frames(r, p, s, user, py, (const uint8_t *)(py + s->n_py));
			} else {
				push_native_frames(r, p, user, s->n_user);
				if ((s->flags & SAMPLE_USER_CFI) && s->unwind_stop != UNWIND_STOP_END_OF_STACK &&
				    s->n_user > 0)
					push_marker(r, s->unwind_stop == UNWIND_STOP_NO_TABLE ? "[no unwind table]"
											      : "[native truncated]");
			}
			count_native_root(r, first);
		}
	}

	bool python_process = (s->flags & SAMPLE_PY_PROCESS) || (p && p->python == PYTHON_YES);
	if (python_process && !offcpu)
		count_python_window(r, s->tid, named > 0,
				    s->tstate && s->n_py == 0 && !(s->flags & (SAMPLE_PY_ERROR | SAMPLE_PY_NO_TSTATE)));
	if (p)
		profile_set_process_name(r->profile, s->pid, p->comm[0] ? p->comm : s->comm);
	name_thread(r, p, s);

	reverse_frames(r->frames, r->nframes);
	if (offcpu) {
		bool may_be_python = p && (p->python == PYTHON_UNKNOWN || p->python == PYTHON_PENDING) &&
				     !(s->flags & SAMPLE_PY_PROCESS);
		hold_offcpu(r, s, size, may_be_python, r->frames, r->nframes);
		return;
	}
	uint64_t weight = r->opt.idle ? 1000000000ull / (r->opt.rate_hz ? r->opt.rate_hz : 100) : 1;
	if (emit_sample(r, s->pid, s->tid, r->frames, r->nframes, weight, s->ts_ns) == 0)
		r->stats.samples++;
}

/* A code object's bytes, captured by BPF at first sight: cache its names and line table now. */
static void on_code(struct recorder *r, const struct bpfspy_code_event *e, size_t size)
{
	struct target_process *p = u32map_get(&r->procs, e->pid);
	if (!p || !p->pysym)
		return;
	struct py_mem_region regions[CODE_REGIONS];
	size_t n = py_code_event_regions(e, size, regions);
	if (py_symbolizer_add_capture(p->pysym, e->code, e->sig, regions, n) != 0)
		r->stats.code_captures_unusable++;
}

int recorder_on_record(void *ctx, const void *data, size_t size)
{
	struct recorder *r = ctx;
	if (size < sizeof(__u32))
		return 0;
	__u32 type = *(const __u32 *)data;
	if (type == EV_OFFCPU_END) {
		if (size >= sizeof(struct bpfspy_offcpu_end))
			on_offcpu_end(r, data);
		return 0;
	}
	if (type == EV_CODE) {
		if (size >= sizeof(struct bpfspy_code_event))
			on_code(r, data, size);
		return 0;
	}
	if (type == EV_SAMPLE) {
		if (size >= sizeof(struct bpfspy_sample))
			on_sample(r, data, size);
		return 0;
	}
	if (size < sizeof(struct bpfspy_proc_event))
		return 0;
	const struct bpfspy_proc_event *e = data;
	switch (type) {
	case EV_EXEC:
		on_exec(r, e);
		break;
	case EV_FORK:
		on_fork(r, e);
		break;
	case EV_MMAP_EXEC:
		on_mmap_exec(r, e);
		break;
	case EV_EXIT:
		on_process_exit(r, e);
		break;
	default:
		r->stats.malformed++;
	}
	return 0;
}
