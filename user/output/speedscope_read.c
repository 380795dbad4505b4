// SPDX-License-Identifier: MIT
/* speedscope JSON -> profile (see speedscope_read.h). */
#include "output/speedscope_read.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const cJSON *doc;
	const cJSON *extra;      /* the "bpfspy" block, or NULL */
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

/*
 * The profile's unit: sample counts when bpfspy recorded samples at a known
 * rate or the file has no time unit at all, nanoseconds otherwise.
 */
static void choose_meta(struct reader *r, struct profile_meta *m)
{
	const char *unit = r->extra ? string_at(r->extra, "unit") : NULL;
	double rate = r->extra ? number_at(r->extra, "rate_hz", 0) : 0;
	const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->doc, "profiles"), 0);

	m->command = string_at(r->doc, "name");
	m->rate_hz = rate >= 1 && rate <= 1e6 ? (unsigned)rate : 0;
	if (unit && !strcmp(unit, "samples") && m->rate_hz)
		m->unit = PROFILE_UNIT_SAMPLES;
	else if (first && unit_ns(string_at(first, "unit")) == 0)
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
	const cJSON *shared = cJSON_GetObjectItemCaseSensitive(r->doc, "shared");
	const cJSON *frames = cJSON_GetObjectItemCaseSensitive(shared, "frames"), *fr;
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
static struct thread_id identify_thread(struct reader *r, size_t idx, const cJSON *prof)
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
	const char *name = string_at(prof, "name");

	profile_set_process_name(r->p, id.pid, name && *name ? name : "?");
	return id;
}

/* ---- samples ---- */

static int stack_frames(struct reader *r, const cJSON *stack, size_t *depth)
{
	const cJSON *idx;
	size_t n = (size_t)cJSON_GetArraySize(stack), i = 0;

	if (!cJSON_IsArray(stack))
		return fail(r, "a sample is not an array of frame indices");
	if (n > r->scratch_cap) {
		uint32_t *grown = reallocarray(r->scratch, n, sizeof(*grown));

		if (!grown)
			return fail(r, "out of memory");
		r->scratch = grown;
		r->scratch_cap = n;
	}
	cJSON_ArrayForEach(idx, stack) {
		double v = cJSON_IsNumber(idx) ? idx->valuedouble : -1;

		if (!(v >= 0 && v < (double)r->nframes) || v != floor(v))
			return fail(r, "a sample refers to frame %g of %zu", v, r->nframes);
		r->scratch[i++] = r->frame_ids[(size_t)v];
	}
	*depth = n;
	return 0;
}

/* Sample counts are expanded back into single samples so runs and counts match the recording. */
static int add_weighted(struct reader *r, struct thread_id id, size_t depth, double weight, uint64_t *ts)
{
	const struct profile_meta *m = profile_meta_const(r->p);
	uint64_t w = (uint64_t)llround(weight);

	if (m->unit == PROFILE_UNIT_NANOSECONDS) {
		*ts += w;
		return profile_add_sample(r->p, id.pid, id.tid, r->scratch, depth, w, *ts) ? fail(r, "out of memory")
											    : 0;
	}
	if (r->samples_added + w > SPEEDSCOPE_READ_MAX_SAMPLES)
		return fail(r, "more than %llu samples", (unsigned long long)SPEEDSCOPE_READ_MAX_SAMPLES);
	r->samples_added += w;
	for (uint64_t i = 0; i < w; i++)
		if (profile_add_sample(r->p, id.pid, id.tid, r->scratch, depth, 1, ++*ts))
			return fail(r, "out of memory");
	return 0;
}

static int read_profile(struct reader *r, size_t idx, const cJSON *prof)
{
	const char *type = string_at(prof, "type"), *unit = string_at(prof, "unit");
	const cJSON *samples = cJSON_GetObjectItemCaseSensitive(prof, "samples");
	const cJSON *weights = cJSON_GetObjectItemCaseSensitive(prof, "weights");

	if (!type || strcmp(type, "sampled"))
		return fail(r, "profile %zu is of type \"%s\"; only \"sampled\" profiles can be converted", idx,
			    type ? type : "?");
	if (!cJSON_IsArray(samples) || !cJSON_IsArray(weights) ||
	    cJSON_GetArraySize(samples) != cJSON_GetArraySize(weights))
		return fail(r, "profile %zu needs samples and weights arrays of the same length", idx);

	struct thread_id id = identify_thread(r, idx, prof);
	const struct profile_meta *m = profile_meta_const(r->p);
	const cJSON *s = samples->child, *w = weights->child;
	uint64_t ts = 0;

	for (; s && w; s = s->next, w = w->next) {
		size_t depth = 0;
		double weight = convert_weight(m, unit, cJSON_IsNumber(w) ? w->valuedouble : -1);

		if (weight < 0)
			return fail(r, "profile %zu has a weight that is not a number >= 0", idx);
		if (stack_frames(r, s, &depth) < 0 || add_weighted(r, id, depth, weight, &ts) < 0)
			return -1;
	}
	double span = number_at(prof, "endValue", 0) - number_at(prof, "startValue", 0);

	if (unit_ns(unit) && span * unit_ns(unit) > r->max_end_ns)
		r->max_end_ns = span * unit_ns(unit);
	return 0;
}

static int read_profiles(struct reader *r)
{
	const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(r->doc, "profiles"), *prof;
	size_t i = 0;

	if (!cJSON_IsArray(profiles))
		return fail(r, "no profiles array: not a speedscope file");
	cJSON_ArrayForEach(prof, profiles)
		if (read_profile(r, i++, prof) < 0)
			return -1;
	return 0;
}

struct profile *speedscope_read(const char *json, size_t len, char *err, size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	struct profile_meta meta = { 0 };
	cJSON *doc = cJSON_ParseWithLength(json, len);

	if (!doc || !cJSON_IsObject(doc)) {
		snprintf(err, errlen, "not JSON, or not a JSON object");
		cJSON_Delete(doc);
		return NULL;
	}
	r.doc = doc;
	r.extra = cJSON_GetObjectItemCaseSensitive(doc, "bpfspy");
	if (!cJSON_IsObject(r.extra))
		r.extra = NULL;
	choose_meta(&r, &meta);
	r.p = profile_new(&meta);
	if (!r.p)
		fail(&r, "out of memory");
	if (!r.p || read_frames(&r) < 0 || read_profiles(&r) < 0) {
		profile_free(r.p);
		r.p = NULL;
	} else if (!profile_meta(r.p)->end_ns) {
		profile_meta(r.p)->end_ns = (uint64_t)r.max_end_ns;
	}
	free(r.frame_ids);
	free(r.scratch);
	cJSON_Delete(doc);
	return r.p;
}

static char *read_whole_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, used = 0, got;

	if (!f)
		return NULL;
	do {
		if (cap - used < 65536) {
			size_t new_cap = cap ? cap * 2 : 1 << 20;
			char *grown = realloc(buf, new_cap);

			if (!grown) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = grown;
			cap = new_cap;
		}
		got = fread(buf + used, 1, cap - used, f);
		used += got;
	} while (got > 0);
	int e = ferror(f) ? EIO : 0;

	fclose(f);
	if (e) {
		free(buf);
		errno = e;
		return NULL;
	}
	*len = used;
	return buf;
}

struct profile *speedscope_read_file(const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *json = read_whole_file(path, &len);
	char why[256];

	if (!json) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	struct profile *p = speedscope_read(json, len, why, sizeof(why));

	free(json);
	if (!p)
		snprintf(err, errlen, "%s: %s", path, why);
	return p;
}
