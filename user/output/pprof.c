// SPDX-License-Identifier: MIT
/*
 * pprof writer: a gzip-compressed perftools.profiles.Profile (profile.proto
 * of github.com/google/pprof), as `go tool pprof` and Pyroscope read it.
 *
 * The top-level message has no length prefix, so each of its fields is
 * encoded on its own and streamed through deflate: memory stays at one
 * sample's encoding plus the string table, whatever the profile's size.
 *
 * Model: one Location per profile frame (with one Line), one Function per
 * distinct (name, file), one Mapping per native module file. The profile
 * keeps no addresses, so mappings carry the file name, its build-id (from the
 * profile's module table, captured while the process was alive: the file may
 * be gone or another by now) and say their functions are already symbolized
 * (has_functions), which stops pprof from trying to symbolize them again.
 *
 * One Sample per (thread, stack), labelled with pid, tid, process_name and
 * thread_name. Values: samples/count and cpu/nanoseconds (count x period);
 * a nanosecond-weighted profile (--idle) gives samples/count and
 * wall/nanoseconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "output/protobuf.h"
#include "profile/profile.h"
#include "sym/native_symbols.h"
#include "util/array.h"
#include "util/id_table.h"

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,

	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,

	MAPPING_ID = 1,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
};

#define KERNEL_FILE "[kernel.kallsyms]"
#define DEFLATE_CHUNK 65536

struct string_table {
	struct id_table index;
	const char **strings; /* borrowed from the profile or literals */
	size_t count, cap;
};

struct pprof_writer {
	const struct profile *p;
	FILE *f;
	z_stream z;
	bool z_open;
	unsigned char out[DEFLATE_CHUNK];

	struct pb_buf msg; /* the top-level field being encoded */
	struct string_table strings;

	size_t nframes;
	uint32_t *function_of_frame; /* function id (1-based) per frame id */
	uint32_t *first_frame_of_function; /* [function id - 1] */
	size_t nfunctions;
	struct id_table function_index;
	uint32_t *mapping_of_frame;  /* mapping id (1-based) or 0 per frame id */
	uint32_t *mapping_file;      /* string index of each mapping's file, [id - 1] */
	const char **mapping_path;   /* each mapping's file name, [id - 1] */
	size_t nmappings;
	struct id_map mapping_index; /* file string index -> mapping id - 1 */

	/* per-thread aggregation, by stack id */
	uint64_t *stack_weight, *stack_count;
	uint32_t *touched;
	size_t ntouched;
	uint32_t *scratch;
	size_t scratch_cap;

	uint64_t period_ns; /* per sample; 0 for nanosecond profiles or unknown rate */
	bool nanoseconds;
};

/* ---- gzip stream ---- */

static int deflate_pump(struct pprof_writer *w, int flush)
{
	int zrc;

	do {
		w->z.next_out = w->out;
		w->z.avail_out = sizeof(w->out);
		zrc = deflate(&w->z, flush);
		if (zrc == Z_STREAM_ERROR)
			return -1;
		size_t have = sizeof(w->out) - w->z.avail_out;

		if (have && fwrite(w->out, 1, have, w->f) != have)
			return -1;
	} while (w->z.avail_out == 0);
	return flush == Z_FINISH && zrc != Z_STREAM_END ? -1 : 0;
}

/* Compresses the encoded field and empties the buffer for the next one. */
static int emit(struct pprof_writer *w)
{
	if (pb_failed(&w->msg)) {
		errno = ENOMEM;
		return -1;
	}
	w->z.next_in = w->msg.data;
	w->z.avail_in = (uInt)w->msg.len;
	int rc = w->msg.len ? deflate_pump(w, Z_NO_FLUSH) : 0;

	pb_buf_reset(&w->msg);
	return rc;
}

/* ---- strings ---- */

static bool same_string(const void *ctx, uint32_t id, const void *key)
{
	const struct string_table *t = ctx;

	return strcmp(t->strings[id], key) == 0;
}

/* Index of s in the string table, adding it; -1 on allocation failure. */
static int64_t string_index(struct string_table *t, const char *s)
{
	uint64_t hash = hash_bytes(HASH_SEED, s, strlen(s));
	uint32_t id = id_table_find(&t->index, hash, same_string, t, s);

	if (id != ID_NONE)
		return id;
	if (array_reserve((void **)&t->strings, &t->cap, t->count + 1, sizeof(*t->strings)) != 0)
		return -1;
	t->strings[t->count] = s;
	if (id_table_insert(&t->index, hash, (uint32_t)t->count) < 0)
		return -1;
	return (int64_t)t->count++;
}

/* Encodes a string-table reference, marking the buffer failed if interning failed. */
static void string_field(struct pprof_writer *w, uint32_t field, const char *s)
{
	int64_t idx = string_index(&w->strings, s ? s : "");

	if (idx < 0)
		w->msg.failed = true;
	else if (idx > 0)
		pb_int64_field(&w->msg, field, idx);
}

/* ---- functions and mappings ---- */

static const char *frame_file(const struct frame_desc *d)
{
	if (d->file)
		return d->file;
	return d->kind == FRAME_KERNEL ? KERNEL_FILE : "";
}

struct function_key {
	const char *name, *file;
};

static bool same_function(const void *ctx, uint32_t id, const void *key)
{
	const struct pprof_writer *w = ctx;
	const struct frame_desc *d = profile_frame(w->p, w->first_frame_of_function[id]);
	const struct function_key *k = key;

	return strcmp(d->name, k->name) == 0 && strcmp(frame_file(d), k->file) == 0;
}

static int assign_function(struct pprof_writer *w, uint32_t frame_id)
{
	const struct frame_desc *d = profile_frame(w->p, frame_id);
	struct function_key key = { d->name, frame_file(d) };
	uint64_t hash = hash_bytes(hash_bytes(HASH_SEED, key.name, strlen(key.name) + 1),
				      key.file, strlen(key.file));
	uint32_t id = id_table_find(&w->function_index, hash, same_function, w, &key);

	if (id == ID_NONE) {
		id = (uint32_t)w->nfunctions++;
		w->first_frame_of_function[id] = frame_id;
		if (id_table_insert(&w->function_index, hash, id) < 0)
			return -1;
	}
	w->function_of_frame[frame_id] = id + 1;
	return 0;
}

static int assign_mapping(struct pprof_writer *w, uint32_t frame_id)
{
	const struct frame_desc *d = profile_frame(w->p, frame_id);

	w->mapping_of_frame[frame_id] = 0;
	if (d->kind != FRAME_NATIVE || !d->file || !*d->file)
		return 0;
	int64_t file = string_index(&w->strings, d->file);

	if (file < 0)
		return -1;
	uint32_t m = id_map_get(&w->mapping_index, (uint64_t)file);

	if (m == ID_NONE) {
		m = (uint32_t)w->nmappings++;
		w->mapping_file[m] = (uint32_t)file;
		w->mapping_path[m] = d->file;
		if (id_map_put(&w->mapping_index, (uint64_t)file, m) < 0)
			return -1;
	}
	w->mapping_of_frame[frame_id] = m + 1;
	return 0;
}

/* ---- samples ---- */

static int add_run(void *arg, const struct profile_run *run)
{
	struct pprof_writer *w = arg;
	uint32_t stack_id = run->stack_id;

	if (!w->stack_count[stack_id] && !w->stack_weight[stack_id])
		w->touched[w->ntouched++] = stack_id;
	w->stack_weight[stack_id] += run->weight;
	w->stack_count[stack_id] += run->nsamples;
	return 0;
}

static void string_label(struct pprof_writer *w, const char *key, const char *value)
{
	pb_mark m = pb_open(&w->msg, SAMPLE_LABEL);

	string_field(w, LABEL_KEY, key);
	string_field(w, LABEL_STR, value);
	pb_close(&w->msg, m);
}

static void number_label(struct pprof_writer *w, const char *key, int64_t value)
{
	pb_mark m = pb_open(&w->msg, SAMPLE_LABEL);

	string_field(w, LABEL_KEY, key);
	pb_int64_field(&w->msg, LABEL_NUM, value);
	pb_close(&w->msg, m);
}

static int encode_sample(struct pprof_writer *w, uint32_t stack_id, const struct profile_thread_info *t)
{
	long loaded = profile_stack_load(w->p, stack_id, &w->scratch, &w->scratch_cap);

	if (loaded < 0)
		return -1;
	size_t depth = (size_t)loaded;

	pb_mark sample = pb_open(&w->msg, PROFILE_SAMPLE);
	pb_mark ids = pb_open(&w->msg, SAMPLE_LOCATION_ID);

	/* pprof wants the leaf first */
	for (size_t i = depth; i-- > 0;)
		pb_varint(&w->msg, (uint64_t)w->scratch[i] + 1);
	pb_close(&w->msg, ids);

	uint64_t weight = w->stack_weight[stack_id], count = w->stack_count[stack_id];
	pb_mark values = pb_open(&w->msg, SAMPLE_VALUE);

	pb_varint(&w->msg, w->nanoseconds ? count : weight);
	pb_varint(&w->msg, w->nanoseconds ? weight : weight * w->period_ns);
	pb_close(&w->msg, values);

	number_label(w, "pid", t->pid);
	number_label(w, "tid", t->tid);
	string_label(w, "process_name", t->process_name);
	if (t->thread_name)
		string_label(w, "thread_name", t->thread_name);
	pb_close(&w->msg, sample);
	return emit(w);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int write_thread_samples(struct pprof_writer *w, size_t idx, const struct profile_thread_info *t)
{
	int rc = profile_thread_runs(w->p, idx, add_run, w);

	if (w->ntouched)
		qsort(w->touched, w->ntouched, sizeof(*w->touched), cmp_u32);
	for (size_t i = 0; i < w->ntouched; i++) {
		uint32_t s = w->touched[i];

		if (rc == 0 && (w->stack_weight[s] || w->stack_count[s]))
			rc = encode_sample(w, s, t);
		w->stack_weight[s] = w->stack_count[s] = 0;
	}
	w->ntouched = 0;
	return rc;
}

static int write_samples(struct pprof_writer *w)
{
	struct profile_thread_info t;

	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++)
		if (t.samples && write_thread_samples(w, i, &t) < 0)
			return -1;
	return 0;
}

/* ---- the other top-level fields ---- */

static void value_type(struct pprof_writer *w, uint32_t field, const char *type, const char *unit)
{
	pb_mark m = pb_open(&w->msg, field);

	string_field(w, VALUE_TYPE_TYPE, type);
	string_field(w, VALUE_TYPE_UNIT, unit);
	pb_close(&w->msg, m);
}

static int write_header(struct pprof_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	const char *time_type = w->nanoseconds ? "wall" : "cpu";

	value_type(w, PROFILE_SAMPLE_TYPE, "samples", "count");
	value_type(w, PROFILE_SAMPLE_TYPE, time_type, "nanoseconds");
	value_type(w, PROFILE_PERIOD_TYPE, time_type, "nanoseconds");
	if (w->period_ns)
		pb_int64_field(&w->msg, PROFILE_PERIOD, (int64_t)w->period_ns);
	if (m->start_realtime_ns)
		pb_int64_field(&w->msg, PROFILE_TIME_NANOS, (int64_t)m->start_realtime_ns);
	if (m->end_ns > m->start_ns)
		pb_int64_field(&w->msg, PROFILE_DURATION_NANOS, (int64_t)(m->end_ns - m->start_ns));
	/* the time type is what `go tool pprof` shows by default */
	string_field(w, PROFILE_DEFAULT_SAMPLE_TYPE, time_type);
	if (m->command && *m->command)
		string_field(w, PROFILE_COMMENT, m->command);
	return emit(w);
}

static int write_mappings(struct pprof_writer *w)
{
	for (size_t i = 0; i < w->nmappings; i++) {
		pb_mark m = pb_open(&w->msg, PROFILE_MAPPING);

		pb_uint64_field(&w->msg, MAPPING_ID, i + 1);
		pb_int64_field(&w->msg, MAPPING_FILENAME, w->mapping_file[i]);
		const struct profile_module *module = profile_find_module(w->p, w->mapping_path[i]);

		if (module && module->build_id[0]) {
			int64_t bid = string_index(&w->strings, module->build_id);

			if (bid < 0)
				return -1;
			pb_int64_field(&w->msg, MAPPING_BUILD_ID, bid);
		}
		pb_bool_field(&w->msg, MAPPING_HAS_FUNCTIONS, true);
		pb_bool_field(&w->msg, MAPPING_HAS_FILENAMES, true);
		pb_close(&w->msg, m);
		if (emit(w) < 0)
			return -1;
	}
	return 0;
}

static int write_locations(struct pprof_writer *w)
{
	for (uint32_t id = 0; id < w->nframes; id++) {
		const struct frame_desc *d = profile_frame(w->p, id);
		pb_mark loc = pb_open(&w->msg, PROFILE_LOCATION);

		pb_uint64_field(&w->msg, LOCATION_ID, (uint64_t)id + 1);
		if (w->mapping_of_frame[id])
			pb_uint64_field(&w->msg, LOCATION_MAPPING_ID, w->mapping_of_frame[id]);
		pb_mark line = pb_open(&w->msg, LOCATION_LINE);

		pb_uint64_field(&w->msg, LINE_FUNCTION_ID, w->function_of_frame[id]);
		if (d->line > 0)
			pb_int64_field(&w->msg, LINE_LINE, d->line);
		pb_close(&w->msg, line);
		pb_close(&w->msg, loc);
		if (emit(w) < 0)
			return -1;
	}
	return 0;
}

static int write_functions(struct pprof_writer *w)
{
	for (size_t i = 0; i < w->nfunctions; i++) {
		const struct frame_desc *d = profile_frame(w->p, w->first_frame_of_function[i]);
		pb_mark fn = pb_open(&w->msg, PROFILE_FUNCTION);

		pb_uint64_field(&w->msg, FUNCTION_ID, i + 1);
		string_field(w, FUNCTION_NAME, d->name);
		string_field(w, FUNCTION_SYSTEM_NAME, d->name);
		string_field(w, FUNCTION_FILENAME, frame_file(d));
		pb_close(&w->msg, fn);
		if (emit(w) < 0)
			return -1;
	}
	return 0;
}

/* Last, once every string has been referenced. Entry 0 is "" by the format's rule. */
static int write_string_table(struct pprof_writer *w)
{
	for (size_t i = 0; i < w->strings.count; i++) {
		pb_string_field(&w->msg, PROFILE_STRING_TABLE, w->strings.strings[i]);
		if (w->msg.len >= DEFLATE_CHUNK && emit(w) < 0)
			return -1;
	}
	return emit(w);
}

/* ---- setup ---- */

static int writer_init(struct pprof_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	size_t nstacks = profile_stack_count(w->p), ns = nstacks ? nstacks : 1;

	w->nanoseconds = m->unit == PROFILE_UNIT_NANOSECONDS;
	w->period_ns = !w->nanoseconds && m->rate_hz ? 1000000000ull / m->rate_hz : 0;
	w->nframes = profile_frame_count(w->p);
	size_t nf = w->nframes ? w->nframes : 1;

	w->function_of_frame = calloc(nf, sizeof(*w->function_of_frame));
	w->first_frame_of_function = calloc(nf, sizeof(*w->first_frame_of_function));
	w->mapping_of_frame = calloc(nf, sizeof(*w->mapping_of_frame));
	w->mapping_file = calloc(nf, sizeof(*w->mapping_file));
	w->mapping_path = calloc(nf, sizeof(*w->mapping_path));
	w->stack_weight = calloc(ns, sizeof(*w->stack_weight));
	w->stack_count = calloc(ns, sizeof(*w->stack_count));
	w->touched = malloc(ns * sizeof(*w->touched));
	if (!w->function_of_frame || !w->first_frame_of_function || !w->mapping_of_frame ||
	    !w->mapping_file || !w->mapping_path || !w->stack_weight || !w->stack_count || !w->touched)
		return -1;
	if (string_index(&w->strings, "") != 0)
		return -1;
	for (uint32_t id = 0; id < w->nframes; id++)
		if (assign_function(w, id) < 0 || assign_mapping(w, id) < 0)
			return -1;
	if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip header */, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	w->z_open = true;
	return 0;
}

static void writer_free(struct pprof_writer *w)
{
	if (w->z_open)
		deflateEnd(&w->z);
	pb_buf_free(&w->msg);
	id_table_free(&w->strings.index);
	free(w->strings.strings);
	id_table_free(&w->function_index);
	id_map_free(&w->mapping_index);
	free(w->function_of_frame);
	free(w->first_frame_of_function);
	free(w->mapping_of_frame);
	free(w->mapping_file);
	free(w->mapping_path);
	free(w->stack_weight);
	free(w->stack_count);
	free(w->touched);
	free(w->scratch);
}

int write_pprof(const struct profile *p, FILE *f, const struct write_options *o)
{
	struct pprof_writer *w = calloc(1, sizeof(*w));
	int rc = -1;

	errno = 0;
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	w->p = p;
	w->f = f;
	if (writer_init(w) == 0 && write_header(w) == 0 && write_samples(w) == 0 &&
	    write_mappings(w) == 0 && write_locations(w) == 0 && write_functions(w) == 0 &&
	    write_string_table(w) == 0 && deflate_pump(w, Z_FINISH) == 0 && fflush(f) == 0 &&
	    !ferror(f))
		rc = 0;
	if (rc < 0 && errno == 0)
		errno = EIO;
	writer_free(w);
	free(w);
	return rc;
}
