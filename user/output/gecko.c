// SPDX-License-Identifier: MIT
/*
 * Gecko profile writer (`-f gecko`): the format the Firefox Profiler loads
 * (profiler.firefox.com, "Load a profile from file"), the one CPython's own
 * sampling profiler exports.
 *
 * The profile is wrapped as the old Firefox DevTools panel saved it,
 * {"systemHost": {"name": "Firefox"}, "duration": ms, "profile": {...}}:
 * the Firefox Profiler unwraps "profile", and speedscope's Firefox importer
 * only recognises that wrapper. Inside is a Gecko profile (format version
 * 36): one thread per sampled thread, each with its own string, frame and
 * stack tables (only the stacks it used), samples at their real times (ms
 * from meta.startTime, the recording's wall-clock start) and a sample
 * without a stack where the thread was not seen. A process's main thread is
 * called GeckoMain, as the Firefox Profiler expects (it labels the track
 * with processName); markers carry process start/exec/exit (instants) and,
 * with --idle, each off-CPU interval with its wait reason.
 *
 * Frame locations read "name (file:line)" for Python, "name (module path)"
 * for native code, "name (kernel)" and "[marker] (bpfspy)": the shape both
 * consumers parse into a function and a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "output/json_string.h"
#include "output/timeline.h"
#include "util/version.h"

#define GECKO_FORMAT_VERSION 36
#define NONE UINT32_MAX

enum gecko_category { CAT_OTHER = 0, CAT_PYTHON, CAT_NATIVE, CAT_KERNEL, CAT_IDLE };

struct gecko_writer {
	const struct profile *p;
	FILE *f;
	struct timeline tl;
	uint64_t period_ns; /* 0 when the rate is unknown */

	/* per thread: global id -> local index, and the local tables in order */
	uint32_t *stack_local, *frame_local;
	uint32_t *stacks, *frames; /* local index -> global id */
	size_t nstacks, nframes;
	size_t nglobal_stacks, nglobal_frames;
	uint32_t *chain;
	bool first;
};

static uint64_t relative(const struct gecko_writer *w, uint64_t ts_ns)
{
	return ts_ns > w->tl.origin_ns ? ts_ns - w->tl.origin_ns : 0;
}

static void sep(struct gecko_writer *w)
{
	if (!w->first)
		putc(',', w->f);
	w->first = false;
}

/* ---- per-thread tables ---- */

static uint32_t local_frame(struct gecko_writer *w, uint32_t frame)
{
	if (w->frame_local[frame] == NONE) {
		w->frame_local[frame] = (uint32_t)w->nframes;
		w->frames[w->nframes++] = frame;
	}
	return w->frame_local[frame];
}

/* The local index of stack_id, adding it and its missing ancestors root first (a prefix precedes its stacks). */
static uint32_t local_stack(struct gecko_writer *w, uint32_t stack_id)
{
	size_t n = 0;

	for (uint32_t s = stack_id; s != PROFILE_NO_STACK && w->stack_local[s] == NONE;
	     s = profile_stack_parent(w->p, s))
		w->chain[n++] = s;
	while (n-- > 0) {
		uint32_t s = w->chain[n];

		w->stack_local[s] = (uint32_t)w->nstacks;
		w->stacks[w->nstacks++] = s;
		local_frame(w, profile_stack_leaf(w->p, s));
	}
	return w->stack_local[stack_id];
}

static int collect_run(void *arg, const struct profile_run *run)
{
	local_stack(arg, run->stack_id);
	return 0;
}

static void reset_tables(struct gecko_writer *w)
{
	for (size_t i = 0; i < w->nstacks; i++)
		w->stack_local[w->stacks[i]] = NONE;
	for (size_t i = 0; i < w->nframes; i++)
		w->frame_local[w->frames[i]] = NONE;
	w->nstacks = w->nframes = 0;
}

/* ---- samples ---- */

struct sample_walk {
	struct gecko_writer *w;
	uint64_t prev_end_ns;
};

static void write_sample(struct gecko_writer *w, uint32_t local, uint64_t t_ns)
{
	char buf[64 + TIMELINE_NUMBER_MAX], *p = buf;

	if (!w->first)
		*p++ = ',';
	w->first = false;
	p += local == NONE ? sprintf(p, "[null,") : sprintf(p, "[%" PRIu32 ",", local);
	p = timeline_format_decimal(p, t_ns, 1000000);
	memcpy(p, ",0]", 3);
	fwrite(buf, 1, (size_t)(p + 3 - buf), w->f);
}

/*
 * A span of n samples becomes n samples spread over it; a nanosecond span
 * (an off-CPU interval) one sample per sampling period, so that the time it
 * stands for shows as time. Where the thread was not seen, or its process
 * exec'd, a sample without a stack.
 */
static int write_span_samples(void *arg, const struct timeline_span *span)
{
	struct sample_walk *sw = arg;
	struct gecko_writer *w = sw->w;
	uint64_t span_ns = span->end_ns > span->start_ns ? span->end_ns - span->start_ns : 0;
	uint64_t count = span->nsamples;
	uint32_t local = w->stack_local[span->stack_id];

	if (profile_meta_const(w->p)->unit == PROFILE_UNIT_NANOSECONDS)
		count = w->period_ns ? (span_ns + w->period_ns - 1) / w->period_ns : 1;
	if (!count)
		count = 1;
	if (span->after_gap || span->new_image)
		write_sample(w, NONE, sw->prev_end_ns);
	for (uint64_t i = 0; i < count; i++)
		write_sample(w, local, span->start_ns + span_ns / count * i);
	sw->prev_end_ns = span->end_ns > span->start_ns ? span->end_ns : span->start_ns;
	return ferror(w->f) ? -1 : 0;
}

/* ---- markers ---- */

static bool is_offcpu_marker(const struct frame_desc *d)
{
	static const char *const reasons[] = { "[off-cpu]", "[sleep]", "[I/O]", "[futex]",
					       "[preempted]", "[poll]", "[wait]" };

	if (d->kind != FRAME_MARKER)
		return false;
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (!strcmp(d->name, reasons[i]))
			return true;
	return false;
}

static int write_offcpu_marker(void *arg, const struct timeline_span *span)
{
	struct gecko_writer *w = arg;
	uint32_t leaf = profile_stack_leaf(w->p, span->stack_id);

	if (!is_offcpu_marker(profile_frame(w->p, leaf)))
		return 0;
	/* the marker's name is the leaf's location string: its local frame index */
	sep(w);
	fprintf(w->f, "[%" PRIu32 ",", w->frame_local[leaf]);
	timeline_write_ms(w->f, span->start_ns);
	putc(',', w->f);
	timeline_write_ms(w->f, span->end_ns);
	fprintf(w->f, ",1,%d,null]", CAT_IDLE);
	return 0;
}

/* Process events go on the process's main thread; their names follow the frame strings. */
static void write_process_markers(struct gecko_writer *w, uint32_t pid)
{
	size_t n = profile_process_event_count(w->p);

	for (size_t i = 0; i < n; i++) {
		const struct profile_process_event *e = profile_process_event_at(w->p, i);

		if (e->pid != pid)
			continue;
		sep(w);
		fprintf(w->f, "[%zu,", w->nframes + (size_t)e->kind);
		timeline_write_ms(w->f, relative(w, e->ts_ns));
		fprintf(w->f, ",null,0,%d,null]", CAT_OTHER);
	}
}

/* ---- tables ---- */

static enum gecko_category frame_category(const struct frame_desc *d)
{
	switch (d->kind) {
	case FRAME_PYTHON:
		return CAT_PYTHON;
	case FRAME_NATIVE:
		return CAT_NATIVE;
	case FRAME_KERNEL:
		return CAT_KERNEL;
	case FRAME_MARKER:
		break;
	}
	return is_offcpu_marker(d) ? CAT_IDLE : CAT_OTHER;
}

static void write_location(FILE *f, const struct frame_desc *d)
{
	char *text = NULL;
	int rc;

	switch (d->kind) {
	case FRAME_PYTHON:
		if (d->line > 0)
			rc = asprintf(&text, "%s (%s:%d)", d->name, d->file ? d->file : "?", d->line);
		else
			rc = asprintf(&text, "%s (%s)", d->name, d->file ? d->file : "?");
		break;
	case FRAME_NATIVE:
		rc = asprintf(&text, "%s (%s)", d->name, d->file ? d->file : "native");
		break;
	case FRAME_KERNEL:
		rc = asprintf(&text, "%s (kernel)", d->name);
		break;
	default:
		rc = asprintf(&text, "%s (bpfspy)", d->name);
		break;
	}
	json_write_string(f, rc < 0 ? d->name : text);
	if (rc >= 0)
		free(text);
}

static void write_tables(struct gecko_writer *w)
{
	FILE *f = w->f;

	fputs("\"stackTable\":{\"schema\":{\"prefix\":0,\"frame\":1},\"data\":[", f);
	for (size_t i = 0; i < w->nstacks; i++) {
		uint32_t parent = profile_stack_parent(w->p, w->stacks[i]);
		uint32_t frame = w->frame_local[profile_stack_leaf(w->p, w->stacks[i])];

		if (parent == PROFILE_NO_STACK)
			fprintf(f, "%s[null,%" PRIu32 "]", i ? "," : "", frame);
		else
			fprintf(f, "%s[%" PRIu32 ",%" PRIu32 "]", i ? "," : "", w->stack_local[parent], frame);
	}
	fputs("]},\n\"frameTable\":{\"schema\":{\"location\":0,\"relevantForJS\":1,\"innerWindowID\":2,"
	      "\"implementation\":3,\"line\":4,\"column\":5,\"category\":6,\"subcategory\":7},\"data\":[",
	      f);
	for (size_t i = 0; i < w->nframes; i++) {
		const struct frame_desc *d = profile_frame(w->p, w->frames[i]);

		fprintf(f, "%s[%zu,false,0,null,", i ? "," : "", i);
		if (d->line > 0)
			fprintf(f, "%d", d->line);
		else
			fputs("null", f);
		fprintf(f, ",null,%d,0]", frame_category(d));
	}
	fputs("]},\n\"stringTable\":[", f);
	for (size_t i = 0; i < w->nframes; i++) {
		if (i)
			putc(',', f);
		write_location(f, profile_frame(w->p, w->frames[i]));
	}
	/* indexed by enum process_event_kind, after the frames */
	fputs(w->nframes ? ",\"start\",\"exec\",\"exit\"]" : "\"start\",\"exec\",\"exit\"]", f);
}

/* ---- threads ---- */

/* The thread shown as the process: the one whose tid is the pid, else the process's first. */
static bool is_main_thread(const struct profile *p, size_t idx, const struct profile_thread_info *t)
{
	struct profile_thread_info other;

	if (t->tid == t->pid)
		return true;
	for (size_t i = 0; profile_thread_at(p, i, &other); i++)
		if (other.pid == t->pid && other.samples && (other.tid == other.pid || i < idx))
			return false;
	return true;
}

static uint64_t exit_time(const struct profile *p, uint32_t pid)
{
	size_t n = profile_process_event_count(p);

	for (size_t i = n; i-- > 0;) {
		const struct profile_process_event *e = profile_process_event_at(p, i);

		if (e->pid == pid && e->kind == PROCESS_EVENT_EXIT)
			return e->ts_ns;
	}
	return 0;
}

static int write_thread(struct gecko_writer *w, size_t idx, const struct profile_thread_info *t, bool first)
{
	FILE *f = w->f;
	bool main_thread = is_main_thread(w->p, idx, t);
	uint64_t exit_ns = exit_time(w->p, t->pid);
	char label[64];

	reset_tables(w);
	if (profile_thread_runs(w->p, idx, collect_run, w) != 0)
		return -1;

	fputs(first ? "\n{\"name\":" : ",\n{\"name\":", f);
	if (main_thread)
		json_write_string(f, "GeckoMain");
	else if (t->thread_name)
		json_write_string(f, t->thread_name);
	else {
		snprintf(label, sizeof(label), "tid %" PRIu32, t->tid);
		json_write_string(f, label);
	}
	fputs(",\"processType\":\"default\",\"processName\":", f);
	snprintf(label, sizeof(label), "%s (pid %" PRIu32 ")", t->process_name, t->pid);
	json_write_string(f, label);
	fprintf(f, ",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"registerTime\":", t->pid, t->tid);
	timeline_write_ms(f, relative(w, t->first_ts_ns));
	fputs(",\"unregisterTime\":", f);
	if (exit_ns)
		timeline_write_ms(f, relative(w, exit_ns));
	else
		fputs("null", f);

	fputs(",\n\"samples\":{\"schema\":{\"stack\":0,\"time\":1,\"eventDelay\":2},\"data\":[", f);
	struct sample_walk sw = { .w = w };

	w->first = true;
	if (timeline_thread_spans(&w->tl, idx, write_span_samples, &sw) != 0)
		return -1;
	write_sample(w, NONE, sw.prev_end_ns); /* the thread's end */

	fputs("]},\n\"markers\":{\"schema\":{\"name\":0,\"startTime\":1,\"endTime\":2,\"phase\":3,\"category\":4,"
	      "\"data\":5},\"data\":[",
	      f);
	w->first = true;
	if (main_thread)
		write_process_markers(w, t->pid);
	if (profile_meta_const(w->p)->unit == PROFILE_UNIT_NANOSECONDS &&
	    timeline_thread_spans(&w->tl, idx, write_offcpu_marker, w) != 0)
		return -1;
	fputs("]},\n", f);
	write_tables(w);
	putc('}', f);
	return ferror(f) ? -1 : 0;
}

/* ---- the document ---- */

static void write_meta(struct gecko_writer *w, uint64_t duration_ns)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	/* wall-clock time of the origin, in ms since the epoch */
	uint64_t before_start = m->start_ns > w->tl.origin_ns ? m->start_ns - w->tl.origin_ns : 0;
	uint64_t start_wall_ns = m->start_realtime_ns > before_start ? m->start_realtime_ns - before_start : 0;

	fputs("\"meta\":{\"version\":" , w->f);
	fprintf(w->f, "%d,\"startTime\":", GECKO_FORMAT_VERSION);
	timeline_write_ms(w->f, start_wall_ns);
	fputs(",\"shutdownTime\":null,\"profilingStartTime\":0,\"profilingEndTime\":", w->f);
	timeline_write_ms(w->f, duration_ns);
	fputs(",\"interval\":", w->f);
	timeline_write_ms(w->f, w->period_ns ? w->period_ns : 10000000);
	fputs(",\"stackwalk\":1,\"debug\":0,\"gcpoison\":0,\"asyncstack\":0,\"processType\":0,"
	      "\"platform\":\"Linux\",\"oscpu\":\"Linux\",\"product\":",
	      w->f);
	json_write_string(w->f, m->command && *m->command ? m->command : "bpfspy profile");
	fputs(",\"presymbolicated\":true,\"markerSchema\":[],\"categories\":["
	      "{\"name\":\"Other\",\"color\":\"grey\",\"subcategories\":[\"Other\"]},"
	      "{\"name\":\"Python\",\"color\":\"yellow\",\"subcategories\":[\"Other\"]},"
	      "{\"name\":\"Native\",\"color\":\"blue\",\"subcategories\":[\"Other\"]},"
	      "{\"name\":\"Kernel\",\"color\":\"orange\",\"subcategories\":[\"Other\"]},"
	      "{\"name\":\"Idle\",\"color\":\"transparent\",\"subcategories\":[\"Other\"]}]}",
	      w->f);
}

static uint64_t last_end_ns(struct gecko_writer *w)
{
	struct profile_thread_info t;
	uint64_t end = 0;

	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++)
		if (t.samples && relative(w, t.last_ts_ns) > end)
			end = relative(w, t.last_ts_ns);
	return end + (w->period_ns ? w->period_ns : 0);
}

static int init_writer(struct gecko_writer *w)
{
	w->nglobal_stacks = profile_stack_count(w->p);
	w->nglobal_frames = profile_frame_count(w->p);
	size_t ns = w->nglobal_stacks ? w->nglobal_stacks : 1, nf = w->nglobal_frames ? w->nglobal_frames : 1;

	w->stack_local = malloc(ns * sizeof(uint32_t));
	w->frame_local = malloc(nf * sizeof(uint32_t));
	w->stacks = malloc(ns * sizeof(uint32_t));
	w->frames = malloc(nf * sizeof(uint32_t));
	w->chain = malloc(ns * sizeof(uint32_t));
	if (!w->stack_local || !w->frame_local || !w->stacks || !w->frames || !w->chain)
		return -1;
	memset(w->stack_local, 0xff, ns * sizeof(uint32_t));
	memset(w->frame_local, 0xff, nf * sizeof(uint32_t));
	return 0;
}

static void free_writer(struct gecko_writer *w)
{
	free(w->stack_local);
	free(w->frame_local);
	free(w->stacks);
	free(w->frames);
	free(w->chain);
	timeline_free(&w->tl);
}

int write_gecko(const struct profile *p, FILE *f, const struct write_options *o)
{
	const struct profile_meta *m = profile_meta_const(p);
	struct gecko_writer w = {
		.p = p, .f = f,
		.period_ns = m->rate_hz ? 1000000000ull / m->rate_hz : 0,
	};
	struct profile_thread_info t;
	bool first = true;
	int rc = -1;

	errno = 0;
	if (timeline_init(&w.tl, p) < 0 || init_writer(&w) < 0) {
		errno = ENOMEM;
		goto out;
	}
	uint64_t duration_ns = last_end_ns(&w);

	fputs("{\"systemHost\":{\"name\":\"Firefox\",\"product\":\"" BPFSPY_EXPORTER "\"},\"fileType\":\"profile\",\"version\":1,"
	      "\"duration\":",
	      f);
	timeline_write_ms(f, duration_ns);
	fputs(",\n\"profile\":{", f);
	write_meta(&w, duration_ns);
	fputs(",\n\"libs\":[],\"pausedRanges\":[],\"processes\":[],"
	      "\"sources\":{\"schema\":{\"id\":0,\"filename\":1,\"startLine\":2,\"startColumn\":3,\"sourceMapURL\":4},"
	      "\"data\":[]},\n\"threads\":[",
	      f);
	for (size_t i = 0; profile_thread_at(p, i, &t); i++) {
		if (!t.samples)
			continue;
		if (write_thread(&w, i, &t, first) < 0)
			goto out;
		first = false;
	}
	fputs("]}}\n", f);
	if (fflush(f) == 0 && !ferror(f))
		rc = 0;
out:
	if (rc < 0 && errno == 0)
		errno = EIO;
	free_writer(&w);
	return rc;
}
