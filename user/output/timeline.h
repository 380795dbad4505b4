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

/* Writes ns as microseconds with three decimals ("1234.567"): exact, and what both formats expect. */
void timeline_write_us(FILE *f, uint64_t ns);

/* Writes ns as milliseconds with six decimals (the Gecko format's unit). */
void timeline_write_ms(FILE *f, uint64_t ns);

/*
 * The JSON string of each frame as collapsed output shows it ("name
 * (file:line)", "name", "name_[k]"), formatted and escaped once per frame.
 */
struct frame_names {
	char **text; /* frame id -> quoted JSON string, built on first use */
	size_t count;
};
int frame_names_init(struct frame_names *n, const struct profile *p);
/* The quoted JSON string for frame_id, or NULL (ENOMEM). */
const char *frame_names_get(struct frame_names *n, const struct profile *p, uint32_t frame_id);
void frame_names_free(struct frame_names *n);

#endif
