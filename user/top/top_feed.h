/* SPDX-License-Identifier: MIT */
/*
 * Counts each sample, as the recorder finishes it, in the two `top` tables
 * (rows by function and by function + line): nothing is kept per sample,
 * and frame ids map to rows through a cache, so the cost of a sample is its
 * depth and memory grows with the distinct frames only. Stacks show their
 * Python frames only, as py-spy's top does: a stack without any (a native
 * process, interpreter start-up) counts in the totals but adds no row, unless
 * native_fallback asks to show its native frames (whole-host view); with
 * native every frame is shown. Marker frames are left out. Rows count
 * weights: samples, or nanoseconds in a wall-clock (--idle) profile.
 */
#ifndef BPFSPY_TOP_FEED_H
#define BPFSPY_TOP_FEED_H

#include <stdbool.h>

#include "profile/profile.h"
#include "top/top_table.h"

struct top_feed;

struct top_feed *top_feed_new(struct top_table *by_function, struct top_table *by_line, bool full_filenames,
			      bool native, bool native_fallback);
void top_feed_free(struct top_feed *f);

/*
 * One sample: frames are frame ids of p, root first. Returns 0, or -1 when
 * out of memory (the sample is then missing from the tables).
 */
int top_feed_add_sample(struct top_feed *f, const struct profile *p, const uint32_t *frames, size_t n,
			uint64_t weight);

#endif
