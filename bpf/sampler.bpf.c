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
#include "follow.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline bool regs_user_mode(struct pt_regs *regs)
{
	return (BPF_CORE_READ(regs, cs) & 3) == 3;
}

static __always_inline void fill_user_regs(struct bpf_perf_event_data *ctx, struct task_struct *task,
					   struct bpfspy_sample *h)
{
	struct pt_regs *regs = (struct pt_regs *)&ctx->regs;

	if (!regs_user_mode(regs)) {
		h->flags |= SAMPLE_USER_REGS_KERNEL;
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
	}
	h->ip = BPF_CORE_READ(regs, ip);
	h->sp = BPF_CORE_READ(regs, sp);
	h->bp = BPF_CORE_READ(regs, bp);
}

SEC("perf_event")
int sample_stack(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	__u32 zero = 0;

	if (!is_followed(tgid))
		return 0;
	stat_inc(STAT_SAMPLES);

	struct sample_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	struct bpfspy_sample *h = (void *)b->data;
	struct task_struct *task = bpf_get_current_task_btf();

	h->type = EV_SAMPLE;
	h->pid = tgid;
	h->tid = tid;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
	h->weight_ns = 0;
	h->flags = 0;
	h->tstate = 0;
	h->stack_len = 0;
	h->offcpu_reason = 0;
	h->fsbase = task->thread.fsbase;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	fill_user_regs(ctx, task, h);

	__u32 pos = sizeof(*h);
	long n = bpf_get_stack(ctx, b->data + sizeof(*h), BPFSPY_MAX_USER_FRAMES * 8, BPF_F_USER_STACK);
	__u32 n_user = n > 0 ? (__u32)n / 8 : 0;
	if (n_user > BPFSPY_MAX_USER_FRAMES)
		n_user = BPFSPY_MAX_USER_FRAMES;
	h->n_user = n_user;
	pos += n_user * 8;

	__u32 n_kernel = 0;
	if (collect_kernel && pos <= sizeof(*h) + BPFSPY_MAX_USER_FRAMES * 8) {
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
		__u32 flags = SAMPLE_PY_PROCESS;
		__u64 tstate = 0;
		n_py = walk_python(tgid, tid, h->fsbase, py, pos, &flags, &tstate);
		/* the walk looked the buffer up again: re-read our header pointer's fields through b */
		h = (void *)b->data;
		h->flags |= flags;
		h->tstate = tstate;
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

	__u64 size = pos + (__u64)n_py * sizeof(struct py_frame_rec);
	if (size > SAMPLE_BUF_SIZE)
		size = SAMPLE_BUF_SIZE;
	if (bpf_ringbuf_output(&events, b->data, size, ringbuf_flags()))
		stat_inc(STAT_LOST);
	return 0;
}
