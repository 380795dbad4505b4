// SPDX-License-Identifier: MIT
/* A speedscope JSON document, read in place (see speedscope_doc.h). */
#include "output/speedscope_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/utf8.h"

/* ---- the file ---- */

static enum speedscope_load_status load_failed(int fd, int err, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s", strerror(err));
	if (fd >= 0)
		close(fd);
	return SPEEDSCOPE_LOAD_FAILED;
}

/* Reads fd to its end into b (a pipe, or a file mmap refused). */
static enum speedscope_load_status read_all(int fd, struct speedscope_bytes *b, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, ncap);

			if (!nb) {
				free(buf);
				return load_failed(fd, ENOMEM, why, whylen);
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			return load_failed(fd, err, why, whylen);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*b = (struct speedscope_bytes){ .data = buf, .len = len };
	return SPEEDSCOPE_LOADED;
}

enum speedscope_load_status speedscope_bytes_load(const char *path, bool regular_only, struct speedscope_bytes *b,
						  char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	memset(b, 0, sizeof(*b));
	if (fd < 0 || fstat(fd, &st) != 0)
		return load_failed(fd, errno, why, whylen);
	bool regular = S_ISREG(st.st_mode);

	if (regular_only && (!regular || st.st_size == 0)) {
		snprintf(why, whylen, "%s", regular ? "empty file" : "not a regular file");
		close(fd);
		return SPEEDSCOPE_LOAD_REFUSED;
	}
	if (!regular || st.st_size == 0)
		return read_all(fd, b, why, whylen);
	/* Mapped, not copied: the file's pages are the only copy of the document
	 * in memory, and they are page cache, not anonymous memory. */
	void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

	if (data == MAP_FAILED)
		return read_all(fd, b, why, whylen);
	close(fd);
	madvise(data, (size_t)st.st_size, MADV_SEQUENTIAL);
	*b = (struct speedscope_bytes){ .data = data, .len = (size_t)st.st_size, .mapped = true };
	return SPEEDSCOPE_LOADED;
}

void speedscope_bytes_release(struct speedscope_bytes *b)
{
	if (b->mapped)
		munmap((void *)b->data, b->len);
	else
		free((void *)b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- the document ---- */

/* Every byte one character: what Python's latin-1 codec gives, written as UTF-8. */
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

/* A member an object is read for: its key, and where its span goes in the fields struct. */
struct member {
	const char *key;
	size_t offset;
};

/* Members of the object read into *f: MEMBER(x) puts key "x" in f->x; MEMBER_AS names a key spelt otherwise. */
#define MEMBER(field) { #field, offsetof(__typeof__(*f), field) }
#define MEMBER_AS(field, key) { key, offsetof(__typeof__(*f), field) }

/*
 * Sets the span of each member the object at c has (the last one of
 * duplicates) in fields, and steps c past the value; absent members are
 * {NULL, 0}. False when the value is not an object.
 */
static bool read_members_at(struct json_cursor *c, const struct member *members, size_t n, void *fields,
			    size_t fields_size)
{
	struct json_span key;
	bool first = true;

	memset(fields, 0, fields_size);
	if (json_peek_kind(c) != JSON_KIND_OBJECT || !json_object_begin(c)) {
		json_skip_value(c);
		return false;
	}
	while (json_object_next(c, &first, &key)) {
		struct json_span value = json_take_value(c);

		for (size_t i = 0; i < n; i++)
			if (json_key_equals(key, members[i].key)) {
				memcpy((char *)fields + members[i].offset, &value, sizeof(value));
				break;
			}
	}
	return true;
}

/* The same for the object at obj; false also when obj is absent. */
static bool read_members(struct json_span obj, const struct member *members, size_t n, void *fields,
			 size_t fields_size)
{
	struct json_cursor c = { obj.start, obj.start ? obj.start + obj.len : NULL };

	if (!obj.start) {
		memset(fields, 0, fields_size);
		return false;
	}
	return read_members_at(&c, members, n, fields, fields_size);
}

#define READ_MEMBERS(obj, members, fields) \
	read_members(obj, members, sizeof(members) / sizeof(members[0]), fields, sizeof(*(fields)))

enum speedscope_doc_status speedscope_doc_open(struct speedscope_doc *doc, const char *buf, size_t len,
					       const struct speedscope_doc_options *opts)
{
	struct speedscope_doc found, *f = &found;
	static const struct member members[] = { MEMBER(name), MEMBER(exporter), MEMBER(shared), MEMBER(profiles),
						 MEMBER(bpfspy) };

	memset(doc, 0, sizeof(*doc));
	if (opts && opts->latin1_fallback && !utf8_is_valid((const unsigned char *)buf, len)) {
		doc->decoded = latin1_to_utf8((const unsigned char *)buf, len, &len);
		if (!doc->decoded)
			return SPEEDSCOPE_DOC_NOMEM;
		buf = doc->decoded;
	}
	doc->text = buf;
	doc->len = len;
	if (!json_validate_document(buf, len, &doc->error_offset))
		return SPEEDSCOPE_DOC_NOT_JSON;
	/* one scan of the (large) root object for all its members */
	if (!READ_MEMBERS(((struct json_span){ buf, len }), members, f))
		return SPEEDSCOPE_DOC_NOT_OBJECT;
	doc->name = found.name;
	doc->exporter = found.exporter;
	doc->shared = found.shared;
	doc->profiles = found.profiles;
	doc->bpfspy = found.bpfspy;
	return SPEEDSCOPE_DOC_OK;
}

void speedscope_doc_close(struct speedscope_doc *doc)
{
	free(doc->decoded);
	memset(doc, 0, sizeof(*doc));
}

/* ---- objects ---- */

/* The members of "shared" that anyone reads. */
struct shared_fields {
	struct json_span frames;
};

struct json_span speedscope_shared_frames(const struct speedscope_doc *doc)
{
	struct shared_fields shared, *f = &shared;
	static const struct member members[] = { MEMBER(frames) };

	READ_MEMBERS(doc->shared, members, f);
	return shared.frames;
}

bool speedscope_frame_read(struct json_span v, struct speedscope_frame_fields *f)
{
	static const struct member members[] = { MEMBER(name), MEMBER(file), MEMBER(line), MEMBER(col) };

	return READ_MEMBERS(v, members, f);
}

bool speedscope_profiles_next(struct speedscope_array *profiles, struct speedscope_profile_fields *f,
			      bool *is_object)
{
	static const struct member members[] = {
		MEMBER(type), MEMBER(name), MEMBER(unit), MEMBER_AS(start_value, "startValue"),
		MEMBER_AS(end_value, "endValue"), MEMBER(samples), MEMBER(weights), MEMBER(events), MEMBER(frames),
	};

	if (!speedscope_array_next(profiles))
		return false;
	*is_object = read_members_at(&profiles->at, members, sizeof(members) / sizeof(members[0]), f, sizeof(*f));
	return true;
}

bool speedscope_event_read(struct json_span v, struct speedscope_event_fields *f)
{
	static const struct member members[] = { MEMBER(type), MEMBER(frame), MEMBER(at) };

	return READ_MEMBERS(v, members, f);
}

bool speedscope_bpfspy_read(struct json_span v, struct speedscope_bpfspy_fields *f)
{
	static const struct member members[] = {
		MEMBER(unit), MEMBER(rate_hz), MEMBER(start_realtime_ns), MEMBER(duration_ns),
		MEMBER(frame_kinds), MEMBER(threads), MEMBER(modules), MEMBER(process_events),
	};

	return READ_MEMBERS(v, members, f);
}

bool speedscope_thread_read(struct json_span v, struct speedscope_thread_fields *f)
{
	static const struct member members[] = { MEMBER(pid), MEMBER(tid), MEMBER(process), MEMBER(thread),
						 MEMBER(runs) };

	return READ_MEMBERS(v, members, f);
}

bool speedscope_module_read(struct json_span v, struct speedscope_module_fields *f)
{
	static const struct member members[] = { MEMBER(path), MEMBER(build_id) };

	return READ_MEMBERS(v, members, f);
}

/* ---- arrays ---- */

bool speedscope_array_begin(struct speedscope_array *a, struct json_span v)
{
	a->first = true;
	a->at = (struct json_cursor){ v.start, v.start };
	if (!v.start)
		return false;
	a->at.end = v.start + v.len;
	return json_peek_kind(&a->at) == JSON_KIND_ARRAY && json_array_begin(&a->at);
}

bool speedscope_array_next(struct speedscope_array *a)
{
	return json_array_next(&a->at, &a->first);
}

bool speedscope_array_take(struct speedscope_array *a, struct json_span *element)
{
	if (!speedscope_array_next(a))
		return false;
	*element = json_take_value(&a->at);
	return true;
}

bool speedscope_samples_begin(struct speedscope_samples *s, const struct speedscope_profile_fields *f)
{
	struct speedscope_array samples;

	memset(s, 0, sizeof(*s));
	if (!speedscope_array_begin(&samples, f->samples))
		return false;
	s->at = samples.at;
	s->first = true;
	s->have_weights = speedscope_array_begin(&s->weights, f->weights);
	return true;
}

bool speedscope_samples_next(struct speedscope_samples *s, struct json_span *weight)
{
	*weight = (struct json_span){ NULL, 0 };
	if (!json_array_next(&s->at, &s->first))
		return false;
	if (s->have_weights && !speedscope_array_take(&s->weights, weight)) {
		s->have_weights = false;
		s->weights_short = true;
	}
	return true;
}

bool speedscope_samples_weights_left(struct speedscope_samples *s)
{
	return s->have_weights && speedscope_array_next(&s->weights);
}

/* ---- values ---- */

static struct json_cursor value_cursor(struct json_span v)
{
	return (struct json_cursor){ v.start, v.start ? v.start + v.len : NULL };
}

enum json_kind speedscope_value_kind(struct json_span v)
{
	struct json_cursor c = value_cursor(v);

	return v.start ? json_peek_kind(&c) : JSON_KIND_INVALID;
}

bool speedscope_value_number(struct json_span v, double *out)
{
	struct json_cursor c = value_cursor(v);

	if (speedscope_value_kind(v) != JSON_KIND_NUMBER)
		return false;
	*out = json_take_number(&c);
	return true;
}

bool speedscope_value_text(struct json_span v, char *buf, size_t size)
{
	struct json_cursor c = value_cursor(v);

	if (speedscope_value_kind(v) != JSON_KIND_STRING)
		return false;
	json_take_string(&c, buf, size);
	return true;
}

char *speedscope_value_strdup(struct json_span v)
{
	struct json_cursor c = value_cursor(v);
	size_t n;
	char *s;

	if (speedscope_value_kind(v) != JSON_KIND_STRING)
		return NULL;
	n = json_take_string(&c, NULL, 0);
	s = malloc(n + 1);
	if (s)
		speedscope_value_text(v, s, n + 1);
	return s;
}

bool speedscope_value_is(struct json_span v, const char *literal)
{
	/* json_key_equals takes the string's inside, without its quotes */
	return speedscope_value_kind(v) == JSON_KIND_STRING && v.len >= 2 &&
	       json_key_equals((struct json_span){ v.start + 1, v.len - 2 }, literal);
}
