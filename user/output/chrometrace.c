// SPDX-License-Identifier: MIT
/*
 * Trace Event Format writer (`-f chrometrace`, py-spy's name): a timeline
 * that Perfetto, chrome://tracing and speedscope open.
 *
 * Each thread is a track, grouped by process. A call is a complete ("X")
 * slice for as long as consecutive samples of its thread kept the function
 * at that depth of the stack (the line it was on may change: a timeline
 * shows calls; speedscope's other views keep lines): the runs of the profile give real start times and durations, and a
 * run that begins after a gap (the thread was not seen) starts its stack
 * afresh. With --idle the off-CPU intervals are slices of their own, named
 * by their wait reason ([sleep], [I/O], [futex], ...). Process start, exec
 * and exit are instant events. Times are microseconds from the recording's
 * start, on the one kernel clock every process was sampled with.
 *
 * Slices are written when they end, the frames that end together outermost
 * first: viewers sort by start time and then by duration, so a parent and a
 * child with the same start and length still nest the right way round.
 * Frames that replace others start a nanosecond after those end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "output/json_string.h"
#include "output/timeline.h"
#include "util/radix_sort.h"
#include "util/version.h"

struct open_frame {
	uint32_t frame; /* its function's frame id (see frame_names) */
	uint64_t start_ns; /* relative to the origin */
};

struct chrometrace_writer {
	const struct profile *p;
	FILE *f;
	struct timeline tl;
	struct frame_names names;
	bool first_event;

	/* the current thread */
	uint32_t pid, tid;
	char slice_prefix[80]; /* {"ph":"X","pid":P,"tid":T,"ts": */
	struct open_frame *open;
	size_t nopen, cap_open;
	uint64_t prev_end_ns;
	bool closed_any;        /* frames closed for the span being opened */
	uint64_t last_close_ns; /* ... at this time */
	uint32_t *frames;
	size_t cap_frames;
};

static void begin_event(struct chrometrace_writer *w)
{
	fputs(w->first_event ? "\n" : ",\n", w->f);
	w->first_event = false;
}

static uint64_t relative(const struct chrometrace_writer *w, uint64_t ts_ns)
{
	return ts_ns > w->tl.origin_ns ? ts_ns - w->tl.origin_ns : 0;
}

static const char *category(const struct frame_desc *d)
{
	switch (d->kind) {
	case FRAME_PYTHON:
		return "python";
	case FRAME_NATIVE:
		return "native";
	case FRAME_KERNEL:
		return "kernel";
	case FRAME_MARKER:
		break;
	}
	return "marker";
}

/*
 * One slice, formatted in one buffer and written with one call: a big
 * profile has millions of them.
 */
static void write_slice(struct chrometrace_writer *w, const struct open_frame *o, uint64_t end_ns,
			const char *quoted_name)
{
	char head[160], *p = head;
	size_t prefix = strlen(w->slice_prefix);

	if (!w->first_event)
		*p++ = ',';
	*p++ = '\n';
	w->first_event = false;
	memcpy(p, w->slice_prefix, prefix);
	p += prefix;
	p = timeline_format_decimal(p, o->start_ns, 1000);
	memcpy(p, ",\"dur\":", 7);
	p = timeline_format_decimal(p + 7, end_ns - o->start_ns, 1000);
	p += sprintf(p, ",\"cat\":\"%s\",\"name\":", category(profile_frame(w->p, o->frame)));
	fwrite(head, 1, (size_t)(p - head), w->f);
	fputs(quoted_name, w->f);
	putc('}', w->f);
}

/* Closes the open frames from depth `from` up, all at end_ns, outermost first. */
static int close_frames(struct chrometrace_writer *w, size_t from, uint64_t end_ns)
{
	for (size_t i = from; i < w->nopen; i++) {
		const struct open_frame *o = &w->open[i];
		const char *name = frame_names_get(&w->names, w->p, o->frame);

		if (!name)
			return -1;
		if (end_ns > o->start_ns) /* else nothing to draw */
			write_slice(w, o, end_ns, name);
	}
	if (from < w->nopen) {
		w->nopen = from;
		w->closed_any = true;
		w->last_close_ns = end_ns;
	}
	return ferror(w->f) ? -1 : 0;
}

static int on_span(void *arg, const struct timeline_span *span)
{
	struct chrometrace_writer *w = arg;
	long depth = profile_stack_load(w->p, span->stack_id, &w->frames, &w->cap_frames);

	if (depth < 0)
		return -1;
	uint64_t start = span->start_ns, end = span->end_ns;
	size_t common = 0;

	while (common < w->nopen && common < (size_t)depth &&
	       w->open[common].frame == frame_names_function(&w->names, w->frames[common]))
		common++;
	if (w->nopen && span->new_image) {
		/* the process exec'd: the old program's calls ended with it */
		if (close_frames(w, 0, w->prev_end_ns) < 0)
			return -1;
	} else if (w->nopen && span->after_gap) {
		/*
		 * A gap: the thread was off the CPU (or its samples were
		 * lost). The calls it is still in afterwards lasted through
		 * the gap; the others ended after they were last seen.
		 */
		if (close_frames(w, common, w->prev_end_ns) < 0)
			return -1;
	} else if (common < w->nopen) {
		if (close_frames(w, common, start) < 0)
			return -1;
	}
	/*
	 * What opens starts after what closed, by a nanosecond if need be:
	 * speedscope, given a begin and an end with equal names at one
	 * instant, takes the begin first and nests the new frame inside the old.
	 */
	if (w->closed_any && start <= w->last_close_ns)
		start = w->last_close_ns + 1;
	w->closed_any = false;
	if ((size_t)depth > w->cap_open) {
		struct open_frame *grown = reallocarray(w->open, (size_t)depth, sizeof(*grown));

		if (!grown)
			return -1;
		w->open = grown;
		w->cap_open = (size_t)depth;
	}
	for (size_t i = w->nopen; i < (size_t)depth; i++)
		w->open[i] = (struct open_frame){
			.frame = frame_names_function(&w->names, w->frames[i]), .start_ns = start,
		};
	w->nopen = (size_t)depth;
	w->prev_end_ns = end > start ? end : start;
	return 0;
}

static void write_name_event(struct chrometrace_writer *w, const char *what, uint32_t pid, uint32_t tid,
			     const char *name)
{
	begin_event(w);
	fprintf(w->f, "{\"ph\":\"M\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":\"%s\",\"args\":{\"name\":",
		pid, tid, what);
	json_write_string(w->f, name);
	fputs("}}", w->f);
}

static void write_sort_event(struct chrometrace_writer *w, const char *what, uint32_t pid, uint32_t tid,
			     size_t index)
{
	begin_event(w);
	fprintf(w->f,
		"{\"ph\":\"M\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":\"%s\",\"args\":{\"sort_index\":%zu}}",
		pid, tid, what, index);
}

struct process_start {
	uint64_t first_ts_ns;
	size_t seen; /* its place among the processes in the profile's order: a stable sort keeps it for ties */
};

/*
 * The rank of each sampled process (in the profile's order) by its first
 * sample's time. The profile keeps threads in the order their first sample was
 * read, and samples from two CPUs are read up to a drain apart: the tracks
 * follow time, not reading order. NULL when out of memory: reading order then.
 */
static size_t *process_ranks(const struct profile *p)
{
	struct profile_thread_info t;
	size_t n = 0, cap = profile_thread_count(p) + 1;
	struct process_start *starts = malloc(cap * sizeof(*starts));
	size_t *rank = malloc(cap * sizeof(*rank));
	uint32_t last_pid = 0;

	if (!starts || !rank) {
		free(starts);
		free(rank);
		return NULL;
	}
	for (size_t i = 0; profile_thread_at(p, i, &t); i++) {
		if (!t.samples)
			continue;
		if (n && last_pid == t.pid) { /* a process's threads are next to each other */
			if (t.first_ts_ns < starts[n - 1].first_ts_ns)
				starts[n - 1].first_ts_ns = t.first_ts_ns;
			continue;
		}
		starts[n] = (struct process_start){ .first_ts_ns = t.first_ts_ns, .seen = n };
		n++;
		last_pid = t.pid;
	}
	if (RADIX_SORT_U64(starts, n, first_ts_ns) != 0) {
		free(starts);
		free(rank);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		rank[starts[i].seen] = i;
	free(starts);
	return rank;
}

/* Names, and the order of the tracks: processes in the order they were first sampled, then their threads. */
static void write_metadata(struct chrometrace_writer *w)
{
	struct profile_thread_info t;
	uint32_t last_pid = 0;
	size_t nprocess = 0;
	size_t *rank = process_ranks(w->p);

	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++) {
		if (!t.samples)
			continue;
		if (nprocess == 0 || t.pid != last_pid) {
			write_name_event(w, "process_name", t.pid, t.pid, t.process_name);
			write_sort_event(w, "process_sort_index", t.pid, t.pid, rank ? rank[nprocess] : nprocess);
			nprocess++;
			last_pid = t.pid;
		}
		if (t.thread_name)
			write_name_event(w, "thread_name", t.pid, t.tid, t.thread_name);
		write_sort_event(w, "thread_sort_index", t.pid, t.tid, i);
	}
	free(rank);
}

static int write_threads(struct chrometrace_writer *w)
{
	struct profile_thread_info t;

	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++) {
		if (!t.samples)
			continue;
		w->pid = t.pid;
		w->tid = t.tid;
		snprintf(w->slice_prefix, sizeof(w->slice_prefix),
			 "{\"ph\":\"X\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":", t.pid, t.tid);
		w->nopen = 0;
		w->prev_end_ns = 0;
		w->closed_any = false;
		if (timeline_thread_spans(&w->tl, i, on_span, w) != 0 || close_frames(w, 0, w->prev_end_ns) < 0)
			return -1;
	}
	return 0;
}

static void write_process_events(struct chrometrace_writer *w)
{
	size_t n = profile_process_event_count(w->p);

	for (size_t i = 0; i < n; i++) {
		const struct profile_process_event *e = profile_process_event_at(w->p, i);

		if (!timeline_pid_sampled(w->p, e->pid))
			continue;
		begin_event(w);
		fprintf(w->f, "{\"ph\":\"i\",\"s\":\"p\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":", e->pid,
			e->pid);
		timeline_write_us(w->f, relative(w, e->ts_ns));
		fprintf(w->f, ",\"cat\":\"process\",\"name\":\"%s\",\"args\":{\"comm\":", timeline_event_name(e->kind));
		json_write_string(w->f, e->comm);
		fputs("}}", w->f);
	}
}

static void write_trailer(struct chrometrace_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);

	fputs("\n],\n\"displayTimeUnit\":\"ms\",\"otherData\":{\"command\":", w->f);
	json_write_string(w->f, m->command && *m->command ? m->command : "bpfspy profile");
	fputs(",\"exporter\":\"" BPFSPY_EXPORTER "\"", w->f);
	fprintf(w->f,
		",\"rate_hz\":%u,\"unit\":\"%s\",\"start_realtime_ns\":%" PRIu64 ",\"duration_ns\":%" PRIu64
		",\"origin_monotonic_ns\":%" PRIu64 "}}\n",
		m->rate_hz, m->unit == PROFILE_UNIT_NANOSECONDS ? "nanoseconds" : "samples", m->start_realtime_ns,
		m->end_ns > m->start_ns ? m->end_ns - m->start_ns : 0, w->tl.origin_ns);
}

int write_chrometrace(const struct profile *p, FILE *f, const struct write_options *o)
{
	struct chrometrace_writer w = {
		.p = p, .f = f, .first_event = true,
	};
	int rc = -1;

	errno = 0;
	if (timeline_init(&w.tl, p) < 0 || frame_names_init(&w.names, p) < 0)
		goto out;
	fputs("{\"traceEvents\":[", f);
	write_metadata(&w);
	if (write_threads(&w) < 0)
		goto out;
	write_process_events(&w);
	write_trailer(&w);
	if (fflush(f) == 0 && !ferror(f))
		rc = 0;
out:
	if (rc < 0 && errno == 0)
		errno = EIO;
	frame_names_free(&w.names);
	timeline_free(&w.tl);
	free(w.open);
	free(w.frames);
	return rc;
}
