/* SPDX-License-Identifier: MIT */
/*
 * Process tracking from scheduler tracepoints: children of followed processes
 * are followed from their first instruction (no /proc polling), exec and exit
 * are reported so userspace can re-detect Python and snapshot mappings, and a
 * process waiting for its libpython reports the mmap that brings it.
 */
#ifndef BPFSPY_FOLLOW_BPF_H
#define BPFSPY_FOLLOW_BPF_H

#include "maps.bpf.h"
#include "native_unwind.bpf.h"

#define PROT_EXEC_BIT 0x4
#define NR_MMAP 9

static __always_inline void emit_proc_event(__u32 type, __u32 pid, __u32 ppid, __u32 exit_code, __u64 addr)
{
	struct bpfspy_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(STAT_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->pid = pid;
	e->ppid = ppid;
	e->exit_code = exit_code;
	e->ts_ns = bpf_ktime_get_ns();
	e->addr = addr;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* process events are rare and userspace must act on them at once */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/*
 * Raw tracepoints, not tp_btf: a tp_btf program makes libbpf parse the
 * kernel's whole BTF (~45 ms of every start) to find its attach point; these
 * read the few task fields they need through CO-RE instead.
 */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);

	if (ctgid == ptgid) /* a new thread, not a new process */
		return 0;
	if (!is_followed(ptgid))
		return 0;
	if (!follow_all) {
		if (!follow_children)
			return 0;
		__u8 yes = FOLLOW_YES;
		if (bpf_map_update_elem(&followed, &ctgid, &yes, BPF_ANY))
			stat_inc(STAT_EVENTS_LOST); /* more live processes than MAX_FOLLOWED */
	}
	/*
	 * The child runs the parent's code (on the parent's stack after vfork)
	 * until it execs: it unwinds with the parent's mappings, and walks its
	 * Python frames, from its first sample, not only once user space has
	 * caught up with the fork.
	 */
	const struct unwind_proc *tables = bpf_map_lookup_elem(&unwind_procs, &ptgid);
	if (tables)
		bpf_map_update_elem(&unwind_procs, &ctgid, tables, BPF_ANY);
	/* the same interpreter at the same addresses: its Python stacks from the first sample too */
	const struct py_proc *py = bpf_map_lookup_elem(&py_procs, &ptgid);
	if (py)
		bpf_map_update_elem(&py_procs, &ctgid, py, BPF_ANY);
	emit_proc_event(EV_FORK, ctgid, ptgid, 0, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!is_followed(tgid))
		return 0;
	/* the old image is gone: never walk it with stale offsets or unwind tables */
	bpf_map_delete_elem(&py_procs, &tgid);
	bpf_map_delete_elem(&unwind_procs, &tgid);
	emit_proc_event(EV_EXEC, tgid, 0, 0, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);

	bpf_map_delete_elem(&tstate_cache, &tid);
	bpf_map_delete_elem(&offcpu_since, &tid);
	if (!group_dead || !is_followed(tgid))
		return 0;
	bpf_map_delete_elem(&py_procs, &tgid);
	bpf_map_delete_elem(&unwind_procs, &tgid);
	/* the pid may be reused by an unrelated process */
	bpf_map_delete_elem(&followed, &tgid);
	emit_proc_event(EV_EXIT, tgid, 0, (__u32)BPF_CORE_READ(p, exit_code), 0);
	return 0;
}

/*
 * Executable mmaps of followed processes. Shared-libpython processes map
 * libpython after exec, from ld.so: userspace marks them pending, and the
 * first executable mmap afterwards wakes it so it can install the Python
 * config before the interpreter runs any bytecode. With the in-kernel
 * unwinder, every new code mapping (a library, a dlopen'ed extension) is
 * reported so userspace installs its unwind table.
 */
SEC("raw_tp/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	if (!pending_py_procs && !kernel_unwind)
		return 0;
	if (ret < 0 || BPF_CORE_READ(regs, orig_ax) != NR_MMAP)
		return 0;
	if (!(BPF_CORE_READ(regs, dx) & PROT_EXEC_BIT))
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bool wanted = pending_py_procs && bpf_map_lookup_elem(&py_pending, &tgid);
	if (!wanted && kernel_unwind)
		wanted = is_followed(tgid);
	if (wanted)
		emit_proc_event(EV_MMAP_EXEC, tgid, 0, 0, (__u64)ret);
	return 0;
}

#endif
