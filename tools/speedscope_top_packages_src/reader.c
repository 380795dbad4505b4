/* The tool's tables from a speedscope document (see reader.h), read through
 * the document layer bpfspy convert reads with too (output/speedscope_doc.h):
 * it decodes the file as the reference script does, and of duplicate keys
 * keeps the last, as Python's json does. */
#include "reader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/speedscope_doc.h"
#include "python_text.h"
#include "util/array.h"
#include "util/id_table.h"

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- string interning --------------------------------------------------- */

struct str_intern {
	char **strs;
	size_t count, cap;
	struct id_table index;
};

static bool is_interned(const void *ctx, uint32_t id, const void *s)
{
	return strcmp(((const struct str_intern *)ctx)->strs[id], s) == 0;
}

/* Returns the id for s, taking a copy when it is new; -1 on OOM. */
static int64_t str_intern(struct str_intern *t, const char *s)
{
	uint64_t h = hash_string(s);
	uint32_t id = id_table_find(&t->index, h, is_interned, t, s);

	if (id != ID_NONE)
		return id;
	if (array_reserve((void **)&t->strs, &t->cap, t->count + 1, sizeof(*t->strs)) != 0)
		return -1;
	t->strs[t->count] = strdup(s);
	if (!t->strs[t->count])
		return -1;
	if (id_table_insert(&t->index, h, (uint32_t)t->count) != 0) {
		free(t->strs[t->count]);
		return -1;
	}
	return (int64_t)t->count++;
}

static void str_intern_release_index(struct str_intern *t)
{
	id_table_free(&t->index);
}

/* ---- frames --------------------------------------------------------------- */

/* The reference reads frame.get("name", "") and prints it: not a string counts as empty here. */
static char *text_or_empty(struct json_span v)
{
	return speedscope_value_kind(v) == JSON_KIND_STRING ? speedscope_value_strdup(v) : strdup("");
}

static char *build_line_text(const char *name, const char *file, const char *line)
{
	char *out = NULL;
	int rc;

	if (*file && line)
		rc = asprintf(&out, "%s (%s:%s)", name, file, line);
	else if (*file)
		rc = asprintf(&out, "%s (%s)", name, file);
	else
		rc = asprintf(&out, "%s", name);
	return rc < 0 ? NULL : out;
}

static enum ss_status parse_frame(struct json_span span, struct str_intern *files, struct str_intern *lines,
				  struct ss_frame *frame)
{
	struct speedscope_frame_fields f;
	bool has_line;
	char *line_value = NULL;
	int64_t id;

	speedscope_frame_read(span, &f);
	frame->name = text_or_empty(f.name);
	frame->file = text_or_empty(f.file);
	has_line = f.line.start && speedscope_value_kind(f.line) != JSON_KIND_NULL;
	if (has_line)
		line_value = python_format_value(f.line);
	if (!frame->name || !frame->file || (has_line && !line_value))
		goto nomem;
	frame->line_text = build_line_text(frame->name, frame->file, line_value);
	free(line_value);
	line_value = NULL;
	if (!frame->line_text)
		goto nomem;
	frame->file_id = SS_NO_FILE;
	if (*frame->file) {
		id = str_intern(files, frame->file);
		if (id < 0)
			goto nomem;
		frame->file_id = (uint32_t)id;
	}
	id = str_intern(lines, frame->line_text);
	if (id < 0)
		goto nomem;
	frame->line_id = (uint32_t)id;
	return SS_OK;
nomem:
	free(line_value);
	return SS_ERR_NOMEM;
}

static enum ss_status parse_frames(struct speedscope *ss, struct json_span frames_span)
{
	struct speedscope_array frames;
	struct str_intern files = { 0 }, lines = { 0 };
	struct json_span span;
	enum ss_status st = SS_OK;
	size_t cap = 0;

	speedscope_array_begin(&frames, frames_span);
	while (speedscope_array_take(&frames, &span)) {
		if (array_reserve((void **)&ss->frames, &cap, ss->nframes + 1, sizeof(*ss->frames)) != 0) {
			st = SS_ERR_NOMEM;
			break;
		}
		memset(&ss->frames[ss->nframes], 0, sizeof(ss->frames[0]));
		st = parse_frame(span, &files, &lines, &ss->frames[ss->nframes]);
		ss->nframes++;
		if (st != SS_OK)
			break;
	}
	str_intern_release_index(&files);
	str_intern_release_index(&lines);
	ss->files = files.strs;
	ss->nfiles = files.count;
	ss->lines = lines.strs;
	ss->nlines = lines.count;
	return st;
}

/* ---- samples ------------------------------------------------------------ */

struct index_buf {
	uint32_t *items;
	size_t len, cap;
};

static bool index_buf_push(struct index_buf *b, uint32_t v)
{
	if (array_reserve((void **)&b->items, &b->cap, b->len + 1, sizeof(*b->items)) != 0)
		return false;
	b->items[b->len++] = v;
	return true;
}

/* Resolves one sample entry element the way the reference does
 * (int(i), skipping None, unconvertible values and out-of-range indices). */
static bool frame_index_of(struct json_cursor *c, size_t nframes, uint32_t *index)
{
	double v;
	char buf[64];
	size_t n;

	switch (json_peek_kind(c)) {
	case JSON_KIND_NUMBER:
		v = json_take_number(c);
		break;
	case JSON_KIND_TRUE:
		json_skip_value(c);
		v = 1;
		break;
	case JSON_KIND_FALSE:
		json_skip_value(c);
		v = 0;
		break;
	case JSON_KIND_STRING:
		n = json_take_string(c, buf, sizeof(buf));
		if (n >= sizeof(buf) || !python_int_of_string(buf, &v))
			return false;
		break;
	default:
		json_skip_value(c);
		return false;
	}
	if (!isfinite(v))
		return false;
	v = trunc(v);
	if (v < 0 || v >= (double)nframes)
		return false;
	*index = (uint32_t)v;
	return true;
}

static enum ss_status add_stack(struct speedscope *ss, const struct index_buf *stack, uint64_t samples,
				double weight)
{
	bool inserted;
	int64_t id = seq_table_intern(&ss->stacks, stack->items, stack->len, &inserted);

	if (id < 0)
		return SS_ERR_NOMEM;
	if (inserted) {
		if ((size_t)id >= ss->stack_stats_cap) {
			size_t cap = ss->stack_stats_cap ? ss->stack_stats_cap * 2 : 1024;
			uint64_t *cnt = realloc(ss->stack_samples, cap * sizeof(*cnt));

			if (!cnt)
				return SS_ERR_NOMEM;
			ss->stack_samples = cnt;
			double *w = realloc(ss->stack_weight, cap * sizeof(*w));

			if (!w)
				return SS_ERR_NOMEM;
			ss->stack_weight = w;
			ss->stack_stats_cap = cap;
		}
		ss->stack_samples[id] = 0;
		ss->stack_weight[id] = 0;
	}
	ss->stack_samples[id] += samples;
	ss->stack_weight[id] += weight;
	ss->total_samples += samples;
	ss->total_weight += weight;
	return SS_OK;
}

static enum ss_status read_sampled(struct speedscope *ss, const struct speedscope_profile_fields *pf,
				   struct index_buf *stack)
{
	struct speedscope_samples s;
	struct json_span weight_value;
	enum ss_status st;

	if (!speedscope_samples_begin(&s, pf))
		return SS_OK;
	while (speedscope_samples_next(&s, &weight_value)) {
		double weight = 1;
		uint32_t index;

		stack->len = 0;
		if (json_peek_kind(&s.at) == JSON_KIND_ARRAY) {
			bool first = true;

			json_array_begin(&s.at);
			while (json_array_next(&s.at, &first)) {
				if (!frame_index_of(&s.at, ss->nframes, &index))
					ss->skipped_indices++;
				else if (!index_buf_push(stack, index))
					return SS_ERR_NOMEM;
			}
		} else if (!frame_index_of(&s.at, ss->nframes, &index)) {
			ss->skipped_indices++;
		} else if (!index_buf_push(stack, index)) {
			return SS_ERR_NOMEM;
		}
		/* no weights array, or one that ran out: the entry weighs 1; a weight that is not a number, 0 */
		if (weight_value.start && (!speedscope_value_number(weight_value, &weight) || !isfinite(weight)))
			weight = 0;
		uint64_t count = 1;
		if (ss->entry_rate_hz > 0 && weight > 0) {
			double n = llround(weight * ss->entry_rate_hz);
			count = n >= 1 && n < 1e15 ? (uint64_t)n : 1;
		}
		st = add_stack(ss, stack, count, weight);
		if (st != SS_OK)
			return st;
	}
	if (s.weights_short)
		ss->weights_mismatched++;
	return SS_OK;
}

/* Speedscope's evented model: the open frames between two consecutive events
 * were on the stack for the time between them. */
static enum ss_status read_evented(struct speedscope *ss, const struct speedscope_profile_fields *pf,
				   struct index_buf *stack)
{
	struct speedscope_array events;
	struct speedscope_event_fields e;
	struct json_span span;
	bool have_prev = false;
	double prev_at = 0, at, frame;
	enum ss_status st = SS_OK;

	stack->len = 0;
	if (!speedscope_array_begin(&events, pf->events))
		return SS_OK;
	while (st == SS_OK && speedscope_array_take(&events, &span)) {
		speedscope_event_read(span, &e);
		if (speedscope_value_kind(e.type) != JSON_KIND_STRING || !speedscope_value_number(e.at, &at) ||
		    !isfinite(at))
			continue;
		if (have_prev && stack->len && at > prev_at)
			st = add_stack(ss, stack, 1, at - prev_at);
		prev_at = at;
		have_prev = true;
		bool valid = speedscope_value_number(e.frame, &frame) && frame >= 0 && frame < (double)ss->nframes;

		if (st == SS_OK && valid && speedscope_value_is(e.type, "O")) {
			if (!index_buf_push(stack, (uint32_t)frame))
				st = SS_ERR_NOMEM;
		} else if (valid && speedscope_value_is(e.type, "C") && stack->len) {
			stack->len--;
		}
	}
	return st;
}

static enum ss_status read_profiles(struct speedscope *ss, struct json_span profiles_span,
				    const struct ss_read_options *opts)
{
	struct speedscope_array profiles;
	struct speedscope_profile_fields pf;
	struct index_buf stack = { 0 };
	enum ss_status st = SS_OK;
	bool is_object;

	if (!speedscope_array_begin(&profiles, profiles_span))
		return SS_OK;
	while (st == SS_OK && speedscope_profiles_next(&profiles, &pf, &is_object)) {
		ss->nprofiles++;
		if (pf.samples.start)
			st = read_sampled(ss, &pf, &stack);
		else if (pf.events.start && opts && opts->events_as_samples)
			st = read_evented(ss, &pf, &stack);
	}
	free(stack.items);
	return st;
}

/* ---- document ----------------------------------------------------------- */

static void offset_to_line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* The sampling rate of a bpfspy profile counted in samples, from its "bpfspy" block; 0 otherwise. */
static double bpfspy_sample_rate(struct json_span block)
{
	struct speedscope_bpfspy_fields b;
	double hz;

	if (!speedscope_bpfspy_read(block, &b) || !speedscope_value_is(b.unit, "samples") ||
	    !speedscope_value_number(b.rate_hz, &hz))
		return 0;
	return isfinite(hz) && hz > 0 && hz < 1e7 ? hz : 0;
}

/* The script's frames: shared.frames, or else the first profile's "frames", whichever is not empty. */
static bool find_frames(const struct speedscope_doc *doc, struct json_span *frames)
{
	struct speedscope_array profiles;
	struct speedscope_profile_fields first;
	bool is_object;

	*frames = speedscope_shared_frames(doc);
	if (frames->start && json_value_is_truthy(*frames))
		return true;
	if (!speedscope_array_begin(&profiles, doc->profiles) ||
	    !speedscope_profiles_next(&profiles, &first, &is_object))
		return false;
	*frames = first.frames;
	return frames->start && json_value_is_truthy(*frames);
}

static enum ss_status read_document(const struct speedscope_doc *doc, const struct ss_read_options *opts,
				    struct speedscope *ss, char *err, size_t errlen)
{
	struct json_span frames;
	enum ss_status st;

	ss->entry_rate_hz = bpfspy_sample_rate(doc->bpfspy);
	if (!find_frames(doc, &frames)) {
		set_error(err, errlen, "no frames in shared or profile (shared.frames is missing or empty)");
		return SS_ERR_NO_FRAMES;
	}
	if (speedscope_value_kind(frames) != JSON_KIND_ARRAY) {
		set_error(err, errlen, "frames is not a JSON array");
		return SS_ERR_NO_FRAMES;
	}
	st = parse_frames(ss, frames);
	if (st == SS_OK)
		st = read_profiles(ss, doc->profiles, opts);
	if (st == SS_ERR_NOMEM)
		set_error(err, errlen, "out of memory");
	return st;
}

enum ss_status speedscope_read_buffer(const char *buf, size_t len, const struct ss_read_options *opts,
				      struct speedscope *ss, char *err, size_t errlen)
{
	static const struct speedscope_doc_options doc_opts = { .latin1_fallback = true };
	struct speedscope_doc doc;
	enum ss_status st = SS_ERR_JSON;
	size_t line, col;

	memset(ss, 0, sizeof(*ss));
	seq_table_init(&ss->stacks);
	switch (speedscope_doc_open(&doc, buf, len, &doc_opts)) {
	case SPEEDSCOPE_DOC_OK:
		st = read_document(&doc, opts, ss, err, errlen);
		break;
	case SPEEDSCOPE_DOC_NOT_JSON:
		offset_to_line_col(doc.text, doc.error_offset, &line, &col);
		set_error(err, errlen, "invalid JSON at line %zu column %zu (byte %zu)", line, col, doc.error_offset);
		break;
	case SPEEDSCOPE_DOC_NOT_OBJECT:
		set_error(err, errlen, "top-level JSON value is not an object");
		break;
	case SPEEDSCOPE_DOC_NOMEM:
		set_error(err, errlen, "out of memory");
		st = SS_ERR_NOMEM;
		break;
	}
	speedscope_doc_close(&doc);
	return st;
}

enum ss_status speedscope_read_file(const char *path, const struct ss_read_options *opts,
				    struct speedscope *ss, char *err, size_t errlen)
{
	struct speedscope_bytes bytes;
	char why[256];
	enum ss_status st;

	memset(ss, 0, sizeof(*ss));
	if (speedscope_bytes_load(path, false, &bytes, why, sizeof(why)) != SPEEDSCOPE_LOADED) {
		set_error(err, errlen, "%s", why);
		return SS_ERR_IO;
	}
	st = speedscope_read_buffer(bytes.data, bytes.len, opts, ss, err, errlen);
	speedscope_bytes_release(&bytes);
	return st;
}

void speedscope_free(struct speedscope *ss)
{
	for (size_t i = 0; i < ss->nframes; i++) {
		free(ss->frames[i].name);
		free(ss->frames[i].file);
		free(ss->frames[i].line_text);
	}
	free(ss->frames);
	for (size_t i = 0; i < ss->nfiles; i++)
		free(ss->files[i]);
	free(ss->files);
	for (size_t i = 0; i < ss->nlines; i++)
		free(ss->lines[i]);
	free(ss->lines);
	seq_table_free(&ss->stacks);
	free(ss->stack_samples);
	free(ss->stack_weight);
	memset(ss, 0, sizeof(*ss));
}
