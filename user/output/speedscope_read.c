// SPDX-License-Identifier: MIT
/*
 * speedscope JSON -> profile (see speedscope_read.h), built on the document
 * layer (output/speedscope_doc.h) that tools/speedscope_top_packages reads
 * with too: the file is walked in place, never turned into a tree, so
 * memory stays near the file's size plus the profile model (a cJSON tree
 * was 22x the file).
 */
#include "output/speedscope_read.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/speedscope_doc.h"
#include "util/array.h"

/* Longest profile name or type kept (a longer one is cut): names label threads, nothing more. */
#define PROFILE_TEXT_MAX 1024

struct reader {
	struct speedscope_doc doc;
	struct speedscope_bpfspy_fields extra; /* the "bpfspy" block; all absent in other files */
	char *name;              /* the document's "name", or NULL */
	char *frame_kinds;       /* the bpfspy block's, or NULL */
	size_t nframe_kinds;
	struct profile *p;
	uint32_t *frame_ids;     /* shared frame index -> profile frame id */
	size_t nframes, frame_ids_cap;
	uint32_t *scratch;
	size_t scratch_cap;
	uint64_t samples_added;  /* expanded sample count, bounded */
	double max_end_ns;       /* longest profile, when the file has no duration */
	char *err;
	size_t errlen;
};

static int fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A finite number, or fallback. */
static double finite_or(struct json_span v, double fallback)
{
	double d;

	return speedscope_value_number(v, &d) && isfinite(d) ? d : fallback;
}

/* Negative, NaN and unrepresentable counts of nanoseconds are 0 (a cast would be undefined). */
static uint64_t ns_or_zero(double d)
{
	return d > 0 && d < 0x1p64 ? (uint64_t)d : 0;
}

static uint64_t nanoseconds(struct json_span v)
{
	return ns_or_zero(finite_or(v, 0));
}

/* ---- units ---- */

/* Nanoseconds per unit of a speedscope ValueUnit, 0 for "none"/unknown. */
static double unit_ns(const char *unit)
{
	static const struct { const char *name; double ns; } units[] = {
		{ "nanoseconds", 1 }, { "microseconds", 1e3 }, { "milliseconds", 1e6 }, { "seconds", 1e9 },
	};

	for (size_t i = 0; unit && i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].name))
			return units[i].ns;
	return 0;
}

/* The first profile's "unit", if there is a first profile with one. */
static bool first_profile_unit(const struct reader *r, char *unit, size_t len)
{
	struct speedscope_array profiles;
	struct speedscope_profile_fields f;
	bool is_object;

	return speedscope_array_begin(&profiles, r->doc.profiles) &&
	       speedscope_profiles_next(&profiles, &f, &is_object) && speedscope_value_text(f.unit, unit, len);
}

/*
 * The profile's unit: sample counts when bpfspy recorded samples at a known
 * rate or the file has no time unit at all, nanoseconds otherwise.
 */
static void choose_meta(struct reader *r, struct profile_meta *m)
{
	double rate = finite_or(r->extra.rate_hz, 0);
	char first_unit[64];
	bool have_first = first_profile_unit(r, first_unit, sizeof(first_unit));

	m->command = r->name;
	m->rate_hz = rate >= 1 && rate <= 1e6 ? (unsigned)rate : 0;
	if (speedscope_value_is(r->extra.unit, "samples") && m->rate_hz)
		m->unit = PROFILE_UNIT_SAMPLES;
	else if (have_first && unit_ns(first_unit) == 0)
		m->unit = PROFILE_UNIT_SAMPLES;
	else
		m->unit = PROFILE_UNIT_NANOSECONDS;
	m->start_realtime_ns = nanoseconds(r->extra.start_realtime_ns);
	m->end_ns = nanoseconds(r->extra.duration_ns);
}

/* A weight in the file's unit -> the profile's (samples or nanoseconds); -1 if unusable. */
static double convert_weight(const struct profile_meta *m, const char *unit, double w)
{
	double ns = unit_ns(unit);
	double out;

	if (!isfinite(w) || w < 0)
		return -1;
	if (m->unit == PROFILE_UNIT_NANOSECONDS)
		out = ns ? w * ns : w;
	else /* seconds x rate = samples; "none" is already a count */
		out = ns ? w * ns * m->rate_hz / 1e9 : w;
	/* llround() and the sample count's sums need it well inside 64 bits */
	return out < 0x1p62 ? out : -1;
}

/* ---- frames ---- */

static enum frame_kind guess_kind(const char *name, const char *file)
{
	size_t n = file ? strlen(file) : 0;

	if (file && ((n > 3 && !strcmp(file + n - 3, ".py")) || file[0] == '<'))
		return FRAME_PYTHON;
	if (!file && name[0] == '[')
		return FRAME_MARKER;
	return FRAME_NATIVE;
}

static enum frame_kind kind_at(const struct reader *r, size_t idx, const char *name, const char *file)
{
	if (idx < r->nframe_kinds) {
		const char *k = strchr("PNKM", r->frame_kinds[idx]);

		if (k && *k)
			return (enum frame_kind)(k - "PNKM");
	}
	return guess_kind(name, file);
}

static int read_frame(struct reader *r, size_t idx, struct json_span frame)
{
	struct speedscope_frame_fields f;
	char *name, *file;

	speedscope_frame_read(frame, &f);
	if (speedscope_value_kind(f.name) != JSON_KIND_STRING)
		return fail(r, "frame %zu has no name", idx);
	name = speedscope_value_strdup(f.name);
	file = speedscope_value_strdup(f.file);
	if (!name || (!file && speedscope_value_kind(f.file) == JSON_KIND_STRING)) {
		free(name);
		free(file);
		return fail(r, "out of memory");
	}
	double line = finite_or(f.line, 0);
	struct frame_desc d = {
		.name = name,
		.file = file && *file ? file : NULL,
		.line = line >= 1 && line <= INT32_MAX ? (int)line : 0,
		.kind = kind_at(r, idx, name, file),
	};
	uint32_t id = profile_intern_frame(r->p, &d);

	free(name);
	free(file);
	if (id == UINT32_MAX ||
	    array_reserve((void **)&r->frame_ids, &r->frame_ids_cap, idx + 1, sizeof(*r->frame_ids)) != 0)
		return fail(r, "out of memory");
	r->frame_ids[idx] = id;
	return 0;
}

static int read_frames(struct reader *r)
{
	struct speedscope_array frames;
	struct json_span frame;

	if (speedscope_value_kind(r->extra.frame_kinds) == JSON_KIND_STRING) {
		if (!(r->frame_kinds = speedscope_value_strdup(r->extra.frame_kinds)))
			return fail(r, "out of memory");
		r->nframe_kinds = strlen(r->frame_kinds);
	}
	if (!speedscope_array_begin(&frames, speedscope_shared_frames(&r->doc)))
		return fail(r, "no shared.frames array: not a speedscope file");
	while (speedscope_array_take(&frames, &frame)) {
		if (read_frame(r, r->nframes, frame) < 0)
			return -1;
		r->nframes++;
	}
	return 0;
}

/* ---- threads ---- */

struct thread_id {
	uint32_t pid, tid;
};

/* A number that is a pid or tid, or 0. */
static uint32_t task_id(struct json_span v)
{
	double id = finite_or(v, 0);

	return id >= 1 && id <= UINT32_MAX ? (uint32_t)id : 0;
}

/* From the bpfspy block's entry t, else a made-up id per profile named after it. */
static struct thread_id identify_thread(struct reader *r, size_t idx, const struct speedscope_thread_fields *t,
					const char *name)
{
	struct thread_id id = { task_id(t->pid), task_id(t->tid) };
	char process[PROFILE_TEXT_MAX], thread[PROFILE_TEXT_MAX];

	if (id.pid && id.tid) {
		profile_set_process_name(r->p, id.pid,
					 speedscope_value_text(t->process, process, sizeof(process)) ? process : "?");
		if (speedscope_value_text(t->thread, thread, sizeof(thread)))
			profile_set_thread_name(r->p, id.pid, id.tid, thread);
		return id;
	}
	id = (struct thread_id){ (uint32_t)idx + 1, (uint32_t)idx + 1 };
	profile_set_process_name(r->p, id.pid, name && *name ? name : "?");
	return id;
}

/* ---- samples ---- */

/* One sample: an array of frame indices at c, into r->scratch. */
static int stack_frames(struct reader *r, struct json_cursor *c, size_t *depth)
{
	bool first = true;
	size_t n = 0;

	if (json_peek_kind(c) != JSON_KIND_ARRAY || !json_array_begin(c))
		return fail(r, "a sample is not an array of frame indices");
	while (json_array_next(c, &first)) {
		double v = json_peek_kind(c) == JSON_KIND_NUMBER ? json_take_number(c) : -1;

		if (v == -1)
			json_skip_value(c);
		if (!(v >= 0 && v < (double)r->nframes) || v != floor(v))
			return fail(r, "a sample refers to frame %g of %zu", v, r->nframes);
		if (array_reserve((void **)&r->scratch, &r->scratch_cap, n + 1, sizeof(*r->scratch)) != 0)
			return fail(r, "out of memory");
		r->scratch[n++] = r->frame_ids[(size_t)v];
	}
	*depth = n;
	return 0;
}

/*
 * Where a thread's entries lie in time: bpfspy's "runs" string (see
 * speedscope.c) gives each run's start; within a run, and in files without
 * it, an entry follows the previous one by its duration.
 */
struct run_timing {
	const char *cursor; /* the rest of the "runs" string, NULL when absent or spent */
	uint64_t left;      /* entries left in the current run */
	uint64_t ts;        /* ns since the recording's start */
};

static uint64_t entry_start(struct run_timing *rt)
{
	if (rt->cursor && !rt->left) {
		char *after_gap, *after_count;
		unsigned long long gap = strtoull(rt->cursor, &after_gap, 10);
		unsigned long long count = after_gap == rt->cursor ? 0 : strtoull(after_gap, &after_count, 10);

		if (!count || after_count == after_gap) {
			rt->cursor = NULL;
		} else {
			rt->ts += gap;
			rt->left = count;
			rt->cursor = after_count;
		}
	}
	if (rt->left)
		rt->left--;
	return rt->ts;
}

/* Sample counts are expanded back into single samples so runs and counts match the recording. */
static int add_weighted(struct reader *r, struct thread_id id, size_t depth, double weight, struct run_timing *rt)
{
	const struct profile_meta *m = profile_meta_const(r->p);
	uint64_t w = (uint64_t)llround(weight);

	if (m->unit == PROFILE_UNIT_NANOSECONDS) {
		uint64_t ts = entry_start(rt);

		rt->ts = ts + w;
		return profile_add_sample(r->p, id.pid, id.tid, r->scratch, depth, w, ts) ? fail(r, "out of memory")
											    : 0;
	}
	if (r->samples_added + w > SPEEDSCOPE_READ_MAX_SAMPLES)
		return fail(r, "more than %llu samples", (unsigned long long)SPEEDSCOPE_READ_MAX_SAMPLES);
	r->samples_added += w;
	uint64_t period = m->rate_hz ? 1000000000ull / m->rate_hz : 1;

	for (uint64_t i = 0; i < w; i++) {
		uint64_t ts = i ? rt->ts : entry_start(rt);

		rt->ts = ts + period;
		if (profile_add_sample(r->p, id.pid, id.tid, r->scratch, depth, 1, ts))
			return fail(r, "out of memory");
	}
	return 0;
}

/* The bpfspy block's process start/exec/exit events, for timelines: [pid, kind, ts, comm] each. */
static void read_process_events(struct reader *r)
{
	static const char *const kinds[] = { [PROCESS_EVENT_START] = "start", [PROCESS_EVENT_EXEC] = "exec",
					     [PROCESS_EVENT_EXIT] = "exit" };
	struct speedscope_array events, fields;
	struct json_span e, pid, kind, ts, comm;
	char comm_text[PROFILE_TEXT_MAX];
	double pid_v, ts_v;

	speedscope_array_begin(&events, r->extra.process_events);
	while (speedscope_array_take(&events, &e)) {
		pid = kind = ts = comm = (struct json_span){ NULL, 0 };
		if (speedscope_array_begin(&fields, e) && speedscope_array_take(&fields, &pid) &&
		    speedscope_array_take(&fields, &kind) && speedscope_array_take(&fields, &ts))
			speedscope_array_take(&fields, &comm);
		if (!speedscope_value_number(pid, &pid_v) || !speedscope_value_number(ts, &ts_v) || pid_v < 1 ||
		    pid_v > UINT32_MAX || !(ts_v >= 0 && ts_v < 1.8e19))
			continue;
		bool have_comm = speedscope_value_text(comm, comm_text, sizeof(comm_text));

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (speedscope_value_is(kind, kinds[k]))
				profile_add_process_event(r->p, (uint32_t)pid_v, (enum process_event_kind)k,
							  (uint64_t)ts_v, have_comm ? comm_text : NULL);
	}
}

/* A build-id as the writer stores it: lowercase hex, at most 64 bytes' worth. */
static bool plausible_build_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return s[n] == '\0' && n <= 128 && n % 2 == 0;
}

/* The bpfspy block's module table: build-ids recorded with the profile. Bad entries are skipped. */
static int read_modules(struct reader *r)
{
	struct speedscope_array modules;
	struct speedscope_module_fields m;
	struct json_span entry;

	speedscope_array_begin(&modules, r->extra.modules);
	while (speedscope_array_take(&modules, &entry)) {
		speedscope_module_read(entry, &m);
		if (speedscope_value_kind(m.path) != JSON_KIND_STRING ||
		    speedscope_value_kind(m.build_id) != JSON_KIND_STRING)
			continue;
		char *path = speedscope_value_strdup(m.path), *build_id = speedscope_value_strdup(m.build_id);
		int rc = !path || !build_id ? -1 : 0;

		if (rc == 0 && *path && plausible_build_id(build_id))
			rc = profile_add_module(r->p, path, build_id);
		free(path);
		free(build_id);
		if (rc < 0)
			return fail(r, "out of memory");
	}
	return 0;
}

static int read_profile(struct reader *r, size_t idx, const struct speedscope_profile_fields *f,
			const struct speedscope_thread_fields *thread)
{
	struct speedscope_samples s;
	struct json_span weight_value;
	char type[64], unit_text[64], name[PROFILE_TEXT_MAX];
	char *runs = NULL;

	bool have_type = speedscope_value_text(f->type, type, sizeof(type));

	if (!have_type || strcmp(type, "sampled"))
		return fail(r, "profile %zu is of type \"%s\"; only \"sampled\" profiles can be converted", idx,
			    have_type ? type : "?");
	if (!speedscope_samples_begin(&s, f) || !s.have_weights)
		return fail(r, "profile %zu needs samples and weights arrays of the same length", idx);

	bool have_name = speedscope_value_text(f->name, name, sizeof(name));
	struct thread_id id = identify_thread(r, idx, thread, have_name ? name : NULL);
	const struct profile_meta *m = profile_meta_const(r->p);
	const char *unit = speedscope_value_text(f->unit, unit_text, sizeof(unit_text)) ? unit_text : NULL;

	if (speedscope_value_kind(thread->runs) == JSON_KIND_STRING && !(runs = speedscope_value_strdup(thread->runs)))
		return fail(r, "out of memory");
	struct run_timing timing = { .cursor = runs };
	int rc = 0;

	while (rc == 0 && speedscope_samples_next(&s, &weight_value)) {
		size_t depth = 0;
		double raw = -1;

		if (!weight_value.start) {
			rc = fail(r, "profile %zu needs samples and weights arrays of the same length", idx);
			break;
		}
		speedscope_value_number(weight_value, &raw);
		double weight = convert_weight(m, unit, raw);

		if (weight < 0)
			rc = fail(r, "profile %zu has a weight that is not a number >= 0", idx);
		else if (stack_frames(r, &s.at, &depth) < 0 || add_weighted(r, id, depth, weight, &timing) < 0)
			rc = -1;
	}
	free(runs);
	if (rc == 0 && speedscope_samples_weights_left(&s))
		rc = fail(r, "profile %zu needs samples and weights arrays of the same length", idx);
	if (rc < 0)
		return rc;
	double start = 0, end = 0;

	speedscope_value_number(f->start_value, &start);
	speedscope_value_number(f->end_value, &end);
	double span = end - start;

	if (unit_ns(unit) && isfinite(span) && span * unit_ns(unit) > r->max_end_ns)
		r->max_end_ns = span * unit_ns(unit);
	return 0;
}

/* Profile i takes its thread's pid, tid, names and runs from the bpfspy block's threads[i]. */
static int read_profiles(struct reader *r)
{
	struct speedscope_array profiles, threads;
	struct speedscope_profile_fields profile;
	struct speedscope_thread_fields thread;
	struct json_span thread_entry;
	bool is_object;

	if (!speedscope_array_begin(&profiles, r->doc.profiles))
		return fail(r, "no profiles array: not a speedscope file");
	bool have_threads = speedscope_array_begin(&threads, r->extra.threads);

	for (size_t i = 0; speedscope_profiles_next(&profiles, &profile, &is_object); i++) {
		if (!is_object)
			return fail(r, "profile %zu is not an object", i);
		have_threads = have_threads && speedscope_array_take(&threads, &thread_entry);
		speedscope_thread_read(have_threads ? thread_entry : (struct json_span){ NULL, 0 }, &thread);
		if (read_profile(r, i, &profile, &thread) < 0)
			return -1;
	}
	return 0;
}

/* Validates the document and reads the small top-level members. */
static int open_document(struct reader *r, const char *json, size_t len)
{
	switch (speedscope_doc_open(&r->doc, json, len, NULL)) {
	case SPEEDSCOPE_DOC_OK:
		break;
	case SPEEDSCOPE_DOC_NOT_JSON:
		return fail(r, "not JSON (invalid at byte %zu)", r->doc.error_offset);
	case SPEEDSCOPE_DOC_NOT_OBJECT:
		return fail(r, "not JSON, or not a JSON object");
	default:
		return fail(r, "out of memory");
	}
	speedscope_bpfspy_read(r->doc.bpfspy, &r->extra);
	if (speedscope_value_kind(r->doc.name) == JSON_KIND_STRING && !(r->name = speedscope_value_strdup(r->doc.name)))
		return fail(r, "out of memory");
	return 0;
}

struct profile *profile_read_speedscope(const char *json, size_t len, char *err, size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	struct profile_meta meta = { 0 };

	if (open_document(&r, json, len) == 0) {
		choose_meta(&r, &meta);
		r.p = profile_new(&meta);
		if (!r.p)
			fail(&r, "out of memory");
		if (!r.p || read_frames(&r) < 0 || read_modules(&r) < 0 || read_profiles(&r) < 0) {
			profile_free(r.p);
			r.p = NULL;
		} else {
			read_process_events(&r);
			if (!profile_meta(r.p)->end_ns)
				profile_meta(r.p)->end_ns = ns_or_zero(r.max_end_ns);
		}
	}
	free(r.frame_ids);
	free(r.scratch);
	free(r.name);
	free(r.frame_kinds);
	speedscope_doc_close(&r.doc);
	return r.p;
}

struct profile *profile_read_speedscope_file(const char *path, char *err, size_t errlen)
{
	struct speedscope_bytes bytes;
	char why[256];

	switch (speedscope_bytes_load(path, true, &bytes, why, sizeof(why))) {
	case SPEEDSCOPE_LOADED:
		break;
	case SPEEDSCOPE_LOAD_FAILED:
		snprintf(err, errlen, "cannot read %s: %s", path, why);
		return NULL;
	default:
		snprintf(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	struct profile *p = profile_read_speedscope(bytes.data, bytes.len, why, sizeof(why));

	speedscope_bytes_release(&bytes);
	if (!p)
		snprintf(err, errlen, "%s: %s", path, why);
	return p;
}
