/* SPDX-License-Identifier: MIT */
/*
 * The in-memory profile every recorder fills and every writer reads.
 *
 * Frames are interned (name, file, line, kind) -> frame id. Stacks are
 * interned in a prefix tree (parent stack id, frame id) -> stack id, so a
 * stack costs one node per distinct frame path. Each thread keeps its samples
 * in time order as (stack id, weight) runs: consecutive samples on the same
 * stack merge into one run. 1 M samples therefore cost a few MB, and the
 * speedscope "time order" view stays truthful.
 */
#ifndef BPFSPY_PROFILE_H
#define BPFSPY_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum frame_kind {
	FRAME_PYTHON = 0,
	FRAME_NATIVE = 1,
	FRAME_KERNEL = 2,
	FRAME_MARKER = 3 /* synthetic: [truncated], [merge mismatch], [off-cpu], ... */
};

struct frame_desc {
	const char *name; /* function; never NULL */
	const char *file; /* Python file, or the ELF module path for native frames; NULL if none */
	int line;         /* >0 for a known line, 0 for none */
	enum frame_kind kind;
};

enum profile_unit {
	PROFILE_UNIT_SAMPLES = 0,    /* weights count samples (on-CPU ticks) */
	PROFILE_UNIT_NANOSECONDS = 1 /* weights are nanoseconds (--idle wall clock) */
};

struct profile_meta {
	const char *command;   /* shown in titles: the launched command line, "pid 123", "all processes" */
	unsigned rate_hz;
	enum profile_unit unit;
	uint64_t start_ns;     /* CLOCK_MONOTONIC at start of recording */
	uint64_t end_ns;       /* set by profile_finish() callers before writing */
	uint64_t start_realtime_ns; /* wall clock at start, for titles */
};

struct profile;

struct profile *profile_new(const struct profile_meta *meta);
void profile_free(struct profile *p);
struct profile_meta *profile_meta(struct profile *p);
const struct profile_meta *profile_meta_const(const struct profile *p);

/* Returns the frame id; the strings are copied. */
uint32_t profile_intern_frame(struct profile *p, const struct frame_desc *f);
/*
 * The same, and a native frame seen for the first time files its module in
 * the module table with the build-id build_id_of(ctx, file) gives (NULL:
 * unknown, then nothing is filed). The recorder passes what the normalizer
 * found for the file a moment ago, while the process is alive. The build-id
 * is no part of the frame's identity, so frames are not multiplied.
 */
typedef const char *(*profile_build_id_fn)(void *ctx, const char *path);
uint32_t profile_intern_frame_normalized(struct profile *p, const struct frame_desc *f,
					 profile_build_id_fn build_id_of, void *ctx);
const struct frame_desc *profile_frame(const struct profile *p, uint32_t frame_id);
size_t profile_frame_count(const struct profile *p);

/*
 * Modules: the files native frames came from, with the build-id each had
 * when it was recorded, so that writers never re-open a file by path (it may
 * be gone, replaced, or in another container by then). Keyed by path: a
 * native frame's module is the one its file names. If two files share a path
 * (two containers), the first known build-id stays.
 */
struct profile_module {
	const char *path;
	const char *build_id; /* lowercase hex; "" if none is known */
};
/* Adds path, or gives it build_id if it had none. Returns 0, or -1 (ENOMEM, or EINVAL for NULL). */
int profile_add_module(struct profile *p, const char *path, const char *build_id);
size_t profile_module_count(const struct profile *p);
/* In the order they were added; NULL for idx >= profile_module_count(). */
const struct profile_module *profile_module_at(const struct profile *p, size_t idx);
const struct profile_module *profile_find_module(const struct profile *p, const char *path);
/* The module of a native frame, found by its file; NULL for other frames and unknown files. */
const struct profile_module *profile_frame_module(const struct profile *p, uint32_t frame_id);

/* Process and thread names; the last call wins. comm is the kernel's comm. */
void profile_set_process_name(struct profile *p, uint32_t pid, const char *comm);
void profile_set_thread_name(struct profile *p, uint32_t pid, uint32_t tid, const char *name);

/*
 * Adds one sample: frames root first, n may be 0 (an empty stack is stored as
 * a single "[unknown]" marker frame). weight is 1 per tick in
 * PROFILE_UNIT_SAMPLES, or nanoseconds. ts_ns orders samples within a thread.
 * Returns 0, or -1 on allocation failure.
 */
int profile_add_sample(struct profile *p, uint32_t pid, uint32_t tid,
		       const uint32_t *frames, size_t n, uint64_t weight, uint64_t ts_ns);

/*
 * What happened to a process while it was followed, for timelines: it
 * started (fork or launch), replaced its image (exec; comm is the new one),
 * or exited. Times are CLOCK_MONOTONIC.
 */
enum process_event_kind { PROCESS_EVENT_START = 0, PROCESS_EVENT_EXEC = 1, PROCESS_EVENT_EXIT = 2 };
struct profile_process_event {
	uint32_t pid;
	enum process_event_kind kind;
	uint64_t ts_ns;
	char comm[16]; /* the kernel's comm after the event */
};
/* A recording keeps at most this many; later ones are counted, not kept. */
#define PROFILE_MAX_PROCESS_EVENTS 1000000u
/* Returns 0, or -1 (ENOMEM); comm may be NULL. */
int profile_add_process_event(struct profile *p, uint32_t pid, enum process_event_kind kind,
			      uint64_t ts_ns, const char *comm);
size_t profile_process_event_count(const struct profile *p);
/* In the order they were added (the ring buffer's order: by time within a process). */
const struct profile_process_event *profile_process_event_at(const struct profile *p, size_t idx);

/* Totals, for the end summary and for tests. */
uint64_t profile_total_weight(const struct profile *p);
uint64_t profile_sample_count(const struct profile *p);
size_t profile_process_count(const struct profile *p);
size_t profile_thread_count(const struct profile *p);

/*
 * Iteration for writers. Threads come grouped by pid, pids in first-seen
 * order, threads in first-seen order within a pid.
 */
struct profile_thread_info {
	uint32_t pid, tid;
	const char *process_name; /* comm, never NULL */
	const char *thread_name;  /* NULL if unknown */
	uint64_t total_weight;
	uint64_t samples;
	uint64_t first_ts_ns, last_ts_ns;
};
/* Fills *out and returns 1 for idx < profile_thread_count(), else returns 0. */
size_t profile_thread_at(const struct profile *p, size_t idx, struct profile_thread_info *out);

/*
 * A run: consecutive samples of one thread on one stack with no sample
 * missing between them. start_ns is the first sample's time; end_ns is the
 * last one's time plus its duration (one sampling period, or the weight of a
 * nanosecond sample), so [start_ns, end_ns) is when the thread was seen
 * there. Both are CLOCK_MONOTONIC, like profile_meta.start_ns.
 */
struct profile_run {
	uint32_t stack_id;
	uint64_t weight;
	uint64_t nsamples;
	uint64_t start_ns, end_ns;
};
/* Calls fn for each run of one thread, in time order. */
typedef int (*profile_run_fn)(void *arg, const struct profile_run *run);
/* Returns 0, the first non-zero value fn returned (iteration stops), or -1 (EINVAL) for a bad index. */
int profile_thread_runs(const struct profile *p, size_t thread_idx, profile_run_fn fn, void *arg);

/* Walk a stack: fills frames root first into out (up to cap), returns the depth. */
size_t profile_stack_frames(const struct profile *p, uint32_t stack_id, uint32_t *out, size_t cap);
size_t profile_stack_depth(const struct profile *p, uint32_t stack_id);

/*
 * A stack's frames, root first, in a buffer the caller keeps between calls
 * (buf and cap grow as needed; the caller frees buf at the end). Returns the depth, or
 * -1 when the buffer could not grow.
 */
long profile_stack_load(const struct profile *p, uint32_t stack_id, uint32_t **buf, size_t *cap);

/*
 * The prefix tree itself, for writers that aggregate by stack: stack ids are
 * dense in [0, profile_stack_count()), and a stack's parent id is smaller than
 * its own. parent is PROFILE_NO_STACK for a root frame (and for a bad id).
 */
#define PROFILE_NO_STACK UINT32_MAX
size_t profile_stack_count(const struct profile *p);
uint32_t profile_stack_parent(const struct profile *p, uint32_t stack_id);
uint32_t profile_stack_leaf(const struct profile *p, uint32_t stack_id); /* frame id */

/* Output formats. Each writer streams to f and returns 0 or -1 with errno set. */
enum output_format {
	OUTPUT_SPEEDSCOPE = 0,
	OUTPUT_COLLAPSED = 1,
	OUTPUT_FLAMEGRAPH = 2, /* interactive SVG */
	OUTPUT_PPROF = 3,      /* gzipped profile.proto */
	OUTPUT_CHROMETRACE = 4, /* Trace Event Format JSON: one track per thread on one clock */
	OUTPUT_GECKO = 5       /* the Firefox Profiler's (Gecko) profile JSON */
};
#define OUTPUT_FORMAT_COUNT 6

struct write_options {
	bool include_process_prefix; /* collapsed: prefix "comm (pid N)" when >1 process; auto when false */
	bool include_thread_ids;     /* collapsed: a "thread (0xTID)[: NAME]" root frame per thread, as py-spy -t */
};

int write_speedscope(const struct profile *p, FILE *f, const struct write_options *o);
int write_collapsed(const struct profile *p, FILE *f, const struct write_options *o);
int write_flamegraph(const struct profile *p, FILE *f, const struct write_options *o);
int write_pprof(const struct profile *p, FILE *f, const struct write_options *o);
int write_chrometrace(const struct profile *p, FILE *f, const struct write_options *o);
int write_gecko(const struct profile *p, FILE *f, const struct write_options *o);

/*
 * Formats a frame the way collapsed output and `top` show it: Python frames
 * "name (file:line)" (or "name (file)" without a line), native and marker
 * frames "name", kernel frames "name_[k]". Returns what snprintf returns
 * (the untruncated length), or -1 (EINVAL) for a bad frame id.
 */
int profile_format_frame(const struct profile *p, uint32_t frame_id, char *buf, size_t len);

#endif
