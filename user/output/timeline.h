/* SPDX-License-Identifier: MIT */
/*
 * What the two timeline writers (chrometrace, gecko) share: every process and
 * thread on the recording's one clock. Sample times are CLOCK_MONOTONIC from
 * the kernel; a timeline shows them relative to the recording's start.
 */
#ifndef BPFSPY_OUTPUT_TIMELINE_H
#define BPFSPY_OUTPUT_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"

/* The time every timeline counts from: the recording's start, or the first sample if earlier. */
uint64_t timeline_origin_ns(const struct profile *p);

/*
 * A thread's runs as spans of time, the one reading both writers draw: a
 * span ends where its run ended, but never after the next run began (runs
 * of a thread can overlap by a sample's jitter) nor after its process
 * exec'd or exited (a sample stands for a period the process may not have
 * lived through). Times are ns from the origin.
 */
struct timeline_span {
	uint32_t stack_id;
	uint64_t nsamples, weight;
	uint64_t start_ns, end_ns;
	bool after_gap;  /* the thread was not seen between the previous span and this one */
	bool new_image;  /* its process exec'd since the previous span: nothing carries over */
};
typedef int (*timeline_span_fn)(void *arg, const struct timeline_span *span);

struct timeline {
	const struct profile *p;
	uint64_t origin_ns;
	uint64_t slack_ns; /* half a sampling period: timer jitter, not a gap */
	struct timeline_bound *bounds; /* exec and exit times, by pid then time */
	size_t nbounds;
};
int timeline_init(struct timeline *tl, const struct profile *p);
void timeline_free(struct timeline *tl);
/* Calls fn for each span of thread thread_idx (profile_thread_at's index), in time order. */
int timeline_thread_spans(const struct timeline *tl, size_t thread_idx, timeline_span_fn fn, void *arg);

/* Whether pid has a sampled thread (process events of others are left out). */
bool timeline_pid_sampled(const struct profile *p, uint32_t pid);

/* "start", "exec" or "exit". */
const char *timeline_event_name(enum process_event_kind kind);

/*
 * Formats ns as decimal microseconds (div 1000) or milliseconds (div
 * 1000000), exact, without trailing zeros ("1234.5", "7"), into buf (at
 * least TIMELINE_NUMBER_MAX bytes); returns the end of what was written. The
 * writers emit millions of numbers: this is their hot path.
 */
#define TIMELINE_NUMBER_MAX 32
char *timeline_format_decimal(char *buf, uint64_t ns, uint64_t div);

/* The same, written to f. */
void timeline_write_us(FILE *f, uint64_t ns);
void timeline_write_ms(FILE *f, uint64_t ns);

/*
 * Frames as a timeline shows them: a call, not a line. Frames that differ
 * only in their line (one function, sampled on several lines) share one
 * function id, so a slice lasts as long as the call, and is named like a
 * collapsed frame without the line: "name (file)", "name", "name_[k]". The
 * quoted JSON name is formatted once per function.
 */
struct frame_names {
	uint32_t *function; /* frame id -> function id (the first frame id with its name, file and kind) */
	char **text;        /* function id -> quoted JSON string, built on first use */
	size_t count;
};
int frame_names_init(struct frame_names *n, const struct profile *p);
static inline uint32_t frame_names_function(const struct frame_names *n, uint32_t frame_id)
{
	return frame_id < n->count ? n->function[frame_id] : frame_id;
}
/* The quoted JSON name of frame_id's function, or NULL (ENOMEM). */
const char *frame_names_get(struct frame_names *n, const struct profile *p, uint32_t frame_id);
void frame_names_free(struct frame_names *n);

#endif
