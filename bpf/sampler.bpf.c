// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The sampler: a perf_event program on a per-CPU cpu-clock event records the
 * user stack, optionally the kernel stack, and the Python frames of each
 * followed thread, and sends them to userspace through one ring buffer.
 * Process tracking (fork/exec/exit, libpython mmap) lives in follow.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "maps.bpf.h"
#include "pystack.bpf.h"
#include "native_unwind.bpf.h"
#include "follow.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline bool regs_user_mode(struct pt_regs *regs)
{
	return (BPF_CORE_READ(regs, cs) & 3) == 3;
}

/* The registers the thread will resume user code with. */
static __always_inline struct pt_regs *user_regs(struct pt_regs *regs, struct task_struct *task, __u32 *flags)
{
	if (regs && regs_user_mode(regs))
		return regs;
	*flags |= SAMPLE_USER_REGS_KERNEL;
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

struct snapshot_copy {
	__u64 sp;
	__u32 buf;  /* sample buffer index */
	__u32 base; /* offset in the sample buffer */
	__u32 want;
	__u32 got;
};

/*
 * Copies the user stack page by page: a read that crosses into an unmapped
 * page fails whole, and the outermost frames (main, _start) live right below
 * the end of the stack mapping.
 */
static long snapshot_step(__u32 i, struct snapshot_copy *c)
{
	struct sample_buf *b = sample_buffer(c->buf);
	__u64 addr = c->sp + c->got;

	if (!b || c->got >= c->want)
		return 1;
	__u64 chunk = 4096 - (addr & 4095);
	__u64 remaining = c->want - c->got;
	if (chunk > remaining)
		chunk = remaining;
	/* keep clang from folding the clamp away: the verifier must see chunk's bound */
	asm volatile("" : "+r"(chunk));
	if (chunk == 0 || chunk > 4096)
		return 1;
	__u64 off = (__u64)c->base + c->got;
	if (off > SAMPLE_BUF_SIZE - 4096)
		return 1;
	if (bpf_probe_read_user(b->data + off, chunk, (const void *)addr))
		return 1;
	c->got += (__u32)chunk;
	return 0;
}

static __always_inline __u32 copy_user_stack(__u32 buf, __u64 sp, __u32 base, __u32 want)
{
	struct snapshot_copy c = { .sp = sp, .buf = buf, .base = base, .want = want };

	if (c.want > BPFSPY_MAX_STACK_SNAPSHOT)
		c.want = BPFSPY_MAX_STACK_SNAPSHOT;
	bpf_loop(BPFSPY_MAX_STACK_SNAPSHOT / 4096 + 1, snapshot_step, &c, 0);
	return c.got;
}

struct sample_request {
	__u32 buf;        /* sample buffer index */
	__u32 flags;      /* SAMPLE_* set by the caller */
	__u32 reason;     /* enum offcpu_reason */
	bool kernel;      /* take the kernel stack */
	__u64 ts_ns;
	struct pt_regs *regs; /* the interrupted registers, or NULL in a tracepoint */
};

#define KERNEL_STACK_POS_MASK 0x3fff

/*
 * Records the current task's stacks (user, kernel, Python, snapshot) and
 * sends them. ctx is the program's context, for bpf_get_stack().
 */
static __always_inline void send_sample(void *ctx, const struct sample_request *req)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct sample_buf *b = sample_buffer(req->buf);
	if (!b)
		return;
	struct bpfspy_sample *h = (void *)b->data;
	struct task_struct *task = bpf_get_current_task_btf();

	h->type = EV_SAMPLE;
	h->pid = tgid;
	h->tid = tid;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = req->ts_ns;
	h->weight_ns = 0;
	h->flags = req->flags;
	h->tstate = 0;
	h->asyncio_task = 0;
	h->stack_len = 0;
	h->unwind_stop = 0;
	h->offcpu_reason = req->reason;
	h->fsbase = task->thread.fsbase;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	__u32 rflags = 0;
	struct pt_regs *uregs = user_regs(req->regs, task, &rflags);
	h->flags |= rflags;
	h->ip = BPF_CORE_READ(uregs, ip);
	h->sp = BPF_CORE_READ(uregs, sp);
	h->bp = BPF_CORE_READ(uregs, bp);

	__u32 pos = sizeof(*h);
	long n = 0;
	__u32 n_user = 0, stop = UNWIND_STOP_NO_TABLE;
	bool cfi = has_unwind_tables(tgid);
	if (cfi) {
		struct native_unwind_request u = {
			.ip = h->ip, .sp = h->sp, .bp = h->bp, .buf = req->buf, .pos = pos, .tgid = tgid,
		};
		n_user = unwind_user_stack(&u);
		stop = u.stop;
		b = sample_buffer(req->buf);
		if (!b)
			return;
		h = (void *)b->data;
		h->flags |= SAMPLE_USER_CFI;
		h->unwind_stop = (__u16)stop;
	} else if (!stack_snapshot_bytes) {
		/* with a stack snapshot, userspace unwinds from DWARF CFI: frame pointers are not needed */
		n = bpf_get_stack(ctx, b->data + sizeof(*h), BPFSPY_MAX_FP_FRAMES * 8, BPF_F_USER_STACK);
		n_user = n > 0 ? (__u32)n / 8 : 0;
	}
	if (n_user > BPFSPY_MAX_USER_FRAMES)
		n_user = BPFSPY_MAX_USER_FRAMES;
	h->n_user = n_user;
	pos += n_user * 8;

	__u32 n_kernel = 0;
	if (req->kernel && pos <= sizeof(*h) + BPFSPY_MAX_USER_FRAMES * 8) {
		/*
		 * The verifier loses pos's bound across the unwinder's branches
		 * above ("unbounded memory access"): the mask restates it (an
		 * identity here, see the asserts) so --kernel loads.
		 */
		_Static_assert(sizeof(struct bpfspy_sample) + BPFSPY_MAX_USER_FRAMES * 8 <= KERNEL_STACK_POS_MASK,
			       "the mask must keep every valid pos");
		_Static_assert(KERNEL_STACK_POS_MASK + BPFSPY_MAX_KERNEL_FRAMES * 8 <= SAMPLE_BUF_SIZE,
			       "the kernel stack must fit after any masked pos");
		pos &= KERNEL_STACK_POS_MASK;
		n = bpf_get_stack(ctx, b->data + pos, BPFSPY_MAX_KERNEL_FRAMES * 8, 0);
		n_kernel = n > 0 ? (__u32)n / 8 : 0;
		if (n_kernel > BPFSPY_MAX_KERNEL_FRAMES)
			n_kernel = BPFSPY_MAX_KERNEL_FRAMES;
	}
	h->n_kernel = n_kernel;
	pos += n_kernel * 8;

	__u32 n_py = 0;
	struct py_proc *py = bpf_map_lookup_elem(&py_procs, &tgid);
	if (py) {
		struct py_walk_request w = {
			.buf = req->buf, .tgid = tgid, .tid = tid, .base = pos, .max = py_max_depth,
			.flags = SAMPLE_PY_PROCESS, .fsbase = h->fsbase,
		};
		n_py = walk_python(&w, py);
		__u32 flags = w.flags;
		__u64 tstate = w.tstate;
		h = (void *)b->data;
		h->flags |= flags;
		h->tstate = tstate;
		/* the task this sample ran: userspace puts its awaiting tasks above its coroutines */
		if (tstate && py->off.ts_asyncio_task && py->off.ts_asyncio_task != PY_OFF_NONE)
			h->asyncio_task = read_user_u64(tstate + py->off.ts_asyncio_task);
		if (holds_gil(py, tstate))
			h->flags |= SAMPLE_GIL_HOLDER;
		if (flags & SAMPLE_PY_NO_TSTATE)
			stat_inc(STAT_PY_NO_TSTATE);
		if (flags & SAMPLE_PY_ERROR)
			stat_inc(STAT_PY_ERRORS);
	}
	if (n_py > BPFSPY_MAX_PY_DEPTH)
		n_py = BPFSPY_MAX_PY_DEPTH;
	h->n_py = n_py;

	pos += n_py * sizeof(struct py_frame_rec);
	__u32 stack_len = 0;
	/* the snapshot unwinder, or the fallback for code mapped since user space loaded the tables */
	bool snapshot = stack_snapshot_bytes && (!cfi || stop == UNWIND_STOP_NO_TABLE || unwind_compare) &&
			(native_merge || n_py == 0);
	/*
	 * A process without tables yet has just started (a shallow stack); one
	 * with tables that met new code is deep in an import: copy all we can.
	 */
	__u32 want = cfi && stop == UNWIND_STOP_NO_TABLE && new_code_snapshot_bytes ? new_code_snapshot_bytes
										   : stack_snapshot_bytes;
	if (snapshot && pos <= SAMPLE_BUF_SIZE - BPFSPY_MAX_STACK_SNAPSHOT)
		stack_len = copy_user_stack(req->buf, h->sp, pos, want);
	h->stack_len = stack_len;

	__u64 size = (__u64)pos + stack_len;
	if (size > SAMPLE_BUF_SIZE)
		size = SAMPLE_BUF_SIZE;
	if (bpf_ringbuf_output(&events, b->data, size, sample_ringbuf_flags(req->buf, cfi)))
		stat_inc(STAT_LOST);
}

SEC("perf_event")
int sample_stack(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!is_followed(tgid))
		return 0;
	stat_inc(STAT_SAMPLES);
	struct sample_request req = {
		.buf = SAMPLE_BUF_ONCPU,
		.kernel = collect_kernel,
		.ts_ns = bpf_ktime_get_ns(),
		.regs = (struct pt_regs *)&ctx->regs,
	};
	send_sample(ctx, &req);
	return 0;
}

#include "offcpu.bpf.h"
