// SPDX-License-Identifier: MIT
/*
 * speedscope JSON writer (https://www.speedscope.app/file-format-schema.json),
 * streamed straight to the FILE: one "sampled" profile per thread, one
 * samples/weights entry per sample, as py-spy writes them. Tools that count
 * entries and ignore weights (the seed's speedscope_top_packages.py does)
 * then count what bpfspy sampled; run-length merging stays inside the
 * profile model. With --idle (nanosecond weights) an off-CPU interval is
 * written as entries of one sampling period each, plus one for the
 * remainder, so entry counts stay proportional to wall time too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/json_string.h"
#include "output/timeline.h"
#include "profile/profile.h"
#include "util/id_table.h"
#include "util/version.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

/* Formatted sample lists are cached per stack up to this many bytes in total. */
#define STACK_TEXT_CACHE_LIMIT (64u << 20)
/* Weights of this many samples or fewer are formatted once and reused. */
#define SMALL_WEIGHTS 256

struct speedscope_writer {
	const struct profile *p;
	FILE *f;

	/* shared.frames index of each frame id: frames equal in name/file/line share one */
	uint32_t *frame_index;
	size_t nframes_out;
	char *frame_kinds; /* one letter per shared frame, for the "bpfspy" block */

	/* "[i,j,k]" text per stack id; offset UINT64_MAX = not cached */
	uint64_t *text_offset;
	uint32_t *text_length;
	char *text;
	size_t text_used, text_cap;

	uint32_t *scratch_frames;
	size_t scratch_cap;
	char *scratch_text;
	size_t scratch_text_cap;

	/*
	 * PROFILE_UNIT_SAMPLES with a known rate is written in seconds, each
	 * sample weighing 1/rate, as py-spy does: speedscope then shows real
	 * durations and the total equals samples / rate. Without a rate we can
	 * only count (unit "none"); nanosecond profiles are written as is.
	 */
	const char *unit;
	unsigned rate_hz; /* 0: integer weights */
	uint64_t period_ns; /* nanosecond profiles: one entry per this many ns (0: one entry per run) */
	char small_weight[SMALL_WEIGHTS + 1][32];

	bool first_entry;
	uint64_t timing_end_ns; /* the "runs" string: where the previous run ended */
};

/* ---- frames ---- */

struct frame_key_ctx {
	const struct profile *p;
	const uint32_t *out_to_frame; /* first frame id written at each output index */
};

static bool same_string(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_shown_frame(const void *ctx, uint32_t out_idx, const void *key)
{
	const struct frame_key_ctx *c = ctx;
	const struct frame_desc *have = profile_frame(c->p, c->out_to_frame[out_idx]);
	const struct frame_desc *want = key;

	return have->line == want->line && same_string(have->name, want->name) &&
	       same_string(have->file, want->file);
}

static uint64_t shown_frame_hash(const struct frame_desc *f)
{
	uint64_t h = hash_bytes(HASH_SEED, f->name, strlen(f->name) + 1);

	if (f->file)
		h = hash_bytes(h, f->file, strlen(f->file) + 1);
	return hash_bytes(h, &f->line, sizeof(f->line));
}

static void write_frame(FILE *f, const struct frame_desc *d)
{
	fputs("{\"name\":", f);
	json_write_string(f, d->name);
	if (d->file) {
		fputs(",\"file\":", f);
		json_write_string(f, d->file);
	}
	if (d->line > 0)
		fprintf(f, ",\"line\":%d", d->line);
	putc('}', f);
}

/*
 * Frames interned with different kinds can look identical in speedscope
 * (it has no kind); they are written once so the viewer merges them.
 */
static int write_frames(struct speedscope_writer *w)
{
	size_t n = profile_frame_count(w->p);
	uint32_t *out_to_frame = malloc((n ? n : 1) * sizeof(*out_to_frame));
	struct id_table seen = { 0 };
	struct frame_key_ctx ctx = { w->p, out_to_frame };
	int rc = 0;

	w->frame_index = malloc((n ? n : 1) * sizeof(*w->frame_index));
	w->frame_kinds = calloc(n + 1, 1);
	if (!out_to_frame || !w->frame_index || !w->frame_kinds) {
		rc = -1;
		goto out;
	}
	fputs("\"shared\":{\"frames\":[", w->f);
	for (uint32_t id = 0; id < n; id++) {
		const struct frame_desc *d = profile_frame(w->p, id);
		uint64_t hash = shown_frame_hash(d);
		uint32_t out = id_table_find(&seen, hash, same_shown_frame, &ctx, d);

		if (out == ID_NONE) {
			out = (uint32_t)w->nframes_out++;
			out_to_frame[out] = id;
			w->frame_kinds[out] = "PNKM"[d->kind & 3];
			if (id_table_insert(&seen, hash, out) < 0) {
				rc = -1;
				goto out;
			}
			fputs(out ? ",\n" : "\n", w->f);
			write_frame(w->f, d);
		}
		w->frame_index[id] = out;
	}
	fputs("]},\n", w->f);
out:
	id_table_free(&seen);
	free(out_to_frame);
	return rc;
}

/* ---- sample lists ---- */

static char *format_u32(char *end, uint32_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static int reserve_bytes(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t new_cap = *cap ? *cap : 4096;

	while (new_cap < need)
		new_cap *= 2;
	char *grown = realloc(*buf, new_cap);

	if (!grown)
		return -1;
	*buf = grown;
	*cap = new_cap;
	return 0;
}

/* Formats "[i,j,k]" (root first) into scratch_text; returns its length or -1. */
static ssize_t format_stack(struct speedscope_writer *w, uint32_t stack_id)
{
	long loaded = profile_stack_load(w->p, stack_id, &w->scratch_frames, &w->scratch_cap);

	if (loaded < 0)
		return -1;
	size_t depth = (size_t)loaded;
	/* 10 digits and a comma per frame, plus the brackets */
	if (reserve_bytes(&w->scratch_text, &w->scratch_text_cap, depth * 11 + 3) < 0)
		return -1;

	char *out = w->scratch_text;
	char digits[12];

	*out++ = '[';
	for (size_t i = 0; i < depth; i++) {
		char *end = digits + sizeof(digits);
		char *start = format_u32(end, w->frame_index[w->scratch_frames[i]]);

		if (i)
			*out++ = ',';
		memcpy(out, start, (size_t)(end - start));
		out += end - start;
	}
	*out++ = ']';
	return out - w->scratch_text;
}

static int init_stack_cache(struct speedscope_writer *w)
{
	size_t n = profile_stack_count(w->p);

	w->text_offset = malloc((n ? n : 1) * sizeof(*w->text_offset));
	w->text_length = malloc((n ? n : 1) * sizeof(*w->text_length));
	if (!w->text_offset || !w->text_length)
		return -1;
	for (size_t i = 0; i < n; i++)
		w->text_offset[i] = UINT64_MAX;
	return 0;
}

static int write_stack(struct speedscope_writer *w, uint32_t stack_id)
{
	if (w->text_offset[stack_id] != UINT64_MAX) {
		fwrite(w->text + w->text_offset[stack_id], 1, w->text_length[stack_id], w->f);
		return 0;
	}
	ssize_t len = format_stack(w, stack_id);

	if (len < 0)
		return -1;
	fwrite(w->scratch_text, 1, (size_t)len, w->f);
	/* past the limit stacks are formatted every time: slower, but memory stays bounded */
	if (w->text_used + (size_t)len <= STACK_TEXT_CACHE_LIMIT &&
	    reserve_bytes(&w->text, &w->text_cap, w->text_used + (size_t)len) == 0) {
		memcpy(w->text + w->text_used, w->scratch_text, (size_t)len);
		w->text_offset[stack_id] = w->text_used;
		w->text_length[stack_id] = (uint32_t)len;
		w->text_used += (size_t)len;
	}
	return 0;
}

/*
 * How a run of the profile model becomes entries: count entries weighing
 * each, the last one weighing last (each == last when they are all equal).
 */
struct entry_split {
	uint64_t count, each, last;
};

static struct entry_split split_run(const struct speedscope_writer *w, uint64_t weight, uint64_t nsamples)
{
	struct entry_split e = { 1, weight, weight };

	if (w->period_ns) {
		if (weight > w->period_ns) {
			e.count = weight / w->period_ns;
			e.each = e.last = w->period_ns;
			if (weight % w->period_ns) {
				e.count++;
				e.last = weight % w->period_ns;
			}
		}
	} else if (w->rate_hz || nsamples == weight) {
		/* sample counts: one entry per sample, each weighing one */
		e.count = weight ? weight : 1;
		e.each = e.last = weight ? 1 : 0;
	}
	return e;
}

static int write_sample_entry(void *arg, const struct profile_run *run)
{
	struct speedscope_writer *w = arg;
	struct entry_split e = split_run(w, run->weight, run->nsamples);

	for (uint64_t i = 0; i < e.count; i++) {
		if (!w->first_entry)
			fputs(",\n", w->f);
		w->first_entry = false;
		if (write_stack(w, run->stack_id) != 0)
			return -1;
	}
	return 0;
}

/* ---- weights ---- */

static void format_weight(const struct speedscope_writer *w, uint64_t weight, char *buf, size_t len)
{
	if (w->rate_hz)
		/* 12 significant digits: exact to the sample for any realistic run */
		snprintf(buf, len, "%.12g", (double)weight / w->rate_hz);
	else
		snprintf(buf, len, "%" PRIu64, weight);
}

static void write_weight(struct speedscope_writer *w, uint64_t weight)
{
	char buf[32];

	if (weight <= SMALL_WEIGHTS) {
		fputs(w->small_weight[weight], w->f);
		return;
	}
	format_weight(w, weight, buf, sizeof(buf));
	fputs(buf, w->f);
}

static int write_weight_entry(void *arg, const struct profile_run *run)
{
	struct speedscope_writer *w = arg;
	struct entry_split e = split_run(w, run->weight, run->nsamples);

	for (uint64_t i = 0; i < e.count; i++) {
		if (!w->first_entry)
			putc(',', w->f);
		w->first_entry = false;
		write_weight(w, i + 1 == e.count ? e.last : e.each);
	}
	return 0;
}

static void choose_unit(struct speedscope_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);

	w->period_ns = 0;
	if (m->unit == PROFILE_UNIT_NANOSECONDS) {
		w->unit = "nanoseconds";
		w->rate_hz = 0;
		w->period_ns = m->rate_hz ? 1000000000ull / m->rate_hz : 0;
	} else if (m->rate_hz) {
		w->unit = "seconds";
		w->rate_hz = m->rate_hz;
	} else {
		w->unit = "none";
		w->rate_hz = 0;
	}
	for (uint64_t i = 0; i <= SMALL_WEIGHTS; i++)
		format_weight(w, i, w->small_weight[i], sizeof(w->small_weight[i]));
}

/* ---- profiles ---- */

/* A thread name shared by another thread of the same process needs the tid too. */
static bool thread_name_is_unique(const struct profile *p, size_t idx,
				  const struct profile_thread_info *t)
{
	struct profile_thread_info other;

	/* threads of one process are adjacent in iteration order */
	for (size_t i = idx; i-- > 0 && profile_thread_at(p, i, &other) && other.pid == t->pid;)
		if (other.thread_name && strcmp(other.thread_name, t->thread_name) == 0)
			return false;
	for (size_t i = idx + 1; profile_thread_at(p, i, &other) && other.pid == t->pid; i++)
		if (other.thread_name && strcmp(other.thread_name, t->thread_name) == 0)
			return false;
	return true;
}

static void write_profile_name(struct speedscope_writer *w, size_t idx,
			       const struct profile_thread_info *t)
{
	char *name = NULL;
	int rc;

	if (t->thread_name && thread_name_is_unique(w->p, idx, t))
		rc = asprintf(&name, "%s (pid %" PRIu32 ") %s", t->process_name, t->pid,
			      t->thread_name);
	else if (t->thread_name)
		rc = asprintf(&name, "%s (pid %" PRIu32 ") %s tid %" PRIu32, t->process_name,
			      t->pid, t->thread_name, t->tid);
	else
		rc = asprintf(&name, "%s (pid %" PRIu32 ") tid %" PRIu32, t->process_name, t->pid,
			      t->tid);
	json_write_string(w->f, rc < 0 ? "[thread]" : name);
	free(rc < 0 ? NULL : name);
}

static int write_profile(struct speedscope_writer *w, size_t idx,
			 const struct profile_thread_info *t, bool first)
{
	FILE *f = w->f;

	fputs(first ? "\n{\"type\":\"sampled\",\"name\":" : ",\n{\"type\":\"sampled\",\"name\":", f);
	write_profile_name(w, idx, t);
	/* speedscope takes endValue - startValue as the profile's total weight */
	fprintf(f, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":", w->unit);
	write_weight(w, t->total_weight);
	fputs(",\n\"samples\":[\n", f);
	w->first_entry = true;
	if (profile_thread_runs(w->p, idx, write_sample_entry, w) != 0)
		return -1;
	fputs("],\n\"weights\":[", f);
	w->first_entry = true;
	if (profile_thread_runs(w->p, idx, write_weight_entry, w) != 0)
		return -1;
	fputs("]}", f);
	return ferror(f) ? -1 : 0;
}

static int write_profiles(struct speedscope_writer *w)
{
	struct profile_thread_info t;
	bool first = true;

	fputs("\"profiles\":[", w->f);
	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++) {
		if (!t.samples)
			continue;
		if (write_profile(w, i, &t, first) < 0)
			return -1;
		first = false;
	}
	fputs("]", w->f);
	return 0;
}

static void write_header(struct speedscope_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);

	fputs("{\"$schema\":\"" SPEEDSCOPE_SCHEMA "\",\n\"name\":", w->f);
	json_write_string(w->f, m->command && *m->command ? m->command : "bpfspy profile");
	fputs(",\"exporter\":\"" BPFSPY_EXPORTER "\"", w->f);
	fputs(",\"activeProfileIndex\":0,\n", w->f);
}

/* One run's place in time, for the "runs" string below. */
static int write_run_timing(void *arg, const struct profile_run *run)
{
	struct speedscope_writer *w = arg;
	const struct profile_meta *m = profile_meta_const(w->p);
	uint64_t start = run->start_ns > m->start_ns ? run->start_ns - m->start_ns : 0;
	uint64_t end = run->end_ns > m->start_ns ? run->end_ns - m->start_ns : 0;

	fprintf(w->f, "%s%" PRIu64 " %" PRIu64, w->first_entry ? "" : " ",
		start > w->timing_end_ns ? start - w->timing_end_ns : 0,
		split_run(w, run->weight, run->nsamples).count);
	w->first_entry = false;
	if (end > w->timing_end_ns)
		w->timing_end_ns = end;
	return 0;
}

static void write_process_events(struct speedscope_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	size_t n = profile_process_event_count(w->p);
	bool first = true;

	fputs(",\"process_events\":[", w->f);
	for (size_t i = 0; i < n; i++) {
		const struct profile_process_event *e = profile_process_event_at(w->p, i);

		if (!timeline_pid_sampled(w->p, e->pid))
			continue;
		fprintf(w->f, "%s[%" PRIu32 ",\"%s\",%" PRIu64 ",", first ? "" : ",", e->pid,
			timeline_event_name(e->kind), e->ts_ns > m->start_ns ? e->ts_ns - m->start_ns : 0);
		json_write_string(w->f, e->comm);
		putc(']', w->f);
		first = false;
	}
	putc(']', w->f);
}

/* The profile's module table: native files with the build-ids they had when recorded. */
static void write_modules(struct speedscope_writer *w)
{
	size_t n = profile_module_count(w->p);

	fputs(",\"modules\":[", w->f);
	for (size_t i = 0; i < n; i++) {
		const struct profile_module *m = profile_module_at(w->p, i);

		fputs(i ? ",{\"path\":" : "{\"path\":", w->f);
		json_write_string(w->f, m->path);
		fputs(",\"build_id\":", w->f);
		json_write_string(w->f, m->build_id);
		putc('}', w->f);
	}
	putc(']', w->f);
}

/*
 * What speedscope's format cannot hold but `bpfspy convert` needs to rebuild
 * the profile: the sample rate (to turn seconds back into sample counts),
 * frame kinds (P/N/K/M per shared frame), each profile's pid and tid, and
 * the recording's times. speedscope ignores unknown top-level keys.
 *
 * Times, for timelines: each thread's "runs" string holds, per run of
 * samples on one stack, the nanoseconds since the previous run ended (the
 * first: since the recording started) and how many entries of the profile
 * the run wrote; "process_events" lists [pid, "start"|"exec"|"exit", ns
 * since the start, comm].
 *
 * Build-ids: "modules" lists [{"path", "build_id"}] per native module file,
 * as normalized while the process was alive, so a pprof converted later
 * (the binaries gone, or on another machine) still names the right files.
 */
static void write_bpfspy_block(struct speedscope_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	struct profile_thread_info t;
	bool first = true;

	fprintf(w->f, ",\n\"bpfspy\":{\"version\":1,\"unit\":\"%s\",\"rate_hz\":%u,"
		"\"start_realtime_ns\":%" PRIu64 ",\"duration_ns\":%" PRIu64 ",\"frame_kinds\":\"%s\",\"threads\":[",
		m->unit == PROFILE_UNIT_NANOSECONDS ? "nanoseconds" : "samples", m->rate_hz,
		m->start_realtime_ns, m->end_ns > m->start_ns ? m->end_ns - m->start_ns : 0, w->frame_kinds);
	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++) {
		if (!t.samples)
			continue;
		fprintf(w->f, "%s{\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"process\":", first ? "" : ",", t.pid,
			t.tid);
		json_write_string(w->f, t.process_name);
		if (t.thread_name) {
			fputs(",\"thread\":", w->f);
			json_write_string(w->f, t.thread_name);
		}
		fputs(",\"runs\":\"", w->f);
		w->first_entry = true;
		w->timing_end_ns = 0;
		profile_thread_runs(w->p, i, write_run_timing, w);
		fputs("\"}", w->f);
		first = false;
	}
	putc(']', w->f);
	write_process_events(w);
	write_modules(w);
	putc('}', w->f);
}

static void writer_free(struct speedscope_writer *w)
{
	free(w->frame_kinds);
	free(w->frame_index);
	free(w->text_offset);
	free(w->text_length);
	free(w->text);
	free(w->scratch_frames);
	free(w->scratch_text);
}

int write_speedscope(const struct profile *p, FILE *f, const struct write_options *o)
{
	struct speedscope_writer w = { .p = p, .f = f };
	int rc = -1;

	/* so that a failure without its own errno (none today) still reports EIO */
	errno = 0;
	choose_unit(&w);
	if (init_stack_cache(&w) < 0) {
		errno = ENOMEM;
		goto out;
	}
	write_header(&w);
	if (write_frames(&w) < 0 || write_profiles(&w) < 0)
		goto out;
	write_bpfspy_block(&w);
	fputs("}\n", f);
	if (fflush(f) == 0 && !ferror(f))
		rc = 0;
out:
	if (rc < 0 && errno == 0)
		errno = EIO;
	writer_free(&w);
	return rc;
}
