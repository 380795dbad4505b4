/* SPDX-License-Identifier: MIT */
/*
 * A minimal protocol buffers encoder: varints, length-delimited fields,
 * nested messages and packed repeated varints into a growable byte buffer.
 *
 * Written here rather than taken from libprotobuf-c because pprof needs a
 * dozen fields of one fixed schema: an encoder of ~150 lines costs less than
 * a build-time code generator, a generated .pb-c.c file and one more runtime
 * library for every user of bpfspy.
 *
 * Errors are sticky: after an allocation failure every call is a no-op and
 * pb_failed() reports it, so callers check once at the end.
 */
#ifndef BPFSPY_OUTPUT_PROTOBUF_H
#define BPFSPY_OUTPUT_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire_type {
	PB_WIRE_VARINT = 0,
	PB_WIRE_LEN = 2,
};

struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

/* Where an open nested message or packed field started; see pb_open/pb_close. */
typedef size_t pb_mark;

void pb_buf_free(struct pb_buf *b);
/* Empties b, keeping its memory (and clearing a failure). */
void pb_buf_reset(struct pb_buf *b);
bool pb_failed(const struct pb_buf *b);

void pb_varint(struct pb_buf *b, uint64_t v);
void pb_tag(struct pb_buf *b, uint32_t field, enum pb_wire_type type);

/* int64 and uint64 fields share the varint encoding (negative int64: 10 bytes). */
void pb_uint64_field(struct pb_buf *b, uint32_t field, uint64_t v);
void pb_int64_field(struct pb_buf *b, uint32_t field, int64_t v);
void pb_bool_field(struct pb_buf *b, uint32_t field, bool v);
void pb_bytes_field(struct pb_buf *b, uint32_t field, const void *data, size_t len);
void pb_string_field(struct pb_buf *b, uint32_t field, const char *s);

/*
 * A nested message or a packed repeated field: pb_open writes the tag, then
 * the caller writes the contents, then pb_close inserts their length. Opens
 * may nest; close in reverse order.
 */
pb_mark pb_open(struct pb_buf *b, uint32_t field);
void pb_close(struct pb_buf *b, pb_mark mark);

#endif
