/* SPDX-License-Identifier: MIT */
/*
 * --idle: pairs the stack a thread had when it left the CPU with the record
 * of its return, which carries how long it was away. An interval stays open
 * here until then, the process exits, or the recording ends.
 */
#ifndef BPFSPY_RECORDER_OFFCPU_PAIRING_H
#define BPFSPY_RECORDER_OFFCPU_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfspy_events.h"

struct offcpu_interval {
	uint32_t pid, tid;
	uint64_t since_ns;
	/* The sample itself, kept when BPF took it before it knew the process is Python (a process
	 * just exec'd): once detection catches up, the stack can be read again. */
	void *raw;
	/* --async-aware: an idle event loop's waiting tasks' stacks, each [length, frames root first...],
	 * which share the interval's time in place of frames */
	uint32_t *tasks;
	size_t ntask_stacks;
	size_t n;
	uint32_t frames[]; /* root first */
};

void offcpu_interval_free(struct offcpu_interval *iv);

struct offcpu_pairing;

struct offcpu_pairing *offcpu_pairing_new(void);
void offcpu_pairing_free(struct offcpu_pairing *op);

/* Opens s's thread's interval with its stack (replacing one still open); a copy of s when keep_raw. */
void offcpu_pairing_hold(struct offcpu_pairing *op, const struct bpfspy_sample *s, size_t size, bool keep_raw,
			 const uint32_t *frames, size_t n);

/* Gives tid's interval opened at since_ns the stacks of its waiting tasks (taken over; freed if none). */
void offcpu_pairing_attach_tasks(struct offcpu_pairing *op, uint32_t tid, uint64_t since_ns, uint32_t *tasks,
				 size_t ntask_stacks);

/* The interval the thread's return ends (opened at since_ns), removed; NULL if none. */
struct offcpu_interval *offcpu_pairing_end(struct offcpu_pairing *op, uint32_t tid, uint64_t since_ns);

/* One open interval of pid (any pid when pid is 0), removed; NULL when there is none. */
struct offcpu_interval *offcpu_pairing_take(struct offcpu_pairing *op, uint32_t pid);

/* The kept sample of one open interval of pid, handed over (the interval stays open); NULL when none. */
void *offcpu_pairing_take_raw(struct offcpu_pairing *op, uint32_t pid);

/* Visits open intervals; cursor starts at 0; NULL at the end. */
const struct offcpu_interval *offcpu_pairing_next(const struct offcpu_pairing *op, size_t *cursor);

#endif
