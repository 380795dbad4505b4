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

#include "profile.h"

/* The time every timeline counts from: the recording's start, or the first sample if earlier. */
uint64_t timeline_origin_ns(const struct profile *p);

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
