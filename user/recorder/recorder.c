// SPDX-License-Identifier: MIT
/*
 * The recorder's dispatch: each record BPF sends goes to the part that owns
 * its concern (process table, stack builder, off-CPU pairing, thread naming)
 * and what they make goes to the profile. Statistics are counted here.
 */
#include "python/py_method_symbols.h"
#include "recorder/recorder_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native/kernel_unwind.h"
#include "native/native_mode.h"
#include "python/py_memory.h"
#include "recorder/offcpu_pairing.h"
#include "recorder/process_table.h"
#include "recorder/record_async.h"
#include "recorder/stack_builder.h"
#include "recorder/thread_naming.h"
#include "sym/native_symbols.h"
#include "process/thread_reader.h"
#include "util/log.h"
#include "util/procfs.h"
#include "util/u32map.h"


struct recorder *recorder_new(const struct recorder_options *o, struct profile *profile)
{
	struct recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->opt = *o;
	r->profile = profile;
	r->elf = elf_cache_new(&py_method_names);
	if (r->elf && (o->native || o->kernel_unwind))
		r->native = native_mode_new(r->elf, o->native_all);
	struct stack_builder_options so = {
		.kernel_stacks = o->kernel_stacks, .function_only = o->function_only, .no_lineno = o->no_lineno,
		.native = o->native, .kernel_unwinder = o->kernel_unwind,
	};
	if (o->async_aware)
		r->async = record_async_new();
	if (r->elf) {
		r->procs = process_table_new(r->elf);
		r->stacks = stack_builder_new(&so, r->elf, r->native, r->async, profile);
	}
	r->offcpu = offcpu_pairing_new();
	r->names = thread_naming_new(profile);
	if (!r->elf || ((o->native || o->kernel_unwind) && !r->native) || !r->procs || !r->stacks || !r->offcpu ||
	    !r->names || (o->async_aware && !r->async)) {
		recorder_free(r);
		return NULL;
	}
	return r;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	process_table_free(r->procs);
	stack_builder_free(r->stacks);
	offcpu_pairing_free(r->offcpu);
	thread_naming_free(r->names);
	record_async_free(r->async);
	free(r->batch);
	u32map_free(&r->py_gaps);
	kernel_unwind_free(r->kunwind);
	native_mode_free(r->native);
	elf_cache_free(r->elf);
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
	process_table_connect(r->procs, s, r->kunwind);
	process_table_defer_python_tables(r->procs, !r->opt.native);
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
	out->processes = process_table_seen(r->procs);
	out->python_processes = process_table_python_count(r->procs);
}

size_t recorder_install_queued_tables(struct recorder *r, size_t max_processes)
{
	return process_table_install_queued_tables(r->procs, max_processes);
}

bool recorder_wants_prompt_handling(const struct recorder *r)
{
	return process_table_has_threading(r->procs);
}

/* A finished sample goes to the command's sink, or into the profile. */
static int emit_sample(struct recorder *r, uint32_t pid, uint32_t tid, const uint32_t *frames, size_t n,
		       uint64_t weight, uint64_t ts_ns)
{
	if (r->opt.sink.add_sample)
		return r->opt.sink.add_sample(r->opt.sink.ctx, pid, tid, frames, n, weight, ts_ns);
	return profile_add_sample(r->profile, pid, tid, frames, n, weight, ts_ns);
}

bool recorder_python_version(const struct recorder *r, pid_t pid, char *buf, size_t len)
{
	const struct target_process *p = process_table_find(r->procs, (uint32_t)pid);
	if (!p || p->python != PYTHON_YES || !p->py.version[0])
		return false;
	snprintf(buf, len, "%s", p->py.version);
	return true;
}

/* ---- processes ---------------------------------------------------------- */


/* p just turned out to be Python: what was taken before detection gets a second look. */
static void became_python(struct recorder *r, struct target_process *p)
{
	recorder_restack_pending_offcpu(r, p);
	thread_naming_read(r->names, p); /* attached: its threads are there; launched: nothing yet */
}

static struct target_process *process_get(struct recorder *r, pid_t pid, const char *comm, bool ran_before)
{
	bool now_python;
	struct target_process *p = process_table_get(r->procs, pid, comm, ran_before, &now_python);
	if (now_python)
		became_python(r, p);
	return p;
}

struct target_process *recorder_process_get(struct recorder *r, pid_t pid, const char *comm)
{
	return process_get(r, pid, comm, false);
}

void recorder_note_if_not_python(struct recorder *r, pid_t pid)
{
	struct target_process *p = process_table_find(r->procs, (uint32_t)pid);
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
	char comm[16];
	procfs_comm(pid, 0, comm, sizeof(comm));
	process_get(r, pid, comm, true);
}

void recorder_preload_program(struct recorder *r, const char *path)
{
	elf_cache_preload(r->elf, path);
}

static void on_exec(struct recorder *r, const struct bpfspy_proc_event *e)
{
	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_EXEC, e->ts_ns, e->comm);
	if (process_table_on_exec(r->procs, e))
		became_python(r, process_table_find(r->procs, e->pid));
}

static void on_fork(struct recorder *r, const struct bpfspy_proc_event *e)
{
	if (process_table_find(r->procs, e->pid))
		return;
	const struct target_process *parent = process_table_find(r->procs, e->ppid);
	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_START, e->ts_ns, parent ? parent->comm : e->comm);
	if (process_table_on_fork(r->procs, e))
		became_python(r, process_table_find(r->procs, e->pid));
}

static void on_mmap_exec(struct recorder *r, const struct bpfspy_proc_event *e)
{
	if (process_table_on_mmap_exec(r->procs, e))
		became_python(r, process_table_find(r->procs, e->pid));
}

/* ---- off-CPU (--idle) ---------------------------------------------------- */

static void add_offcpu(struct recorder *r, struct offcpu_interval *iv, uint64_t duration_ns)
{
	/* an idle event loop's time is its waiting tasks', shared equally: the thread's total stays its wall time */
	for (size_t i = 0, at = 0; iv && i < iv->ntask_stacks; i++) {
		uint64_t share = duration_ns / iv->ntask_stacks + (i == 0 ? duration_ns % iv->ntask_stacks : 0);
		uint32_t len = iv->tasks[at];

		if (emit_sample(r, iv->pid, iv->tid, iv->tasks + at + 1, len, share ? share : 1,
				       iv->since_ns) == 0)
			r->stats.samples++;
		at += 1 + len;
	}
	if (iv && iv->ntask_stacks) {
		r->stats.offcpu_samples++;
		r->stats.offcpu_ns += duration_ns;
		offcpu_interval_free(iv);
		return;
	}
	if (iv && emit_sample(r, iv->pid, iv->tid, iv->frames, iv->n, duration_ns ? duration_ns : 1,
				     iv->since_ns) == 0) {
		r->stats.samples++;
		r->stats.offcpu_samples++;
		r->stats.offcpu_ns += duration_ns;
	}
	offcpu_interval_free(iv);
}

static void on_offcpu_end(struct recorder *r, const struct bpfspy_offcpu_end *e)
{
	struct offcpu_interval *iv = offcpu_pairing_end(r->offcpu, e->tid, e->since_ns);
	if (iv)
		add_offcpu(r, iv, e->duration_ns);
}

/*
 * A thread's return to the CPU can be lost with the ring buffer full; its
 * off-CPU stack must not then stay open until the recording ends. At the
 * process's exit every such interval ends.
 */
static void close_offcpu_of_process(struct recorder *r, uint32_t pid, uint64_t exit_ns)
{
	struct offcpu_interval *iv;
	while ((iv = offcpu_pairing_take(r->offcpu, pid)))
		add_offcpu(r, iv, exit_ns > iv->since_ns ? exit_ns - iv->since_ns : 0);
}

static void on_process_exit(struct recorder *r, const struct bpfspy_proc_event *e)
{
	profile_add_process_event(r->profile, e->pid, PROCESS_EVENT_EXIT, e->ts_ns, e->comm);
	close_offcpu_of_process(r, e->pid, e->ts_ns);
	process_table_on_exit(r->procs, e->pid);
}

void recorder_finish(struct recorder *r, uint64_t now_ns)
{
	recorder_process_records(r);
	/* a process that blocked before its interpreter could be read gets one more look */
	uint32_t pids[64];
	size_t npids = 0, cursor = 0;
	const struct offcpu_interval *open;
	while ((open = offcpu_pairing_next(r->offcpu, &cursor)) && npids < sizeof(pids) / sizeof(pids[0]))
		if (open->raw && (!npids || pids[npids - 1] != open->pid))
			pids[npids++] = open->pid;
	for (size_t i = 0; i < npids; i++) {
		struct target_process *p = process_table_find(r->procs, pids[i]);
		if (p && (p->python == PYTHON_PENDING || p->python == PYTHON_UNKNOWN)) {
			target_process_refresh_maps(p);
			if (process_table_detect(r->procs, p))
				became_python(r, p);
		}
	}
	/* a last look for threads still waiting for their names (seen only while starting) */
	struct target_process *p;
	cursor = 0;
	while ((p = process_table_next(r->procs, &cursor)))
		thread_naming_last_look(r->names, p);
	struct offcpu_interval *iv;
	while ((iv = offcpu_pairing_take(r->offcpu, 0)))
		add_offcpu(r, iv, now_ns > iv->since_ns ? now_ns - iv->since_ns : 0);
}

bool recorder_passes_filters(const struct recorder *r, const struct bpfspy_sample *s)
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

void recorder_take_sample(struct recorder *r, const struct bpfspy_sample *s, size_t size)
{
	size_t need = sizeof(*s) + 8 * ((size_t)s->n_user + s->n_kernel) + sizeof(struct py_frame_rec) * s->n_py +
		      s->stack_len;
	if (size < need || s->n_user > BPFSPY_MAX_USER_FRAMES || s->n_kernel > BPFSPY_MAX_KERNEL_FRAMES ||
	    s->n_py > BPFSPY_MAX_PY_DEPTH || s->stack_len > BPFSPY_MAX_STACK_SNAPSHOT) {
		r->stats.malformed++;
		return;
	}
	if (!recorder_passes_filters(r, s)) {
		r->stats.filtered++;
		return;
	}
	if (r->opt.gil_only && !(s->flags & SAMPLE_GIL_HOLDER)) {
		r->stats.gil_dropped++;
		return;
	}

	struct target_process *p = recorder_process_get(r, (pid_t)s->pid, s->comm);
	bool offcpu = s->flags & SAMPLE_OFFCPU;
	if (p && p->python == PYTHON_PENDING && target_process_refresh_stale_maps(p) && process_table_detect(r->procs, p))
		became_python(r, p);
	if (r->async && p && record_async_prepare(r->async, p, r->elf))
		process_table_install_python(r->procs, p);
	/* BPF did not know yet that the process is Python: read the thread's Python stack now */
	if (offcpu && p && p->python == PYTHON_YES && !(s->flags & SAMPLE_PY_PROCESS) && recorder_restack_offcpu(r, p, s))
		return;
	if ((s->flags & SAMPLE_USER_CFI) && s->unwind_stop == UNWIND_STOP_NO_TABLE && s->n_user > 0) {
		/* the walk's last frame is where it stopped; a return address is looked up one byte back */
		const uint64_t *user = (const uint64_t *)(s + 1);
		uint64_t stop_pc = user[s->n_user - 1] - (s->n_user > 1);
		process_table_table_missed(r->procs, p, stop_pc);
	}
	if (!(s->flags & SAMPLE_USER_CFI) && s->n_py == 0)
		process_table_native_stack_needed(r->procs, p);

	struct stack_build found;
	size_t n = stack_builder_build(r->stacks, s, p, r->frames, &found);
	r->stats.py_unresolved_frames += found.python_unresolved;
	r->stats.py_truncated += (s->flags & SAMPLE_PY_TRUNCATED) && (r->opt.native || s->n_py > 0);
	r->stats.native_only_samples += found.native_only;
	r->stats.native_only_complete += found.native_complete;

	bool python_process = (s->flags & SAMPLE_PY_PROCESS) || (p && p->python == PYTHON_YES);
	if (python_process && !offcpu)
		count_python_window(r, s->tid, found.python_named > 0,
				    s->tstate && s->n_py == 0 && !(s->flags & (SAMPLE_PY_ERROR | SAMPLE_PY_NO_TSTATE)));
	if (p)
		profile_set_process_name(r->profile, s->pid, p->comm[0] ? p->comm : s->comm);
	thread_naming_on_sample(r->names, p, s);

	if (offcpu) {
		bool may_be_python = p && (p->python == PYTHON_UNKNOWN || p->python == PYTHON_PENDING) &&
				     !(s->flags & SAMPLE_PY_PROCESS);
		offcpu_pairing_hold(r->offcpu, s, size, may_be_python, r->frames, n);
		if (r->async && p) {
			uint32_t *tasks;
			size_t ntasks = stack_builder_waiting_tasks(r->stacks, s, p, &tasks);
			offcpu_pairing_attach_tasks(r->offcpu, s->tid, s->ts_ns, tasks, ntasks);
		}
		return;
	}
	uint64_t weight = r->opt.idle ? 1000000000ull / (r->opt.rate_hz ? r->opt.rate_hz : 100) : 1;
	if (emit_sample(r, s->pid, s->tid, r->frames, n, weight, s->ts_ns) == 0)
		r->stats.samples++;
}

/* A code object's bytes, captured by BPF at first sight: cache its names and line table now. */
static void on_code(struct recorder *r, const struct bpfspy_code_event *e, size_t size)
{
	struct target_process *p = process_table_find(r->procs, e->pid);
	if (!p || !p->pysym)
		return;
	struct py_mem_region regions[CODE_REGIONS];
	size_t n = py_code_event_regions(e, size, regions);
	if (py_symbolizer_add_capture(p->pysym, e->code, e->sig, regions, n) != 0)
		r->stats.code_captures_unusable++;
}

static void handle_record(struct recorder *r, const void *data, size_t size)
{
	if (size < sizeof(__u32))
		return;
	__u32 type = *(const __u32 *)data;
	if (type == EV_OFFCPU_END) {
		if (size >= sizeof(struct bpfspy_offcpu_end))
			on_offcpu_end(r, data);
		return;
	}
	if (type == EV_CODE) {
		if (size >= sizeof(struct bpfspy_code_event))
			on_code(r, data, size);
		return;
	}
	if (type == EV_SAMPLE) {
		if (size >= sizeof(struct bpfspy_sample))
			recorder_take_sample(r, data, size);
		return;
	}
	if (size < sizeof(struct bpfspy_proc_event))
		return;
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
}

#define RECORD_ALIGN 8

int recorder_on_record(void *ctx, const void *data, size_t size)
{
	struct recorder *r = ctx;
	size_t need = r->batch_len + sizeof(size_t) + (size + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
	if (need > r->batch_cap) {
		size_t cap = r->batch_cap ? r->batch_cap : 1 << 20;
		while (cap < need)
			cap *= 2;
		unsigned char *grown = realloc(r->batch, cap);
		if (!grown) { /* no room to copy it: handle it now rather than lose it */
			recorder_process_records(r);
			handle_record(r, data, size);
			return 0;
		}
		r->batch = grown;
		r->batch_cap = cap;
	}
	memcpy(r->batch + r->batch_len, &size, sizeof(size));
	memcpy(r->batch + r->batch_len + sizeof(size_t), data, size);
	r->batch_len = need;
	return 0;
}

void recorder_process_records(struct recorder *r)
{
	for (size_t at = 0; at < r->batch_len;) {
		size_t size;
		memcpy(&size, r->batch + at, sizeof(size));
		handle_record(r, r->batch + at + sizeof(size_t), size);
		at += sizeof(size_t) + (size + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
	}
	r->batch_len = 0;
}
