/* SPDX-License-Identifier: MIT */
/*
 * A speedscope JSON document, read in place: the one reader under both
 * `bpfspy convert` (output/speedscope_read.h builds a profile from it) and
 * tools/speedscope_top_packages (which builds its package tables).
 *
 * The document is validated once and then walked with the scanner
 * (output/json_scan.h): nothing is turned into a tree, and the big samples,
 * weights and events arrays are read entry by entry, so reading costs the
 * file's pages plus what the model builder keeps.
 *
 * This layer knows where speedscope puts things: the top-level members,
 * shared.frames, each profile's members, an evented profile's events, and
 * bpfspy's own "bpfspy" block (see speedscope.c). It reads objects the way
 * Python's json module and JavaScript's JSON.parse (speedscope's own reader)
 * do: of duplicate keys the last one wins. What values mean - units, frame
 * kinds, which sample entries are valid - is each model builder's business,
 * so members come back as spans of still-encoded JSON, read with the
 * speedscope_value_* helpers below. A span's .start is NULL when the member
 * is absent.
 */
#ifndef BPFSPY_OUTPUT_SPEEDSCOPE_DOC_H
#define BPFSPY_OUTPUT_SPEEDSCOPE_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "output/json_scan.h"

/* ---- the file ---- */

/* A file's bytes: its pages mapped when it is a regular file, else read into memory. */
struct speedscope_bytes {
	const char *data;
	size_t len;
	bool mapped;
};

enum speedscope_load_status {
	SPEEDSCOPE_LOADED,
	SPEEDSCOPE_LOAD_FAILED,  /* why: the failing call's strerror */
	SPEEDSCOPE_LOAD_REFUSED, /* regular_only: why is "not a regular file" or "empty file" */
};

/*
 * Loads path. regular_only refuses pipes, devices and empty files instead of
 * reading them to their end. why (one phrase, no file name) is set on failure.
 */
enum speedscope_load_status speedscope_bytes_load(const char *path, bool regular_only, struct speedscope_bytes *b,
						  char *why, size_t whylen);
void speedscope_bytes_release(struct speedscope_bytes *b);

/* ---- the document ---- */

struct speedscope_doc_options {
	/* A file that is not valid UTF-8 is read as latin-1 (every byte one
	 * character, kept as UTF-8), as the Python script the tool ports decodes
	 * it. Without this the bytes are kept as they are. */
	bool latin1_fallback;
};

enum speedscope_doc_status {
	SPEEDSCOPE_DOC_OK,
	SPEEDSCOPE_DOC_NOT_JSON,   /* error_offset says where */
	SPEEDSCOPE_DOC_NOT_OBJECT, /* valid JSON, but not an object at the top */
	SPEEDSCOPE_DOC_NOMEM,
};

struct speedscope_doc {
	const char *text; /* the document read: the caller's bytes, or their decoding */
	size_t len;
	size_t error_offset; /* SPEEDSCOPE_DOC_NOT_JSON: byte offset into text */
	/* the top-level members */
	struct json_span name, exporter, shared, profiles, bpfspy;
	char *decoded; /* owned copy when the bytes were decoded */
};

/* Validates buf (len bytes, need not be NUL-terminated; it must outlive doc) and finds its members. */
enum speedscope_doc_status speedscope_doc_open(struct speedscope_doc *doc, const char *buf, size_t len,
					       const struct speedscope_doc_options *opts);
void speedscope_doc_close(struct speedscope_doc *doc);

/* ---- objects ---- */

/* shared.frames[i] */
struct speedscope_frame_fields {
	struct json_span name, file, line, col;
};

/* profiles[i]; "frames" is not speedscope's, but some old exporters put them there */
struct speedscope_profile_fields {
	struct json_span type, name, unit, start_value, end_value, samples, weights, events, frames;
};

/* profiles[i].events[j] of an evented profile */
struct speedscope_event_fields {
	struct json_span type, frame, at;
};

/* the "bpfspy" block */
struct speedscope_bpfspy_fields {
	struct json_span unit, rate_hz, start_realtime_ns, duration_ns, frame_kinds, threads, modules,
		process_events;
};

/* bpfspy.threads[i], for profiles[i] */
struct speedscope_thread_fields {
	struct json_span pid, tid, process, thread, runs;
};

/* bpfspy.modules[i] */
struct speedscope_module_fields {
	struct json_span path, build_id;
};

/* The shared object's "frames" member. */
struct json_span speedscope_shared_frames(const struct speedscope_doc *doc);

/* Each reads the object at v into its fields (all absent, and false, when v is not an object). */
bool speedscope_frame_read(struct json_span v, struct speedscope_frame_fields *f);
bool speedscope_event_read(struct json_span v, struct speedscope_event_fields *f);
bool speedscope_bpfspy_read(struct json_span v, struct speedscope_bpfspy_fields *f);
bool speedscope_thread_read(struct json_span v, struct speedscope_thread_fields *f);
bool speedscope_module_read(struct json_span v, struct speedscope_module_fields *f);

/* ---- arrays ---- */

struct speedscope_array {
	struct json_cursor at; /* on the current element after speedscope_array_next */
	bool first;
};

/* Starts on the array at v; false when v is absent or not an array. */
bool speedscope_array_begin(struct speedscope_array *a, struct json_span v);
/* Steps to the next element, leaving a->at on it: the caller reads it through a->at, to its end. */
bool speedscope_array_next(struct speedscope_array *a);
/* Steps to the next element and takes it whole. */
bool speedscope_array_take(struct speedscope_array *a, struct json_span *element);

/*
 * Steps to the next profile of the profiles array and reads its members in
 * the same pass (a profile holds the big arrays: it is walked once for its
 * members, then its samples once). False at the end; *is_object false (and
 * every field absent) when the element is not an object.
 */
bool speedscope_profiles_next(struct speedscope_array *profiles, struct speedscope_profile_fields *f,
			      bool *is_object);

/*
 * A sampled profile's samples, each with its weight, in step: after
 * speedscope_samples_next, at is on the sample (the caller reads it to its
 * end) and *weight is the matching weight, absent when the profile has no
 * weights array or it ran out.
 */
struct speedscope_samples {
	struct json_cursor at;
	struct speedscope_array weights;
	bool first, have_weights;
	bool weights_short; /* the weights array ended before the samples */
};

/* false when the profile's samples are absent or not an array */
bool speedscope_samples_begin(struct speedscope_samples *s, const struct speedscope_profile_fields *f);
bool speedscope_samples_next(struct speedscope_samples *s, struct json_span *weight);
/* After the last sample: whether the weights array has entries left over. */
bool speedscope_samples_weights_left(struct speedscope_samples *s);

/* ---- values ---- */

/* JSON_KIND_INVALID when absent. */
enum json_kind speedscope_value_kind(struct json_span v);
/* A number (NaN and the infinities included) into *out; false when v is not one. */
bool speedscope_value_number(struct json_span v, double *out);
/* A string decoded into buf (NUL-terminated, cut to size - 1 bytes); false when v is not one. */
bool speedscope_value_text(struct json_span v, char *buf, size_t size);
/* A string decoded into a new allocation; NULL when v is not one, or out of memory. */
char *speedscope_value_strdup(struct json_span v);
/* Whether v is the string literal (ASCII). */
bool speedscope_value_is(struct json_span v, const char *literal);

#endif
