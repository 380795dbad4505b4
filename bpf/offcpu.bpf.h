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
#define TASK_INTERRUPTIBLE_STATE 0x1
#define TASK_UNINTERRUPTIBLE_STATE 0x2


static __always_inline __u32 offcpu_reason_of(bool preempt, unsigned int prev_state)
{
	if (preempt || prev_state == 0)
		return OFFCPU_PREEMPTED;
	if (prev_state & TASK_UNINTERRUPTIBLE_STATE)
		return OFFCPU_IO;
	if (prev_state & TASK_INTERRUPTIBLE_STATE)
		return OFFCPU_SLEEP;
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
			.reason = offcpu_reason_of(preempt, prev_state),
			.kernel = true, /* tells why it waits: futex, poll, read, nanosleep */
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

#endif
