/* SPDX-License-Identifier: MIT */
/*
 * Loads the BPF sampler, attaches it (tracepoints first, then one cpu-clock
 * perf event per CPU), and gives the recorder the few operations it needs on
 * the maps. Everything libbpf-specific stays here.
 */
#ifndef BPFSPY_LOADER_H
#define BPFSPY_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfspy_events.h"
#include "pyoffsets.h"

struct sampler_options {
	unsigned rate_hz;
	bool follow_all;
	bool follow_children;
	bool kernel_stacks;
	unsigned py_max_depth;
	unsigned stack_snapshot_bytes; /* --native: user stack bytes copied per sample, 0 = off */
	unsigned new_code_snapshot_bytes; /* kernel unwinding: copied when a frame's code has no table yet */
	bool native_merge;             /* --native: copy stacks for samples with Python frames too */
	bool offcpu;                   /* --idle: record off-CPU stacks from sched_switch */
	bool kernel_unwind;            /* unwind user stacks in the kernel (processes with tables installed) */
	unsigned native_max_frames;    /* frames the in-kernel unwinder walks, 0 = default */
	bool unwind_compare;           /* also copy the stack of kernel-unwound samples (test oracle) */
	const char *btf_path; /* kernel BTF to check for (default /sys/kernel/btf/vmlinux) */
};

struct sampler_stats {
	uint64_t samples;     /* samples of followed threads taken in BPF */
	uint64_t lost;        /* dropped because the ring buffer was full */
	uint64_t events_lost; /* process events dropped */
	uint64_t py_no_tstate;
	uint64_t py_errors;
	uint64_t code_captured; /* code objects sent with their bytes */
	uint64_t code_lost;
};

/* Called for every record, in ring-buffer order. Return non-zero to stop the poll. */
typedef int (*sampler_record_fn)(void *ctx, const void *data, size_t size);

struct sampler;

/* Loads the programs (not attached yet). On failure err holds one line for the user. */
int sampler_open(const struct sampler_options *o, sampler_record_fn fn, void *ctx, struct sampler **out,
		 char *err, size_t errlen);
/* Attaches process tracking and the per-CPU perf events. */
int sampler_attach(struct sampler *s, char *err, size_t errlen);
void sampler_close(struct sampler *s);

int sampler_follow(struct sampler *s, pid_t pid);
int sampler_set_python(struct sampler *s, pid_t pid, const struct py_proc *p);
int sampler_set_pending(struct sampler *s, pid_t pid, bool pending);

/* The maps the in-kernel unwinder reads: file id -> rows, tgid -> mappings (for native/kernel_unwind.c). */
int sampler_unwind_files_fd(const struct sampler *s);
int sampler_unwind_procs_fd(const struct sampler *s);

/*
 * --idle, after sampler_attach: finds the threads of followed processes that
 * have been blocked since before the scheduler hook was attached, makes BPF
 * count them off-CPU from then (their next switch-in gives EV_OFFCPU_END with
 * since_ns = the seed's), and calls fn once per such thread. Returns how many,
 * or -1 with one line in err.
 */
typedef void (*sampler_seed_fn)(void *ctx, const struct bpfspy_offcpu_seed *seed);
int sampler_seed_offcpu(struct sampler *s, sampler_seed_fn fn, void *ctx, char *err, size_t errlen);

/* --idle: when tid left the CPU if BPF counts it off-CPU now; -1 if it does not. */
int sampler_offcpu_since(struct sampler *s, pid_t tid, uint64_t *since_ns);

/* Waits up to timeout_ms for data (or a sampler_wake_on_fd fd), then drains everything queued. Returns records seen or <0. */
int sampler_poll(struct sampler *s, int timeout_ms);

/*
 * sampler_poll also wakes, once, when fd becomes readable (a pidfd: its
 * process exited); sampler_take_fd_ready then says so, and clears it.
 * Returns 0 or -errno. The caller keeps fd open while the sampler lives.
 */
int sampler_wake_on_fd(struct sampler *s, int fd);
bool sampler_take_fd_ready(struct sampler *s);
void sampler_read_stats(struct sampler *s, struct sampler_stats *out);

/*
 * Routes libbpf's own messages to stderr only at -vv, never its debug
 * chatter: every BPF object bpfspy opens (the sampler, dump's thread
 * iterator) calls this first.
 */
void loader_set_libbpf_print(void);

/* Checks that we may load BPF and open perf events; one line in err if not. */
int sampler_check_privileges(char *err, size_t errlen);

#endif
