// SPDX-License-Identifier: MIT
/*
 * speedscope JSON -> profile (see speedscope_read.h).
 *
 * The document is validated and walked in place with the scanner
 * (output/json_scan.h, shared with tools/speedscope_top_packages): the big
 * "samples" and "weights" arrays are never turned into a tree, so memory
 * stays near the file's size plus the profile model (a cJSON tree was 22x
 * the file). Only the small parts - shared.frames and the "bpfspy" block -
 * go through cJSON.
 */
#include "output/speedscope_read.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/json_scan.h"
#include "util/array.h"

/* Longest profile name or type kept (a longer one is cut): names label threads, nothing more. */
#define PROFILE_TEXT_MAX 1024

struct reader {
	char *name;              /* the document's "name", or NULL */
	cJSON *shared;           /* the "shared" object, parsed (frames are few) */
	cJSON *extra;            /* the "bpfspy" block, parsed, or NULL */
	struct json_span profiles; /* the "profiles" array, walked in place */
	struct profile *p;
	uint32_t *frame_ids;     /* shared frame index -> profile frame id */
	size_t nframes;
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

static const char *string_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A finite number at key, or fallback. */
static double number_at(const cJSON *obj, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : fallback;
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

/* The members of one profile object that the reader uses; spans point into the document. */
struct profile_fields {
	char type[64], unit[64], name[PROFILE_TEXT_MAX];
	bool have_type, have_unit, have_name;
	double start_value, end_value;
	struct json_span samples, weights;
};

static void read_profile_fields(struct json_cursor *c, struct profile_fields *f)
{
	struct json_span key;
	bool first = true;

	memset(f, 0, sizeof(*f));
	if (!json_object_begin(c))
		return;
	while (json_object_next(c, &first, &key)) {
		enum json_kind kind = json_peek_kind(c);

		if (json_key_equals(key, "type") && kind == JSON_KIND_STRING) {
			json_take_string(c, f->type, sizeof(f->type));
			f->have_type = true;
		} else if (json_key_equals(key, "unit") && kind == JSON_KIND_STRING) {
			json_take_string(c, f->unit, sizeof(f->unit));
			f->have_unit = true;
		} else if (json_key_equals(key, "name") && kind == JSON_KIND_STRING) {
			json_take_string(c, f->name, sizeof(f->name));
			f->have_name = true;
		} else if (json_key_equals(key, "startValue") && kind == JSON_KIND_NUMBER) {
			f->start_value = json_take_number(c);
		} else if (json_key_equals(key, "endValue") && kind == JSON_KIND_NUMBER) {
			f->end_value = json_take_number(c);
		} else if (json_key_equals(key, "samples")) {
			f->samples = json_take_value(c);
		} else if (json_key_equals(key, "weights")) {
			f->weights = json_take_value(c);
		} else {
			json_skip_value(c);
		}
	}
}

/* The first profile's "unit", if there is a first profile with one. */
static bool first_profile_unit(const struct reader *r, char *unit, size_t len)
{
	struct json_cursor c = { r->profiles.start, r->profiles.start ? r->profiles.start + r->profiles.len : NULL };
	bool first = true;
	struct profile_fields f;

	if (!r->profiles.start || !json_array_begin(&c) || !json_array_next(&c, &first) ||
	    json_peek_kind(&c) != JSON_KIND_OBJECT)
		return false;
	read_profile_fields(&c, &f);
	snprintf(unit, len, "%s", f.unit);
	return f.have_unit;
}

/*
 * The profile's unit: sample counts when bpfspy recorded samples at a known
 * rate or the file has no time unit at all, nanoseconds otherwise.
 */
static void choose_meta(struct reader *r, struct profile_meta *m)
{
	const char *unit = r->extra ? string_at(r->extra, "unit") : NULL;
	double rate = r->extra ? number_at(r->extra, "rate_hz", 0) : 0;
	char first_unit[64];
	bool have_first = first_profile_unit(r, first_unit, sizeof(first_unit));

	m->command = r->name;
	m->rate_hz = rate >= 1 && rate <= 1e6 ? (unsigned)rate : 0;
	if (unit && !strcmp(unit, "samples") && m->rate_hz)
		m->unit = PROFILE_UNIT_SAMPLES;
	else if (have_first && unit_ns(first_unit) == 0)
		m->unit = PROFILE_UNIT_SAMPLES;
	else
		m->unit = PROFILE_UNIT_NANOSECONDS;
	if (r->extra) {
		m->start_realtime_ns = (uint64_t)fmax(0, number_at(r->extra, "start_realtime_ns", 0));
		m->end_ns = (uint64_t)fmax(0, number_at(r->extra, "duration_ns", 0));
	}
}

/* A weight in the file's unit -> the profile's (samples or nanoseconds); -1 if unusable. */
static double convert_weight(const struct profile_meta *m, const char *unit, double w)
{
	double ns = unit_ns(unit);

	if (!isfinite(w) || w < 0)
		return -1;
	if (m->unit == PROFILE_UNIT_NANOSECONDS)
		return ns ? w * ns : w;
	/* seconds x rate = samples; "none" is already a count */
	return ns ? w * ns * m->rate_hz / 1e9 : w;
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
	const char *kinds = r->extra ? string_at(r->extra, "frame_kinds") : NULL;

	if (kinds && idx < strlen(kinds)) {
		const char *k = strchr("PNKM", kinds[idx]);

		if (k && *k)
			return (enum frame_kind)(k - "PNKM");
	}
	return guess_kind(name, file);
}

static int read_frames(struct reader *r)
{
	const cJSON *frames = cJSON_GetObjectItemCaseSensitive(r->shared, "frames"), *fr;
	size_t i = 0;

	if (!cJSON_IsArray(frames))
		return fail(r, "no shared.frames array: not a speedscope file");
	r->nframes = (size_t)cJSON_GetArraySize(frames);
	r->frame_ids = malloc((r->nframes ? r->nframes : 1) * sizeof(*r->frame_ids));
	if (!r->frame_ids)
		return fail(r, "out of memory");
	cJSON_ArrayForEach(fr, frames) {
		const char *name = string_at(fr, "name"), *file = string_at(fr, "file");
		double line = number_at(fr, "line", 0);

		if (!name)
			return fail(r, "frame %zu has no name", i);
		struct frame_desc d = {
			.name = name,
			.file = file && *file ? file : NULL,
			.line = line >= 1 && line <= INT32_MAX ? (int)line : 0,
			.kind = kind_at(r, i, name, file),
		};
		r->frame_ids[i] = profile_intern_frame(r->p, &d);
		if (r->frame_ids[i] == UINT32_MAX)
			return fail(r, "out of memory");
		i++;
	}
	return 0;
}

/* ---- threads ---- */

struct thread_id {
	uint32_t pid, tid;
};

/* From the bpfspy block, else a made-up id per profile named after it. */
static struct thread_id identify_thread(struct reader *r, size_t idx, const char *name)
{
	const cJSON *threads = r->extra ? cJSON_GetObjectItemCaseSensitive(r->extra, "threads") : NULL;
	const cJSON *t = cJSON_GetArrayItem(threads, (int)idx);
	struct thread_id id = { (uint32_t)idx + 1, (uint32_t)idx + 1 };

	if (t) {
		double pid = number_at(t, "pid", 0), tid = number_at(t, "tid", 0);

		if (pid >= 1 && pid <= UINT32_MAX && tid >= 1 && tid <= UINT32_MAX) {
			id = (struct thread_id){ (uint32_t)pid, (uint32_t)tid };
			const char *process = string_at(t, "process"), *thread = string_at(t, "thread");

			profile_set_process_name(r->p, id.pid, process ? process : "?");
			if (thread)
				profile_set_thread_name(r->p, id.pid, id.tid, thread);
			return id;
		}
	}
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

/* The bpfspy block's "runs" string of profile idx, or NULL. */
static const char *thread_runs(const struct reader *r, size_t idx)
{
	const cJSON *threads = r->extra ? cJSON_GetObjectItemCaseSensitive(r->extra, "threads") : NULL;

	return string_at(cJSON_GetArrayItem(threads, (int)idx), "runs");
}

/* The bpfspy block's process start/exec/exit events, for timelines. */
static void read_process_events(struct reader *r)
{
	static const char *const kinds[] = { [PROCESS_EVENT_START] = "start", [PROCESS_EVENT_EXEC] = "exec",
					     [PROCESS_EVENT_EXIT] = "exit" };
	const cJSON *events = r->extra ? cJSON_GetObjectItemCaseSensitive(r->extra, "process_events") : NULL;
	const cJSON *e;

	cJSON_ArrayForEach(e, events) {
		const cJSON *pid = cJSON_GetArrayItem(e, 0), *kind = cJSON_GetArrayItem(e, 1);
		const cJSON *ts = cJSON_GetArrayItem(e, 2), *comm = cJSON_GetArrayItem(e, 3);

		if (!cJSON_IsNumber(pid) || !cJSON_IsString(kind) || !cJSON_IsNumber(ts) || pid->valuedouble < 1 ||
		    pid->valuedouble > UINT32_MAX || !(ts->valuedouble >= 0 && ts->valuedouble < 1.8e19))
			continue;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (!strcmp(kind->valuestring, kinds[k]))
				profile_add_process_event(r->p, (uint32_t)pid->valuedouble, (enum process_event_kind)k,
							  (uint64_t)ts->valuedouble,
							  cJSON_IsString(comm) ? comm->valuestring : NULL);
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
	const cJSON *modules = r->extra ? cJSON_GetObjectItemCaseSensitive(r->extra, "modules") : NULL;
	const cJSON *m;

	cJSON_ArrayForEach(m, modules) {
		const char *path = string_at(m, "path"), *build_id = string_at(m, "build_id");

		if (path && *path && build_id && plausible_build_id(build_id) &&
		    profile_add_module(r->p, path, build_id) < 0)
			return fail(r, "out of memory");
	}
	return 0;
}

static int read_profile(struct reader *r, size_t idx, struct json_cursor *pc)
{
	struct profile_fields f;

	if (json_peek_kind(pc) != JSON_KIND_OBJECT)
		return fail(r, "profile %zu is not an object", idx);
	read_profile_fields(pc, &f);
	if (!f.have_type || strcmp(f.type, "sampled"))
		return fail(r, "profile %zu is of type \"%s\"; only \"sampled\" profiles can be converted", idx,
			    f.have_type ? f.type : "?");

	if (!f.samples.start || !f.weights.start)
		return fail(r, "profile %zu needs samples and weights arrays of the same length", idx);
	struct json_cursor s = { f.samples.start, f.samples.start + f.samples.len };
	struct json_cursor w = { f.weights.start, f.weights.start + f.weights.len };
	if (!json_array_begin(&s) || !json_array_begin(&w))
		return fail(r, "profile %zu needs samples and weights arrays of the same length", idx);

	struct thread_id id = identify_thread(r, idx, f.have_name ? f.name : NULL);
	const struct profile_meta *m = profile_meta_const(r->p);
	const char *unit = f.have_unit ? f.unit : NULL;
	bool first_s = true, first_w = true;
	struct run_timing timing = { .cursor = thread_runs(r, idx) };

	for (;;) {
		bool more_s = json_array_next(&s, &first_s), more_w = json_array_next(&w, &first_w);

		if (more_s != more_w)
			return fail(r, "profile %zu needs samples and weights arrays of the same length", idx);
		if (!more_s)
			break;
		size_t depth = 0;
		double raw = -1;
		if (json_peek_kind(&w) == JSON_KIND_NUMBER)
			raw = json_take_number(&w);
		else
			json_skip_value(&w);
		double weight = convert_weight(m, unit, raw);

		if (weight < 0)
			return fail(r, "profile %zu has a weight that is not a number >= 0", idx);
		if (stack_frames(r, &s, &depth) < 0 || add_weighted(r, id, depth, weight, &timing) < 0)
			return -1;
	}
	double span = f.end_value - f.start_value;

	if (unit_ns(unit) && isfinite(span) && span * unit_ns(unit) > r->max_end_ns)
		r->max_end_ns = span * unit_ns(unit);
	return 0;
}

static int read_profiles(struct reader *r)
{
	struct json_cursor c = { r->profiles.start, r->profiles.start ? r->profiles.start + r->profiles.len : NULL };
	bool first = true;
	size_t i = 0;

	if (!r->profiles.start || !json_array_begin(&c))
		return fail(r, "no profiles array: not a speedscope file");
	while (json_array_next(&c, &first))
		if (read_profile(r, i++, &c) < 0)
			return -1;
	return 0;
}

/* Finds the top-level members the reader needs; parses the small ones. */
static int scan_document(struct reader *r, const char *json, size_t len)
{
	struct json_cursor c = { json, json + len };
	struct json_span key;
	bool first = true;
	size_t bad;

	if (!json_validate_document(json, len, &bad))
		return fail(r, "not JSON (invalid at byte %zu)", bad);
	if (!json_object_begin(&c))
		return fail(r, "not JSON, or not a JSON object");
	while (json_object_next(&c, &first, &key)) {
		enum json_kind kind = json_peek_kind(&c);
		struct json_span v;

		if (json_key_equals(key, "profiles") && kind == JSON_KIND_ARRAY) {
			r->profiles = json_take_value(&c);
		} else if (json_key_equals(key, "shared") && kind == JSON_KIND_OBJECT && !r->shared) {
			v = json_take_value(&c);
			if (!(r->shared = cJSON_ParseWithLength(v.start, v.len)))
				return fail(r, "out of memory");
		} else if (json_key_equals(key, "bpfspy") && kind == JSON_KIND_OBJECT && !r->extra) {
			v = json_take_value(&c);
			if (!(r->extra = cJSON_ParseWithLength(v.start, v.len)))
				return fail(r, "out of memory");
		} else if (json_key_equals(key, "name") && kind == JSON_KIND_STRING && !r->name) {
			struct json_cursor peek = c;
			size_t n = json_take_string(&peek, NULL, 0);

			if (!(r->name = malloc(n + 1)))
				return fail(r, "out of memory");
			json_take_string(&c, r->name, n + 1);
		} else {
			json_skip_value(&c);
		}
	}
	return 0;
}

struct profile *profile_read_speedscope(const char *json, size_t len, char *err, size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	struct profile_meta meta = { 0 };

	if (scan_document(&r, json, len) == 0) {
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
				profile_meta(r.p)->end_ns = (uint64_t)r.max_end_ns;
		}
	}
	free(r.frame_ids);
	free(r.scratch);
	free(r.name);
	cJSON_Delete(r.shared);
	cJSON_Delete(r.extra);
	return r.p;
}

struct profile *profile_read_speedscope_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char why[256];

	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
		close(fd);
		return NULL;
	}
	/* mapped, not copied: the file's pages are the only copy of the document in memory */
	void *json = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (json == MAP_FAILED) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	madvise(json, (size_t)st.st_size, MADV_SEQUENTIAL);
	struct profile *p = profile_read_speedscope(json, (size_t)st.st_size, why, sizeof(why));

	munmap(json, (size_t)st.st_size);
	if (!p)
		snprintf(err, errlen, "%s: %s", path, why);
	return p;
}
