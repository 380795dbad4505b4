/* SPDX-License-Identifier: MIT */
/*
 * Turns the sampler's records into profile samples: keeps per-process state
 * (mappings snapshot, Python detection, symbolizers), reacts to exec/fork/
 * mmap/exit, and names every frame while the process is still alive.
 */
#ifndef BPFSPY_RECORDER_H
#define BPFSPY_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampler/sampler.h"
#include "profile/profile.h"
#include "recorder/sample_sink.h"

struct recorder_options {
	bool kernel_stacks; /* --kernel */
	bool function_only; /* -F: line = first line of the function */
	bool no_lineno;     /* --nolineno */
	bool gil_only;      /* --gil: keep samples of GIL holders only */
	bool idle;          /* --idle: weights are nanoseconds, off-CPU time included */
	bool native;        /* --native: unwind the stack snapshot, merge Python frames */
	bool native_all;    /* --native-all: keep interpreter plumbing frames */
	bool kernel_unwind; /* install CFI tables for the in-kernel unwinder (--unwind kernel) */
	bool async_aware;   /* --async-aware: a running asyncio task's coroutines under its awaiting tasks */
	unsigned rate_hz;   /* sampling rate: an on-CPU tick weighs 1e9/rate ns with --idle */
	unsigned py_max_depth; /* --max-depth: Python frames read from user space too */
	unsigned stack_bytes;  /* user stack bytes read for a blocked thread's native frames (0: default) */
	const char *comm_filter; /* --comm: keep processes whose comm contains this */
	const uint32_t *pid_filter; size_t npid_filter; /* --pid-filter */
	struct sample_sink sink; /* where finished samples go; none set (NULL add_sample): the profile */
};

struct recorder_stats {
	uint64_t samples;             /* samples added to the profile */
	uint64_t py_process_samples;  /* samples of processes known to be Python */
	uint64_t py_samples_with_frames;
	uint64_t py_window_samples;   /* samples between a thread's first and last sample with Python frames */
	uint64_t py_truncated;
	uint64_t py_unresolved_frames; /* code objects that could not be read */
	uint64_t code_captures_unusable; /* captured code objects that did not decode */
	uint64_t gil_dropped;
	uint64_t filtered;            /* dropped by --comm / --pid-filter */
	uint64_t offcpu_samples;      /* off-CPU intervals recorded */
	uint64_t offcpu_ns;
	uint64_t malformed;
	uint64_t native_only_samples;  /* default mode: samples shown with kernel-unwound native frames */
	uint64_t native_only_complete; /* of those, the ones that reached the program's entry */
	size_t processes;              /* processes seen */
	size_t python_processes;
};

struct recorder;

struct recorder *recorder_new(const struct recorder_options *o, struct profile *profile);
void recorder_free(struct recorder *r);
/* Must be set before records arrive: the recorder installs Python configs through it. */
void recorder_set_sampler(struct recorder *r, struct sampler *s);

/*
 * sampler_record_fn, called from the ring-buffer callback: it only copies
 * the record. recorder_process_records handles the copies once the poll
 * returns, so Python detection, ELF parsing and /proc reads never hold the
 * ring buffer's space while more samples arrive.
 */
int recorder_on_record(void *ctx, const void *data, size_t size);
/* Handles the records copied since the last call, in the order BPF sent them. */
void recorder_process_records(struct recorder *r);

/*
 * Makes pid known before it runs (launch, -p, -a pre-scan): snapshots its
 * mappings and installs its Python config if it is a Python process.
 */
void recorder_add_process(struct recorder *r, pid_t pid);
/*
 * Reads the symbols of the program at path, which a command about to be
 * launched will run: after its exec, Python starts running within
 * milliseconds, too soon to parse a large interpreter binary then.
 */
void recorder_preload_program(struct recorder *r, const char *path);

void recorder_read_stats(const struct recorder *r, struct recorder_stats *out);

/*
 * Installs the unwind tables of up to max_processes processes whose exec,
 * fork or new code was seen (oldest first); call it between batches of
 * records. Returns how many still wait: poll without sleeping while any do.
 */
size_t recorder_install_queued_tables(struct recorder *r, size_t max_processes);

/*
 * Whether records should be handled within a fraction of a second rather
 * than within one: while a Python process uses threading, a thread's name is
 * read from the process while the thread still runs. Otherwise nothing in a
 * record spoils by waiting (process events wake the reader themselves).
 */
bool recorder_wants_prompt_handling(const struct recorder *r);

struct kernel_unwind_stats;
/* The in-kernel unwinder's tables (all zero without it). */
void recorder_read_unwind_stats(const struct recorder *r, struct kernel_unwind_stats *out);

/* The Python version detected in pid ("3.12.1") while it is followed; false if none (yet). */
bool recorder_python_version(const struct recorder *r, pid_t pid, char *buf, size_t len);

/* The Python version detected in pid ("3.12.1") while it is followed; false if none (yet). */
bool recorder_python_version(const struct recorder *r, pid_t pid, char *buf, size_t len);

/* Says once that a process the user named is not Python (its native stacks are shown). */
void recorder_note_if_not_python(struct recorder *r, pid_t pid);

/* With --native: one summary line about unwinding and merging (empty otherwise). */
void recorder_native_summary(const struct recorder *r, char *buf, size_t len);

/*
 * --idle with -p/-a, right after sampler_attach: every thread of a followed
 * process blocked since before the attach is counted off-CPU from then, with
 * its current stacks read from user space and its wait reason. Returns the
 * number of such threads, or -1 (one line in err) if they cannot be read.
 */
int recorder_seed_offcpu(struct recorder *r, char *err, size_t errlen);

/* Ends recording at now_ns (CLOCK_MONOTONIC): threads still off-CPU get their time so far. */
void recorder_finish(struct recorder *r, uint64_t now_ns);

#endif
