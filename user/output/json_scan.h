/* A validating, allocation-free JSON scanner over an in-memory buffer.
 *
 * cJSON builds a tree of ~64-byte nodes per value, which for a speedscope file
 * (mostly small integers) is 15-20x the file size. The scanner lets the reader
 * walk the large "samples"/"weights"/"events" arrays in place and hand only
 * small subtrees (single frames, single events) to cJSON. */
#ifndef SPEEDSCOPE_JSON_SCAN_H
#define SPEEDSCOPE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Python's json module refuses deeper documents (RecursionError). */
#define JSON_MAX_DEPTH 900

struct json_span {
	const char *start;
	size_t len;
};

struct json_cursor {
	const char *p;
	const char *end;
};

void json_skip_ws(struct json_cursor *c);

/* Validates one value (strict JSON plus the NaN/Infinity/-Infinity literals
 * Python's json accepts) and advances past it. Returns false on a syntax
 * error, leaving c->p at the offending byte. */
bool json_skip_value(struct json_cursor *c);

/* Validates a whole document: one value surrounded by whitespace. On error
 * *err_offset is set to the byte offset of the problem. */
bool json_validate_document(const char *buf, size_t len, size_t *err_offset);

/* The iteration helpers below assume the document was validated first. */

/* Starts iterating the object/array at c; returns false if the value there is
 * not an object/array. */
bool json_object_begin(struct json_cursor *c);
bool json_array_begin(struct json_cursor *c);

/* Advances to the next member: fills key (raw, still escaped, without quotes)
 * and leaves c at the value. Returns false at the closing brace. The caller
 * must consume the value (e.g. json_skip_value) before calling again. */
bool json_object_next(struct json_cursor *c, bool *first, struct json_span *key);
bool json_array_next(struct json_cursor *c, bool *first);

/* Whether a raw key span decodes to the given ASCII literal. */
bool json_key_equals(struct json_span key, const char *literal);

/* The span of the value at c (c is advanced past it). */
struct json_span json_take_value(struct json_cursor *c);

enum json_kind {
	JSON_KIND_OBJECT,
	JSON_KIND_ARRAY,
	JSON_KIND_STRING,
	JSON_KIND_NUMBER,
	JSON_KIND_TRUE,
	JSON_KIND_FALSE,
	JSON_KIND_NULL,
	JSON_KIND_INVALID,
};

enum json_kind json_peek_kind(const struct json_cursor *c);

/* Python truthiness of a value ("frames or fallback"): false for null,
 * false, 0, "", [] and {}. */
bool json_value_is_truthy(struct json_span value);

/* Parses the number token at c (NaN/Infinity included) and advances. */
double json_take_number(struct json_cursor *c);

/* Decodes the string token at c into buf (NUL-terminated, truncated to
 * bufsize-1 bytes; \u escapes become UTF-8) and advances. Returns the decoded
 * length before truncation. */
size_t json_take_string(struct json_cursor *c, char *buf, size_t bufsize);

#endif
