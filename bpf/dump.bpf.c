// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * `bpfspy dump`: a task iterator that lists each thread of one process with
 * its fs_base and its user registers. Python <= 3.10 identifies a thread
 * state only by pthread_self(), which is fs_base on x86-64 glibc, and /proc
 * does not show fs_base, so this is how a thread state is matched to its
 * kernel TID. The user registers (saved where the thread last entered the
 * kernel: a syscall it blocks in, or the interrupt that preempted it) start
 * `dump --native`'s unwind; they are stale while the thread runs on another
 * CPU, which the last field says. Output is text, one
 * "tid fsbase ip sp bp on_cpu" line per thread.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 target_tgid = 0;

SEC("iter/task")
int list_thread_fsbase(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task || task->tgid != (pid_t)target_tgid)
		return 0;
	__u32 tid = task->pid;
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 ip = 0, sp = 0, bp = 0;
	if (regs) {
		ip = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		bp = BPF_CORE_READ(regs, bp);
	}
	__u32 on_cpu = BPF_CORE_READ(task, on_cpu);
	BPF_SEQ_PRINTF(seq, "%u %llx %llx %llx %llx %u\n", tid, fsbase, ip, sp, bp, on_cpu);
	return 0;
}
