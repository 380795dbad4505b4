/* SPDX-License-Identifier: MIT */
/*
 * Records the BPF programs send to userspace through the ring buffer, and the
 * constants both sides agree on. Included by the BPF programs (after vmlinux.h)
 * and by user code (after <stdint.h> via bpfspy_types.h).
 */
#ifndef BPFSPY_EVENTS_H
#define BPFSPY_EVENTS_H

#include "bpfspy_types.h"

#define BPFSPY_COMM_LEN 16

/* bpf_get_stack() cannot return more than perf_event_max_stack (127 by default). */
#define BPFSPY_MAX_FP_FRAMES 127
#define BPFSPY_MAX_KERNEL_FRAMES 127

/* Native frames the in-kernel CFI unwinder walks per sample: default and ceiling (--max-native-frames). */
#define BPFSPY_DEFAULT_NATIVE_FRAMES 512
#define BPFSPY_MAX_NATIVE_FRAMES 1024

/* The user frames of a sample: frame pointers (<= 127) or the CFI unwinder (<= 1024). */
#define BPFSPY_MAX_USER_FRAMES BPFSPY_MAX_NATIVE_FRAMES

/* --native: user stack bytes copied per sample (--stack-size). */
#define BPFSPY_DEFAULT_STACK_SNAPSHOT 16384
#define BPFSPY_MAX_STACK_SNAPSHOT 65536

/*
 * Processes of the targets' trees followed at once. A hash map's buckets are
 * set up when it is created, ~33 ns each on the benchmark VM: 65536 cost 2 ms
 * of every start; a child forked past the limit is counted as a lost event.
 */
#define BPFSPY_MAX_FOLLOWED 16384

/* Python frames walked per sample: default and hard ceiling (--max-depth). */
#define BPFSPY_DEFAULT_PY_DEPTH 1024 /* deep enough for any real import chain; the walk stops at the stack's end */
#define BPFSPY_MAX_PY_DEPTH 1024

enum bpfspy_event_type {
	EV_SAMPLE = 1,   /* struct bpfspy_sample + variable payload */
	EV_EXEC = 2,     /* struct bpfspy_proc_event: a followed process called execve */
	EV_EXIT = 3,     /* struct bpfspy_proc_event: a followed process (thread group) exited */
	EV_FORK = 4,     /* struct bpfspy_proc_event: a followed process created a child process */
	EV_MMAP_EXEC = 5, /* struct bpfspy_proc_event: a followed process mapped new executable code */
	EV_CODE = 6,      /* struct bpfspy_code_event: bytes of a code object seen for the first time */
	EV_OFFCPU_END = 7 /* struct bpfspy_offcpu_end: a thread is back on a CPU (--idle) */
};

/* --idle: the thread whose off-CPU sample (SAMPLE_OFFCPU, ts_ns == since_ns) is pending came back. */
struct bpfspy_offcpu_end {
	__u32 type;
	__u32 pid;
	__u32 tid;
	__u32 _pad;
	__u64 since_ns;
	__u64 duration_ns;
};

/*
 * --idle with -p/-a: a thread of a followed process found blocked when
 * sampling starts (read by a task iterator, not sent through the ring
 * buffer). BPF has set its offcpu_since to since_ns, so its return to a CPU
 * gives the usual EV_OFFCPU_END; userspace reads its Python stack and builds
 * the off-CPU sample BPF could not take. kernel[] holds n_kernel entries.
 */
struct bpfspy_offcpu_seed {
	__u32 pid;
	__u32 tid;
	__u64 since_ns;
	__u64 fsbase;
	__u64 ip, sp, bp; /* the user registers it will resume with */
	__u32 reason;     /* enum offcpu_reason */
	__u16 n_kernel;
	__u16 _pad;
	char comm[BPFSPY_COMM_LEN];
	__u64 kernel[BPFSPY_MAX_KERNEL_FRAMES];
};

/* bpfspy_sample.flags */
enum sample_flags {
	SAMPLE_USER_REGS_KERNEL = 1u << 0, /* the sample hit kernel mode */
	SAMPLE_PY_NO_TSTATE = 1u << 1,     /* Python process, no thread state for this thread */
	SAMPLE_PY_TRUNCATED = 1u << 2,     /* Python walk stopped at the depth limit */
	SAMPLE_PY_ERROR = 1u << 3,         /* Python walk hit an unreadable pointer */
	SAMPLE_PY_PROCESS = 1u << 4,       /* the process had a Python config when sampled */
	SAMPLE_OFFCPU = 1u << 5,           /* weight is off-CPU time, not one tick */
	SAMPLE_GIL_HOLDER = 1u << 6,       /* the thread held the GIL when sampled */
	SAMPLE_USER_CFI = 1u << 7          /* user frames come from the in-kernel CFI unwinder; why it
					      stopped is in unwind_stop */
};

/* One Python frame as the BPF walker saw it. */
struct py_frame_rec {
	__u64 code;  /* PyCodeObject address (0 for a boundary marker) */
	__u64 sig;   /* co_filename ^ co_name pointers: guards against a reused code address */
	__u32 lasti; /* instruction offset: see py_offsets.lasti_kind */
	__u32 flags; /* enum py_frame_flags */
};

/* lasti of a frame pushed but not yet run (3.8-3.10: f_lasti -1; 3.11+: instr before its first instruction) */
#define PY_LASTI_NOT_STARTED 0xffffffffu

enum py_frame_flags {
	PYF_ENTRY = 1u << 0, /* last frame of a native _PyEval_EvalFrameDefault activation */
	PYF_SHIM = 1u << 1   /* C-stack entry/shim frame (3.12+ owner >= 3): a boundary, no code */
};

/*
 * Fixed header of an EV_SAMPLE record. The payload follows in this order:
 *   __u64 user_ips[n_user]   (the sampled ip, then return addresses);  __u64 kernel_ips[n_kernel];  struct py_frame_rec py[n_py];
 *   __u8 stack_bytes[stack_len]   (--native: the user stack from sp; never written to disk)
 * Innermost frame first in every array.
 */
struct bpfspy_sample {
	__u32 type;
	__u32 pid;  /* thread group id, root PID namespace */
	__u32 tid;  /* thread id, root PID namespace */
	__u32 cpu;
	__u64 ts_ns;     /* bpf_ktime_get_ns() */
	__u64 weight_ns; /* 0 for an on-CPU tick, else off-CPU duration (--idle) */
	__u64 fsbase;    /* the thread's fs_base (pthread_self on x86_64 glibc) */
	__u64 tstate;    /* PyThreadState the walk used, 0 if none */
	__u64 asyncio_task; /* the thread's running asyncio task (py_offsets.ts_asyncio_task), 0 if none */
	/* user registers at the sample, for the snapshot unwinder */
	__u64 ip, sp, bp;
	__u32 flags;
	__u16 n_user;
	__u16 n_kernel;
	__u16 n_py;
	__u16 unwind_stop; /* enum unwind_stop_reason, with SAMPLE_USER_CFI */
	__u32 stack_len;
	__u32 offcpu_reason; /* enum offcpu_reason, with SAMPLE_OFFCPU */
	char comm[BPFSPY_COMM_LEN];
};

/* why an off-CPU thread waits, from its state and the system call it sleeps in */
enum offcpu_reason { OFFCPU_UNKNOWN = 0, OFFCPU_SLEEP, OFFCPU_IO, OFFCPU_FUTEX, OFFCPU_PREEMPTED, OFFCPU_POLL, OFFCPU_CHILD };

/* EV_EXEC / EV_EXIT / EV_FORK / EV_MMAP_EXEC */
struct bpfspy_proc_event {
	__u32 type;
	__u32 pid;        /* process (tgid) the event is about */
	__u32 ppid;       /* EV_FORK: parent tgid */
	__u32 exit_code;  /* EV_EXIT */
	__u64 ts_ns;
	__u64 addr;       /* EV_MMAP_EXEC: start of the new mapping */
	char comm[BPFSPY_COMM_LEN];
};

/*
 * A code object's bytes, captured by the walker the first time it meets the
 * (process, code, sig): module code objects are freed right after their
 * import, long before userspace could read them. Regions are copied from the
 * object's start: the code object's fixed part, its three strings (header +
 * the first characters) and its line table (bytes object header + data).
 * Region i lives at data offset CODE_REGION_OFFSET(i) after the header.
 */
enum code_region {
	CODE_REGION_OBJECT = 0,
	CODE_REGION_FILENAME,
	CODE_REGION_NAME,
	CODE_REGION_QUALNAME,
	CODE_REGION_LINETABLE,
	CODE_REGIONS
};

#define CODE_OBJECT_CAPTURE_MAX 0x100
#define CODE_STRING_CAPTURE_MAX 0x140
#define CODE_LINETABLE_CAPTURE_MAX 0x4000

#define CODE_REGION_OFFSET(i)                                   \
	((i) == CODE_REGION_OBJECT ? 0 :                        \
	 (i) == CODE_REGION_LINETABLE ? CODE_OBJECT_CAPTURE_MAX + 3 * CODE_STRING_CAPTURE_MAX : \
	 CODE_OBJECT_CAPTURE_MAX + ((i) - 1) * CODE_STRING_CAPTURE_MAX)
#define CODE_CAPTURE_DATA_MAX (CODE_REGION_OFFSET(CODE_REGION_LINETABLE) + CODE_LINETABLE_CAPTURE_MAX)

struct bpfspy_code_event {
	__u32 type;
	__u32 pid;
	__u64 code;
	__u64 sig;
	__u64 addr[CODE_REGIONS]; /* where each region was read from, 0 if not captured */
	__u32 len[CODE_REGIONS];  /* bytes captured per region */
	__u32 _pad;
	/* __u8 data[]: regions at CODE_REGION_OFFSET(i) */
};

/* Per-CPU counters in the stats map. */
enum stat_index {
	STAT_SAMPLES = 0,      /* samples of followed threads */
	STAT_LOST = 1,         /* ring buffer full: sample dropped */
	STAT_PY_NO_TSTATE = 2,
	STAT_PY_ERRORS = 3,
	STAT_EVENTS_LOST = 4,  /* process events dropped */
	STAT_CODE_CAPTURED = 5, /* code objects captured at first sight */
	STAT_CODE_LOST = 6,     /* code captures dropped (ring buffer full) */
	STAT_MAX = 8
};

/* Values of the follow map (tgid -> u8). */
enum follow_state { FOLLOW_NO = 0, FOLLOW_YES = 1 };

#endif
