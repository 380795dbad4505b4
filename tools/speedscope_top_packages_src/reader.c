#include "reader.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/json_scan.h"
#include "util/array.h"
#include "util/id_table.h"
#include "util/utf8.h"

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- text decoding ------------------------------------------------------ */

/* The reference falls back to latin-1 when a file is not UTF-8; every byte
 * then becomes one character, which prints as UTF-8. */
static char *latin1_to_utf8(const unsigned char *s, size_t len, size_t *out_len)
{
	char *out = malloc(len * 2 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x80) {
			out[o++] = (char)s[i];
		} else {
			out[o++] = (char)(0xC0 | (s[i] >> 6));
			out[o++] = (char)(0x80 | (s[i] & 0x3F));
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
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

/* Python's repr() of a float: shortest digits that round-trip, fixed notation
 * for exponents in [-4, 16), ".0" on integral values. */
static void python_float_repr(double v, char *buf, size_t size)
{
	char digits[40];
	int prec, exp10, ndig;
	char *e;
	char mant[24];
	size_t m = 0;

	if (isnan(v)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(digits, sizeof(digits), "%.*e", prec, v);
		if (strtod(digits, NULL) == v)
			break;
	}
	/* digits is "[-]d[.ddd]e[+-]xx" */
	e = strchr(digits, 'e');
	exp10 = atoi(e + 1);
	*e = '\0';
	for (char *p = digits; *p; p++)
		if (*p != '.' && *p != '-')
			mant[m++] = *p;
	mant[m] = '\0';
	while (m > 1 && mant[m - 1] == '0')
		mant[--m] = '\0';
	ndig = (int)m;
	const char *sign = v < 0 || (v == 0 && signbit(v)) ? "-" : "";

	if (exp10 >= -5 + 1 && exp10 < 16) {
		char out[64];
		size_t o = 0;

		if (exp10 < 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "0.");
			for (int i = 0; i < -exp10 - 1; i++)
				out[o++] = '0';
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", mant);
		} else {
			for (int i = 0; i <= exp10; i++)
				out[o++] = i < ndig ? mant[i] : '0';
			out[o++] = '.';
			if (ndig > exp10 + 1)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", mant + exp10 + 1);
			else
				out[o++] = '0';
			out[o] = '\0';
		}
		out[o] = '\0';
		snprintf(buf, size, "%s%s", sign, out);
	} else if (ndig == 1) {
		snprintf(buf, size, "%s%ce%c%02d", sign, mant[0], exp10 < 0 ? '-' : '+', abs(exp10));
	} else {
		snprintf(buf, size, "%s%c.%se%c%02d", sign, mant[0], mant + 1, exp10 < 0 ? '-' : '+',
			 abs(exp10));
	}
}

/* Formats the raw "line" token of a frame as Python's f"{line}" would. */
static char *format_line_value(struct json_span raw, const cJSON *item)
{
	char buf[128];

	if (cJSON_IsString(item))
		return strdup(item->valuestring);
	if (cJSON_IsBool(item))
		return strdup(cJSON_IsTrue(item) ? "True" : "False");
	if (cJSON_IsNumber(item) || (raw.len && (raw.start[0] == 'N' || raw.start[0] == 'I' ||
						 (raw.start[0] == '-' && raw.len > 1 && raw.start[1] == 'I')))) {
		bool integral = memchr(raw.start, '.', raw.len) == NULL &&
				memchr(raw.start, 'e', raw.len) == NULL &&
				memchr(raw.start, 'E', raw.len) == NULL &&
				raw.start[raw.len - 1] >= '0' && raw.start[raw.len - 1] <= '9';

		if (integral) {
			/* Python ints print exactly, and -0 is 0. */
			const char *p = raw.start;
			size_t n = raw.len;

			if (n == 2 && p[0] == '-' && p[1] == '0')
				return strdup("0");
			return strndup(p, n);
		}
		struct json_cursor c = { raw.start, raw.start + raw.len };

		python_float_repr(json_take_number(&c), buf, sizeof(buf));
		return strdup(buf);
	}
	/* Lists and objects: Python would print their repr; JSON text is the
	 * closest honest rendering. */
	return item ? cJSON_PrintUnformatted(item) : strndup(raw.start, raw.len);
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

static const char *string_member(const cJSON *obj, const char *key)
{
	const cJSON *item = NULL, *it;

	/* Python keeps the last duplicate key; cJSON would return the first. */
	cJSON_ArrayForEach(it, obj)
		if (it->string && strcmp(it->string, key) == 0)
			item = it;
	return cJSON_IsString(item) ? item->valuestring : "";
}

static enum ss_status parse_frame(struct speedscope *ss, struct json_span span,
				  struct str_intern *files, struct str_intern *lines,
				  struct ss_frame *frame)
{
	cJSON *obj = cJSON_ParseWithLength(span.start, span.len);
	const cJSON *line_item = NULL, *it;
	struct json_span line_raw = { NULL, 0 };
	char *line_value = NULL;
	int64_t id;

	if (cJSON_IsObject(obj)) {
		struct json_cursor c = { span.start, span.start + span.len };
		struct json_span key;
		bool first = true;

		cJSON_ArrayForEach(it, obj)
			if (it->string && strcmp(it->string, "line") == 0)
				line_item = it;
		if (json_object_begin(&c))
			while (json_object_next(&c, &first, &key)) {
				struct json_span value = json_take_value(&c);

				if (json_key_equals(key, "line"))
					line_raw = value;
			}
	}
	frame->name = strdup(cJSON_IsObject(obj) ? string_member(obj, "name") : "");
	frame->file = strdup(cJSON_IsObject(obj) ? string_member(obj, "file") : "");
	if (line_raw.start && !(line_raw.len == 4 && memcmp(line_raw.start, "null", 4) == 0))
		line_value = format_line_value(line_raw, line_item);
	if (!frame->name || !frame->file || (line_raw.start && !line_value && line_raw.len != 4))
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
	cJSON_Delete(obj);
	(void)ss;
	return SS_OK;
nomem:
	free(line_value);
	cJSON_Delete(obj);
	return SS_ERR_NOMEM;
}

static enum ss_status parse_frames(struct speedscope *ss, struct json_span frames_span)
{
	struct json_cursor c = { frames_span.start, frames_span.start + frames_span.len };
	struct str_intern files = { 0 }, lines = { 0 };
	enum ss_status st = SS_OK;
	size_t cap = 0;
	bool first = true;

	json_array_begin(&c);
	while (json_array_next(&c, &first)) {
		struct json_span span = json_take_value(&c);

		if (ss->nframes == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct ss_frame *f = realloc(ss->frames, ncap * sizeof(*f));

			if (!f) {
				st = SS_ERR_NOMEM;
				break;
			}
			ss->frames = f;
			cap = ncap;
		}
		memset(&ss->frames[ss->nframes], 0, sizeof(ss->frames[0]));
		st = parse_frame(ss, span, &files, &lines, &ss->frames[ss->nframes]);
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

/* Python's int() of a string: surrounding whitespace, a sign, digits with
 * single underscores between them. */
static bool parse_python_int(const char *s, double *out)
{
	double v = 0;
	bool neg = false, digit_before = false;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s - '0');
			digit_before = true;
		} else if (*s == '_' && digit_before && s[1] >= '0' && s[1] <= '9') {
			continue;
		} else {
			break;
		}
	}
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s || !digit_before)
		return false;
	*out = neg ? -v : v;
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
		if (n >= sizeof(buf) || !parse_python_int(buf, &v))
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

struct profile_spans {
	struct json_span samples, weights, events;
	bool has_samples, has_weights, has_events;
};

static void find_profile_spans(struct json_span profile, struct profile_spans *ps)
{
	struct json_cursor c = { profile.start, profile.start + profile.len };
	struct json_span key;
	bool first = true;

	memset(ps, 0, sizeof(*ps));
	if (!json_object_begin(&c))
		return;
	while (json_object_next(&c, &first, &key)) {
		struct json_span value = json_take_value(&c);

		if (json_key_equals(key, "samples")) {
			ps->samples = value;
			ps->has_samples = true;
		} else if (json_key_equals(key, "weights")) {
			ps->weights = value;
			ps->has_weights = true;
		} else if (json_key_equals(key, "events")) {
			ps->events = value;
			ps->has_events = true;
		}
	}
}

static enum ss_status read_sampled(struct speedscope *ss, const struct profile_spans *ps,
				   struct index_buf *stack)
{
	struct json_cursor sc = { ps->samples.start, ps->samples.start + ps->samples.len };
	struct json_cursor wc = { ps->weights.start, ps->weights.start };
	bool sfirst = true, wfirst = true, weights_left = false;
	enum ss_status st;

	if (ps->has_weights) {
		wc.end = ps->weights.start + ps->weights.len;
		weights_left = json_array_begin(&wc);
	}
	if (!json_array_begin(&sc))
		return SS_OK;
	while (json_array_next(&sc, &sfirst)) {
		double weight = 1;
		uint32_t index;

		stack->len = 0;
		if (json_peek_kind(&sc) == JSON_KIND_ARRAY) {
			bool first = true;

			json_array_begin(&sc);
			while (json_array_next(&sc, &first)) {
				if (!frame_index_of(&sc, ss->nframes, &index))
					ss->skipped_indices++;
				else if (!index_buf_push(stack, index))
					return SS_ERR_NOMEM;
			}
		} else if (!frame_index_of(&sc, ss->nframes, &index)) {
			ss->skipped_indices++;
		} else if (!index_buf_push(stack, index)) {
			return SS_ERR_NOMEM;
		}
		if (weights_left && json_array_next(&wc, &wfirst)) {
			if (json_peek_kind(&wc) == JSON_KIND_NUMBER) {
				weight = json_take_number(&wc);
				if (!isfinite(weight))
					weight = 0;
			} else {
				json_skip_value(&wc);
				weight = 0;
			}
		} else {
			if (ps->has_weights && weights_left)
				ss->weights_mismatched++;
			weights_left = false;
		}
		uint64_t count = 1;
		if (ss->entry_rate_hz > 0 && weight > 0) {
			double n = llround(weight * ss->entry_rate_hz);
			count = n >= 1 && n < 1e15 ? (uint64_t)n : 1;
		}
		st = add_stack(ss, stack, count, weight);
		if (st != SS_OK)
			return st;
	}
	return SS_OK;
}

/* Speedscope's evented model: the open frames between two consecutive events
 * were on the stack for the time between them. */
static enum ss_status read_evented(struct speedscope *ss, const struct profile_spans *ps,
				   struct index_buf *stack)
{
	struct json_cursor c = { ps->events.start, ps->events.start + ps->events.len };
	bool first = true, have_prev = false;
	double prev_at = 0;
	enum ss_status st = SS_OK;

	stack->len = 0;
	if (!json_array_begin(&c))
		return SS_OK;
	while (st == SS_OK && json_array_next(&c, &first)) {
		struct json_span span = json_take_value(&c);
		cJSON *ev = cJSON_ParseWithLength(span.start, span.len);
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
		const cJSON *frame = cJSON_GetObjectItemCaseSensitive(ev, "frame");
		const cJSON *at = cJSON_GetObjectItemCaseSensitive(ev, "at");

		if (cJSON_IsString(type) && cJSON_IsNumber(at) && isfinite(at->valuedouble)) {
			if (have_prev && stack->len && at->valuedouble > prev_at)
				st = add_stack(ss, stack, 1, at->valuedouble - prev_at);
			prev_at = at->valuedouble;
			have_prev = true;
			bool valid = cJSON_IsNumber(frame) && frame->valuedouble >= 0 &&
				     frame->valuedouble < (double)ss->nframes;

			if (st == SS_OK && valid && strcmp(type->valuestring, "O") == 0) {
				if (!index_buf_push(stack, (uint32_t)frame->valuedouble))
					st = SS_ERR_NOMEM;
			} else if (valid && strcmp(type->valuestring, "C") == 0 && stack->len) {
				stack->len--;
			}
		}
		cJSON_Delete(ev);
	}
	return st;
}

static enum ss_status read_profiles(struct speedscope *ss, struct json_span profiles,
				    const struct ss_read_options *opts)
{
	struct json_cursor c = { profiles.start, profiles.start + profiles.len };
	struct index_buf stack = { 0 };
	enum ss_status st = SS_OK;
	bool first = true;

	if (!json_array_begin(&c))
		return SS_OK;
	while (st == SS_OK && json_array_next(&c, &first)) {
		struct json_span span = json_take_value(&c);
		struct profile_spans ps;

		ss->nprofiles++;
		find_profile_spans(span, &ps);
		if (ps.has_samples)
			st = read_sampled(ss, &ps, &stack);
		else if (ps.has_events && opts && opts->events_as_samples)
			st = read_evented(ss, &ps, &stack);
	}
	free(stack.items);
	return st;
}

/* ---- document ----------------------------------------------------------- */

/* Finds the last member named key in the object at span (Python keeps the
 * last duplicate). */
static bool object_member(struct json_span obj, const char *key, struct json_span *value)
{
	struct json_cursor c = { obj.start, obj.start + obj.len };
	struct json_span k;
	bool first = true, found = false;

	if (!json_object_begin(&c))
		return false;
	while (json_object_next(&c, &first, &k)) {
		struct json_span v = json_take_value(&c);

		if (json_key_equals(k, key)) {
			*value = v;
			found = true;
		}
	}
	return found;
}

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
static double bpfspy_sample_rate(struct json_span meta)
{
	struct json_span unit, rate;
	static const char samples[] = "\"samples\"";

	if (!object_member(meta, "unit", &unit) || !object_member(meta, "rate_hz", &rate))
		return 0;
	if (unit.len != sizeof(samples) - 1 || memcmp(unit.start, samples, unit.len) != 0)
		return 0;
	struct json_cursor c = { rate.start, rate.start + rate.len };
	if (json_peek_kind(&c) != JSON_KIND_NUMBER)
		return 0;
	double hz = json_take_number(&c);
	return isfinite(hz) && hz > 0 && hz < 1e7 ? hz : 0;
}

enum ss_status speedscope_read_buffer(const char *buf, size_t len, const struct ss_read_options *opts,
				      struct speedscope *ss, char *err, size_t errlen)
{
	struct json_span shared, frames, profiles, first_profile, bpfspy_meta;
	bool have_frames = false, have_profiles, have_shared, have_meta = false;
	char *converted = NULL;
	enum ss_status st;
	size_t off;

	memset(ss, 0, sizeof(*ss));
	seq_table_init(&ss->stacks);
	if (!utf8_is_valid((const unsigned char *)buf, len)) {
		converted = latin1_to_utf8((const unsigned char *)buf, len, &len);
		if (!converted) {
			set_error(err, errlen, "out of memory");
			return SS_ERR_NOMEM;
		}
		buf = converted;
	}
	if (!json_validate_document(buf, len, &off)) {
		size_t line, col;

		offset_to_line_col(buf, off, &line, &col);
		set_error(err, errlen, "invalid JSON at line %zu column %zu (byte %zu)", line, col, off);
		free(converted);
		return SS_ERR_JSON;
	}
	{
		struct json_cursor c = { buf, buf + len };

		if (json_peek_kind(&c) != JSON_KIND_OBJECT) {
			set_error(err, errlen, "top-level JSON value is not an object");
			free(converted);
			return SS_ERR_JSON;
		}
	}
	/* One scan of the (large) root object for both members. */
	{
		struct json_cursor c = { buf, buf + len };
		struct json_span key;
		bool first = true;

		have_profiles = have_shared = false;
		json_object_begin(&c);
		while (json_object_next(&c, &first, &key)) {
			struct json_span value = json_take_value(&c);

			if (json_key_equals(key, "profiles")) {
				profiles = value;
				have_profiles = true;
			} else if (json_key_equals(key, "shared")) {
				shared = value;
				have_shared = true;
			} else if (json_key_equals(key, "bpfspy")) {
				bpfspy_meta = value;
				have_meta = true;
			}
		}
	}
	if (have_meta)
		ss->entry_rate_hz = bpfspy_sample_rate(bpfspy_meta);
	if (have_shared && object_member(shared, "frames", &frames) && json_value_is_truthy(frames))
		have_frames = true;
	if (!have_frames && have_profiles) {
		struct json_cursor c = { profiles.start, profiles.start + profiles.len };
		bool first = true;

		if (json_array_begin(&c) && json_array_next(&c, &first)) {
			first_profile = json_take_value(&c);
			have_frames = object_member(first_profile, "frames", &frames) &&
				      json_value_is_truthy(frames);
		}
	}
	if (!have_frames) {
		set_error(err, errlen, "no frames in shared or profile (shared.frames is missing or empty)");
		free(converted);
		return SS_ERR_NO_FRAMES;
	}
	{
		struct json_cursor c = { frames.start, frames.start + frames.len };

		if (json_peek_kind(&c) != JSON_KIND_ARRAY) {
			set_error(err, errlen, "frames is not a JSON array");
			free(converted);
			return SS_ERR_NO_FRAMES;
		}
	}
	st = parse_frames(ss, frames);
	if (st == SS_OK && have_profiles)
		st = read_profiles(ss, profiles, opts);
	if (st == SS_ERR_NOMEM)
		set_error(err, errlen, "out of memory");
	free(converted);
	return st;
}

enum ss_status speedscope_read_file(const char *path, const struct ss_read_options *opts,
				    struct speedscope *ss, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool mapped = false;
	enum ss_status st;

	memset(ss, 0, sizeof(*ss));
	if (fd < 0) {
		set_error(err, errlen, "%s", strerror(errno));
		return SS_ERR_IO;
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
		/* Mapped pages are file-backed, so a huge profile costs page cache,
		 * not anonymous memory. */
		buf = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (buf != MAP_FAILED) {
			mapped = true;
			len = (size_t)sb.st_size;
			madvise(buf, len, MADV_SEQUENTIAL);
		} else {
			buf = NULL;
		}
	}
	if (!mapped) {
		for (;;) {
			if (len == cap) {
				size_t ncap = cap ? cap * 2 : 65536;
				char *nb = realloc(buf, ncap);

				if (!nb) {
					free(buf);
					close(fd);
					set_error(err, errlen, "out of memory");
					return SS_ERR_NOMEM;
				}
				buf = nb;
				cap = ncap;
			}
			ssize_t n = read(fd, buf + len, cap - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				set_error(err, errlen, "%s", strerror(errno));
				free(buf);
				close(fd);
				return SS_ERR_IO;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
	}
	close(fd);
	st = speedscope_read_buffer(buf ? buf : "", len, opts, ss, err, errlen);
	if (mapped)
		munmap(buf, len);
	else
		free(buf);
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
