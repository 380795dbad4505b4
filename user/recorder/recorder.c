// SPDX-License-Identifier: MIT
/*
 * The recorder's dispatch: each record BPF sends goes to the part that owns
 * its concern (process table, stack builder, off-CPU pairing, thread naming)
 * and what they make goes to the profile. Statistics are counted here.
 */
#include "python/py_method_symbols.h"
#include "recorder/recorder.h"

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

struct recorder {
	struct recorder_options opt;
	struct profile *profile;
	struct sampler *sampler;
	struct elf_cache *elf;
	struct process_table *procs;
	struct stack_builder *stacks;
	struct offcpu_pairing *offcpu;
	struct thread_naming *names;
	struct record_async *async;  /* --async-aware */
	struct u32map py_gaps;       /* tid -> 1 + samples without Python frames since its last one with */
	struct recorder_stats stats;
	struct native_mode *native;  /* --native, and the tables of the in-kernel unwinder */
	struct kernel_unwind *kunwind; /* installs those tables in BPF maps (--unwind kernel) */
	uint32_t frames[STACK_BUILDER_MAX_FRAMES]; /* the sample being built, root first */
	/* records copied in the ring-buffer callback, each [size_t size, bytes] at an 8-byte boundary */
	unsigned char *batch;
	size_t batch_len, batch_cap;
};

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

static void restack_pending_offcpu(struct recorder *r, struct target_process *p);

/* p just turned out to be Python: what was taken before detection gets a second look. */
static void became_python(struct recorder *r, struct target_process *p)
{
	restack_pending_offcpu(r, p);
	thread_naming_read(r->names, p); /* attached: its threads are there; launched: nothing yet */
}

static struct target_process *process_get(struct recorder *r, pid_t pid, const char *comm)
{
	bool now_python;
	struct target_process *p = process_table_get(r->procs, pid, comm, &now_python);
	if (now_python)
		became_python(r, p);
	return p;
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
	process_get(r, pid, comm);
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
	void *raw;
	/* each kept sample is tried once; on success its interval is replaced */
	while ((raw = offcpu_pairing_take_raw(r->offcpu, (uint32_t)p->pid))) {
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
		if (t)
			h.tstate = t->tstate;
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

	struct target_process *p = process_get(r, (pid_t)s->pid, s->comm);
	bool offcpu = s->flags & SAMPLE_OFFCPU;
	if (p && p->python == PYTHON_PENDING && target_process_refresh_stale_maps(p) && process_table_detect(r->procs, p))
		became_python(r, p);
	if (r->async && p && record_async_prepare(r->async, p, r->elf))
		process_table_install_python(r->procs, p);
	/* BPF did not know yet that the process is Python: read the thread's Python stack now */
	if (offcpu && p && p->python == PYTHON_YES && !(s->flags & SAMPLE_PY_PROCESS) && restack_offcpu(r, p, s))
		return;
	if ((s->flags & SAMPLE_USER_CFI) && s->unwind_stop == UNWIND_STOP_NO_TABLE)
		process_table_table_missed(r->procs, p);

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
			on_sample(r, data, size);
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
