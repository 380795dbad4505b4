/* SPDX-License-Identifier: MIT */
/*
 * The recorder's parts that see its state: recorder.c (dispatch, samples,
 * processes, off-CPU time) and user_stacks.c (stacks read from user space).
 * Nothing outside user/recorder/ includes this.
 */
#ifndef BPFSPY_RECORDER_RECORDER_INTERNAL_H
#define BPFSPY_RECORDER_RECORDER_INTERNAL_H

#include "process/target_process.h"
#include "recorder/recorder.h"
#include "recorder/stack_builder.h"
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

/* The process of pid, known or read now; NULL when out of memory. */
struct target_process *recorder_process_get(struct recorder *r, pid_t pid, const char *comm);
/* --comm and --pid-filter */
bool recorder_passes_filters(const struct recorder *r, const struct bpfspy_sample *s);
/* One sample (validated here), as BPF sent it or as user space rebuilt it. */
void recorder_take_sample(struct recorder *r, const struct bpfspy_sample *s, size_t size);
/*
 * An off-CPU sample BPF took before the process had its Python config: while
 * the thread has not run since, its Python frames are read from its thread
 * state and the sample is taken as BPF would have sent it. false leaves it.
 */
bool recorder_restack_offcpu(struct recorder *r, struct target_process *p, const struct bpfspy_sample *s);
/* Python was just detected in p: its threads' pending off-CPU stacks get their Python frames. */
void recorder_restack_pending_offcpu(struct recorder *r, struct target_process *p);

#endif
