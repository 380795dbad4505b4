// SPDX-License-Identifier: MIT
/*
 * Stacks read from user space where BPF could not take them: the threads
 * already blocked when --idle attaches (seeded from the task iterator), and
 * an off-CPU sample BPF took before it knew the process is Python. Each
 * becomes the sample BPF would have sent, and goes the normal way.
 */
#include "recorder/recorder_internal.h"

#include <stdlib.h>
#include <string.h>

#include "process/thread_reader.h"
#include "recorder/offcpu_pairing.h"
#include "util/log.h"

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

/*
 * An off-CPU sample BPF took before the process had its Python config (the
 * first blocking call of a process just exec'd, while userspace still read
 * its interpreter). While the thread has not run since, its Python frames
 * are those of that moment: read them from its thread state, and record the
 * sample as BPF would have. false leaves the sample as it came.
 */
bool recorder_restack_offcpu(struct recorder *r, struct target_process *p, const struct bpfspy_sample *s)
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
			recorder_take_sample(r, rebuilt, n);
			free(rebuilt);
			done = true;
		}
	}
	py_thread_set_clear(&set);
	return done;
}

/* Python was just detected in p: its threads' pending off-CPU stacks taken before get their Python frames. */
void recorder_restack_pending_offcpu(struct recorder *r, struct target_process *p)
{
	void *raw;
	/* each kept sample is tried once; on success its interval is replaced */
	while ((raw = offcpu_pairing_take_raw(r->offcpu, (uint32_t)p->pid))) {
		recorder_restack_offcpu(r, p, raw);
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
	if (!recorder_passes_filters(r, &h))
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
		recorder_take_sample(r, s, size);
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
		struct target_process *p = recorder_process_get(r, (pid_t)b.seeds[i].pid, b.seeds[i].comm);
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
