/* SPDX-License-Identifier: MIT */
/*
 * --idle: exact off-CPU time from the scheduler. When a followed thread
 * leaves the CPU its stacks are recorded at once (it is still current); when
 * it comes back, a short record gives how long it was away, and userspace
 * weighs the stacks with that duration.
 */
#ifndef BPFSPY_OFFCPU_BPF_H
#define BPFSPY_OFFCPU_BPF_H

#include "maps.bpf.h"

#define PF_EXITING_FLAG 0x00000004
#define PF_KTHREAD_FLAG 0x00200000
#define TASK_UNINTERRUPTIBLE_STATE 0x2


#define ENOSYS_RETURN ((unsigned long)-38) /* rax while a syscall has not returned */

/*
 * Why a thread waits, from the system call it sleeps in: cheap, where walking
 * the kernel stack and naming its functions costs microseconds per switch.
 * Numbers are the x86-64 ABI; elsewhere only the task state is used.
 */
static __always_inline __u32 offcpu_reason_of_syscall(struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/* in a fault, orig_ax holds an error code: only a pending syscall has rax == -ENOSYS */
	if (!regs || BPF_CORE_READ(regs, ax) != ENOSYS_RETURN)
		return OFFCPU_UNKNOWN;
	switch (BPF_CORE_READ(regs, orig_ax)) {
	case 34: case 35: case 128: case 130: case 230: /* pause nanosleep rt_sigtimedwait rt_sigsuspend clock_nanosleep */
		return OFFCPU_SLEEP;
	case 202: case 449: case 455: /* futex futex_waitv futex_wait */
		return OFFCPU_FUTEX;
	case 23: case 270: /* select pselect6: with no descriptors, Python <= 3.10's time.sleep */
		return BPF_CORE_READ(regs, di) == 0 ? OFFCPU_SLEEP : OFFCPU_POLL;
	case 7: case 232: case 271: case 281: case 441: /* poll epoll_wait ppoll epoll_pwait epoll_pwait2 */
		return OFFCPU_POLL;
	case 61: case 247: /* wait4 waitid */
		return OFFCPU_CHILD;
	case 0: case 1: case 2: case 17: case 18: case 19: case 20: case 26: case 40: /* read write open pread pwrite readv writev msync sendfile */
	case 42: case 43: case 44: case 45: case 46: case 47: case 73: case 74: case 75: /* connect accept sendto recvfrom sendmsg recvmsg flock fsync fdatasync */
	case 208: case 257: case 275: case 288: case 295: case 296: case 299: case 307: /* io_getevents openat splice accept4 preadv pwritev recvmmsg sendmmsg */
	case 326: case 327: case 328: case 426: /* copy_file_range preadv2 pwritev2 io_uring_enter */
		return OFFCPU_IO;
	}
#endif
	return OFFCPU_UNKNOWN;
}

static __always_inline __u32 offcpu_reason_of(struct task_struct *task, bool preempt, unsigned int prev_state)
{
	if (preempt || prev_state == 0)
		return OFFCPU_PREEMPTED;
	__u32 reason = offcpu_reason_of_syscall(task);
	if (reason != OFFCPU_UNKNOWN)
		return reason;
	/* page-ins, and syscalls not listed above, sleeping uninterruptibly */
	if (prev_state & TASK_UNINTERRUPTIBLE_STATE)
		return OFFCPU_IO;
	return OFFCPU_UNKNOWN;
}

static __always_inline void offcpu_end(struct task_struct *next, __u64 now)
{
	__u32 tid = next->pid;
	__u64 *since = bpf_map_lookup_elem(&offcpu_since, &tid);
	if (!since)
		return;
	struct bpfspy_offcpu_end *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->type = EV_OFFCPU_END;
		e->pid = next->tgid;
		e->tid = tid;
		e->_pad = 0;
		e->since_ns = *since;
		e->duration_ns = now - *since;
		bpf_ringbuf_submit(e, ringbuf_flags());
	} else {
		stat_inc(STAT_LOST);
	}
	bpf_map_delete_elem(&offcpu_since, &tid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	if (!offcpu)
		return 0;
	__u64 now = bpf_ktime_get_ns();

	/* an exiting thread never comes back: its last switch-out would be weighed until the end */
	if (prev->pid && is_followed(prev->tgid) && !(prev->flags & (PF_KTHREAD_FLAG | PF_EXITING_FLAG))) {
		__u32 tid = prev->pid;
		struct sample_request req = {
			.buf = SAMPLE_BUF_OFFCPU,
			.flags = SAMPLE_OFFCPU,
			.reason = offcpu_reason_of(prev, preempt, prev_state),
			.kernel = collect_kernel,
			.ts_ns = now,
			.regs = NULL,
		};
		send_sample(ctx, &req);
		bpf_map_update_elem(&offcpu_since, &tid, &now, BPF_ANY);
	}
	if (next->pid)
		offcpu_end(next, now);
	return 0;
}

/* ---- threads already blocked when sampling starts (-p, -a) ---- */

#define TASK_DEAD_STATE 0x80

/* Set by userspace before it runs the iterator: the time the scheduler hook was attached. */
__u64 seed_since_ns = 0;

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return (unsigned int)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfspy_offcpu_seed);
} seed_scratch SEC(".maps");

/*
 * Visits every task once sched_switch is attached. A thread of a followed
 * process that sleeps and has no offcpu_since entry has not left a CPU since
 * the hook was attached: it has been off-CPU since before seed_since_ns. Its
 * entry is set to that time (its next switch-in closes the interval as for
 * any other), and its registers, wait reason and kernel stack go to
 * userspace, which reads its Python stack from its thread state.
 */
SEC("iter/task")
int seed_offcpu(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u32 zero = 0;

	if (!task || !offcpu)
		return 0;
	__u32 tgid = task->tgid, tid = task->pid;
	unsigned int state = task_state(task);
	if (!tid || !is_followed(tgid) || (task->flags & (PF_KTHREAD_FLAG | PF_EXITING_FLAG)) || task->exit_state ||
	    state == 0 || (state & TASK_DEAD_STATE) || BPF_CORE_READ(task, on_cpu))
		return 0;
	__u64 since = seed_since_ns;
	if (bpf_map_update_elem(&offcpu_since, &tid, &since, BPF_NOEXIST)) {
		/* a visit repeated after the output buffer filled finds its own entry */
		__u64 *v = bpf_map_lookup_elem(&offcpu_since, &tid);
		if (!v || *v != since)
			return 0; /* it left a CPU since the attach: its own sample covers it */
	}
	/*
	 * on_cpu is set after sched_switch has run: a thread on a CPU whose entry
	 * is still ours was switched in before the entry existed.
	 */
	if (BPF_CORE_READ(task, on_cpu)) {
		__u64 *v = bpf_map_lookup_elem(&offcpu_since, &tid);
		if (v && *v == since) {
			bpf_map_delete_elem(&offcpu_since, &tid);
			return 0;
		}
	}
	struct bpfspy_offcpu_seed *e = bpf_map_lookup_elem(&seed_scratch, &zero);
	if (!e)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	e->pid = tgid;
	e->tid = tid;
	e->since_ns = since;
	e->fsbase = BPF_CORE_READ(task, thread.fsbase);
	e->ip = regs ? BPF_CORE_READ(regs, ip) : 0;
	e->sp = regs ? BPF_CORE_READ(regs, sp) : 0;
	e->bp = regs ? BPF_CORE_READ(regs, bp) : 0;
	e->reason = offcpu_reason_of(task, false, state);
	e->_pad = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	long n = collect_kernel ? bpf_get_task_stack(task, e->kernel, sizeof(e->kernel), 0) : 0;
	__u32 n_kernel = n > 0 ? (__u32)n / 8 : 0;
	if (n_kernel > BPFSPY_MAX_KERNEL_FRAMES)
		n_kernel = BPFSPY_MAX_KERNEL_FRAMES;
	e->n_kernel = (__u16)n_kernel;
	bpf_seq_write(ctx->meta->seq, e, sizeof(*e) - 8 * (BPFSPY_MAX_KERNEL_FRAMES - n_kernel));
	return 0;
}

#endif
