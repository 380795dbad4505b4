// SPDX-License-Identifier: MIT
/* The profile: processes, threads and their time-ordered sample runs. */
#include "profile/profile_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sorted.h"

static int replace_string(char **slot, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && !copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

struct profile *profile_new(const struct profile_meta *meta)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (meta)
		p->meta = *meta;
	/* the caller's command string may not outlive the recording */
	if (p->meta.command) {
		p->command_copy = strdup(p->meta.command);
		if (!p->command_copy) {
			free(p);
			return NULL;
		}
		p->meta.command = p->command_copy;
	}
	p->unknown_frame = ID_NONE;
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct profile_thread *t = &p->threads[i];

		free(t->name);
		free(t->runs);
		free(t->recent_frames);
		free(t->recent_stacks);
	}
	for (size_t i = 0; i < p->nprocesses; i++)
		free(p->processes[i].comm);
	free(p->threads);
	free(p->processes);
	free(p->process_order);
	free(p->thread_order);
	id_map_free(&p->thread_index);
	id_map_free(&p->process_index);
	stack_tree_free(&p->stacks);
	frame_table_free(&p->frames);
	module_table_free(&p->modules);
	free(p->events);
	free(p->command_copy);
	free(p);
}

struct profile_meta *profile_meta(struct profile *p)
{
	return &p->meta;
}

const struct profile_meta *profile_meta_const(const struct profile *p)
{
	return &p->meta;
}

/* ---- processes and threads ---- */

static uint32_t find_or_add_process(struct profile *p, uint32_t pid)
{
	uint32_t idx = id_map_get(&p->process_index, pid);

	if (idx != ID_NONE)
		return idx;
	if (array_reserve((void **)&p->processes, &p->cap_processes, p->nprocesses + 1,
			    sizeof(*p->processes)) < 0)
		return ID_NONE;
	idx = (uint32_t)p->nprocesses;
	if (id_map_put(&p->process_index, pid, idx) < 0)
		return ID_NONE;
	p->processes[idx] = (struct profile_process){ .pid = pid };
	p->nprocesses++;
	return idx;
}

static uint32_t find_or_add_thread(struct profile *p, uint32_t pid, uint32_t tid)
{
	uint64_t key = ((uint64_t)pid << 32) | tid;
	uint32_t idx = id_map_get(&p->thread_index, key);

	if (idx != ID_NONE)
		return idx;
	uint32_t process = find_or_add_process(p, pid);

	if (process == ID_NONE ||
	    array_reserve((void **)&p->threads, &p->cap_threads, p->nthreads + 1,
			    sizeof(*p->threads)) < 0)
		return ID_NONE;
	idx = (uint32_t)p->nthreads;
	if (id_map_put(&p->thread_index, key, idx) < 0)
		return ID_NONE;
	p->threads[idx] = (struct profile_thread){ .pid = pid, .tid = tid, .process = process };
	p->nthreads++;
	return idx;
}

void profile_set_process_name(struct profile *p, uint32_t pid, const char *comm)
{
	uint32_t idx = find_or_add_process(p, pid);

	/* names are cosmetic: on ENOMEM keep the old one rather than fail the caller */
	if (idx != ID_NONE)
		replace_string(&p->processes[idx].comm, comm);
}

void profile_set_thread_name(struct profile *p, uint32_t pid, uint32_t tid, const char *name)
{
	uint32_t idx = find_or_add_thread(p, pid, tid);

	if (idx != ID_NONE)
		replace_string(&p->threads[idx].name, name);
}

/*
 * A thread enters the iteration order on its first sample, right after the
 * other listed threads of its process, so writers see threads grouped by pid.
 */
static int list_thread(struct profile *p, uint32_t thread_idx)
{
	struct profile_thread *t = &p->threads[thread_idx];
	struct profile_process *proc = &p->processes[t->process];

	if (array_reserve((void **)&p->thread_order, &p->cap_thread_order,
			    p->nthread_order + 1, sizeof(*p->thread_order)) < 0 ||
	    array_reserve((void **)&p->process_order, &p->cap_process_order,
			    p->nprocess_order + 1, sizeof(*p->process_order)) < 0)
		return -1;

	if (!proc->listed) {
		proc->listed = true;
		p->process_order[p->nprocess_order++] = t->process;
	}
	size_t pos = 0;

	for (size_t i = 0; i < p->nprocess_order; i++) {
		pos += p->processes[p->process_order[i]].listed_threads;
		if (p->process_order[i] == t->process)
			break;
	}
	memmove(&p->thread_order[pos + 1], &p->thread_order[pos],
		(p->nthread_order - pos) * sizeof(*p->thread_order));
	p->thread_order[pos] = thread_idx;
	p->nthread_order++;
	proc->listed_threads++;
	t->listed = true;
	return 0;
}

/* ---- samples ---- */

static uint32_t unknown_frame(struct profile *p)
{
	if (p->unknown_frame == ID_NONE) {
		struct frame_desc f = { .name = "[unknown]", .kind = FRAME_MARKER };

		p->unknown_frame = frame_table_intern(&p->frames, &f);
	}
	return p->unknown_frame;
}

/* The stack id of frames[0..n), reusing the prefix shared with the thread's previous sample. */
static uint32_t intern_stack(struct profile *p, struct profile_thread *t,
			     const uint32_t *frames, size_t n)
{
	size_t common = 0;
	size_t limit = n < t->recent_depth ? n : t->recent_depth;

	while (common < limit && t->recent_frames[common] == frames[common])
		common++;

	size_t cap = t->recent_cap;

	if (array_reserve((void **)&t->recent_frames, &cap, n, sizeof(uint32_t)) < 0 ||
	    array_reserve((void **)&t->recent_stacks, &t->recent_cap, n, sizeof(uint32_t)) < 0) {
		t->recent_depth = 0;
		return ID_NONE;
	}
	uint32_t stack = common ? t->recent_stacks[common - 1] : ID_NONE;

	for (size_t i = common; i < n; i++) {
		stack = stack_tree_child(&p->stacks, stack, frames[i]);
		if (stack == ID_NONE) {
			t->recent_depth = i;
			return ID_NONE;
		}
		t->recent_frames[i] = frames[i];
		t->recent_stacks[i] = stack;
	}
	t->recent_depth = n;
	return stack;
}

/* Index of the first run that started after ts: where a late sample belongs. */
static size_t runs_upper_bound(const struct profile_thread *t, uint64_t ts)
{
	return SORTED_COUNT_AT_OR_BELOW(t->runs, t->nruns, first_ts_ns, ts);
}

/* How long one sample stands for: a sampling period, or its own weight in nanosecond profiles. */
static uint64_t sample_duration(const struct profile *p, uint64_t weight)
{
	if (p->meta.unit == PROFILE_UNIT_NANOSECONDS)
		return weight;
	return p->meta.rate_hz ? 1000000000ull / p->meta.rate_hz : 1;
}

/*
 * A run takes a sample on its stack only if no sample is missing between
 * them, so that a run is a span of time the thread was seen on that stack
 * (timelines draw it as one slice). Half a period of slack absorbs timer
 * jitter. Without a known rate, durations are guesses: runs then merge on
 * the stack alone.
 */
static bool run_absorbs(const struct profile *p, const struct sample_run *r, uint32_t stack,
			uint64_t ts, uint64_t duration)
{
	if (r->stack_id != stack || r->nsamples == UINT32_MAX)
		return false;
	if (!p->meta.rate_hz)
		return true;
	uint64_t slack = 500000000ull / p->meta.rate_hz;

	return ts <= r->end_ns + slack && ts + duration + slack >= r->first_ts_ns;
}

static void run_take(struct sample_run *r, uint64_t weight, uint64_t ts, uint64_t duration)
{
	r->nsamples++;
	r->weight += weight;
	if (ts < r->first_ts_ns)
		r->first_ts_ns = ts;
	if (ts + duration > r->end_ns)
		r->end_ns = ts + duration;
}

/*
 * Samples can arrive slightly out of order (per-CPU buffers). A late sample
 * goes after the last run that started before it; the samples inside a merged
 * run have no individual timestamps, so that is the best placement we know.
 */
static int add_to_runs(struct profile *p, struct profile_thread *t, uint32_t stack, uint64_t weight,
		       uint64_t ts)
{
	uint64_t duration = sample_duration(p, weight);
	size_t pos = t->nruns;

	if (t->samples && ts < t->last_ts_ns)
		pos = runs_upper_bound(t, ts);
	if (pos > 0 && run_absorbs(p, &t->runs[pos - 1], stack, ts, duration)) {
		run_take(&t->runs[pos - 1], weight, ts, duration);
		return 0;
	}
	if (pos < t->nruns && run_absorbs(p, &t->runs[pos], stack, ts, duration)) {
		run_take(&t->runs[pos], weight, ts, duration);
		return 0;
	}
	if (array_reserve((void **)&t->runs, &t->cap_runs, t->nruns + 1, sizeof(*t->runs)) < 0)
		return -1;
	memmove(&t->runs[pos + 1], &t->runs[pos], (t->nruns - pos) * sizeof(*t->runs));
	t->runs[pos] = (struct sample_run){
		.weight = weight, .first_ts_ns = ts, .end_ns = ts + duration, .stack_id = stack,
		.nsamples = 1,
	};
	t->nruns++;
	return 0;
}

static bool frames_valid(const struct profile *p, const uint32_t *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (frames[i] >= p->frames.count)
			return false;
	return true;
}

int profile_add_sample(struct profile *p, uint32_t pid, uint32_t tid,
		       const uint32_t *frames, size_t n, uint64_t weight, uint64_t ts_ns)
{
	if (n && (!frames || !frames_valid(p, frames, n))) {
		errno = EINVAL;
		return -1;
	}
	uint32_t unknown;

	if (n == 0) {
		unknown = unknown_frame(p);
		if (unknown == ID_NONE)
			return -1;
		frames = &unknown;
		n = 1;
	}
	uint32_t idx = find_or_add_thread(p, pid, tid);

	if (idx == ID_NONE)
		return -1;
	if (!p->threads[idx].listed && list_thread(p, idx) < 0)
		return -1;

	struct profile_thread *t = &p->threads[idx];
	uint32_t stack = intern_stack(p, t, frames, n);

	if (stack == ID_NONE || add_to_runs(p, t, stack, weight, ts_ns) < 0)
		return -1;
	if (!t->samples || ts_ns < t->first_ts_ns)
		t->first_ts_ns = ts_ns;
	if (!t->samples || ts_ns > t->last_ts_ns)
		t->last_ts_ns = ts_ns;
	t->samples++;
	t->total_weight += weight;
	p->samples++;
	p->total_weight += weight;
	return 0;
}

/* ---- process events ---- */

int profile_add_process_event(struct profile *p, uint32_t pid, enum process_event_kind kind,
			      uint64_t ts_ns, const char *comm)
{
	if (p->nevents >= PROFILE_MAX_PROCESS_EVENTS)
		return 0;
	if (array_reserve((void **)&p->events, &p->cap_events, p->nevents + 1, sizeof(*p->events)) < 0)
		return -1;
	struct profile_process_event *e = &p->events[p->nevents++];

	*e = (struct profile_process_event){ .pid = pid, .kind = kind, .ts_ns = ts_ns };
	if (comm)
		snprintf(e->comm, sizeof(e->comm), "%s", comm);
	return 0;
}

size_t profile_process_event_count(const struct profile *p)
{
	return p->nevents;
}

const struct profile_process_event *profile_process_event_at(const struct profile *p, size_t idx)
{
	return idx < p->nevents ? &p->events[idx] : NULL;
}

/* ---- totals and iteration ---- */

uint64_t profile_total_weight(const struct profile *p)
{
	return p->total_weight;
}

uint64_t profile_sample_count(const struct profile *p)
{
	return p->samples;
}

size_t profile_process_count(const struct profile *p)
{
	return p->nprocess_order;
}

size_t profile_thread_count(const struct profile *p)
{
	return p->nthread_order;
}

size_t profile_thread_at(const struct profile *p, size_t idx, struct profile_thread_info *out)
{
	if (idx >= p->nthread_order)
		return 0;
	const struct profile_thread *t = &p->threads[p->thread_order[idx]];
	const struct profile_process *proc = &p->processes[t->process];

	*out = (struct profile_thread_info){
		.pid = t->pid,
		.tid = t->tid,
		.process_name = proc->comm ? proc->comm : "[unknown]",
		.thread_name = t->name,
		.total_weight = t->total_weight,
		.samples = t->samples,
		.first_ts_ns = t->first_ts_ns,
		.last_ts_ns = t->last_ts_ns,
	};
	return 1;
}

int profile_thread_runs(const struct profile *p, size_t thread_idx, profile_run_fn fn, void *arg)
{
	if (thread_idx >= p->nthread_order) {
		errno = EINVAL;
		return -1;
	}
	const struct profile_thread *t = &p->threads[p->thread_order[thread_idx]];

	for (size_t i = 0; i < t->nruns; i++) {
		const struct sample_run *r = &t->runs[i];
		struct profile_run run = {
			.stack_id = r->stack_id, .weight = r->weight, .nsamples = r->nsamples,
			.start_ns = r->first_ts_ns, .end_ns = r->end_ns,
		};
		int rc = fn(arg, &run);

		if (rc)
			return rc;
	}
	return 0;
}
