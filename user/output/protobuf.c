// SPDX-License-Identifier: MIT
/* Protocol buffers wire format encoding (see protobuf.h). */
#include "output/protobuf.h"

#include <stdlib.h>
#include <string.h>

#define PB_MAX_VARINT 10

void pb_buf_free(struct pb_buf *b)
{
	free(b->data);
	*b = (struct pb_buf){ 0 };
}

void pb_buf_reset(struct pb_buf *b)
{
	b->len = 0;
	b->failed = false;
}

bool pb_failed(const struct pb_buf *b)
{
	return b->failed;
}

static bool reserve(struct pb_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (b->cap - b->len >= extra)
		return true;
	size_t cap = b->cap ? b->cap : 256;

	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	uint8_t *grown = realloc(b->data, cap);

	if (!grown) {
		b->failed = true;
		return false;
	}
	b->data = grown;
	b->cap = cap;
	return true;
}

static size_t encode_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

void pb_varint(struct pb_buf *b, uint64_t v)
{
	if (reserve(b, PB_MAX_VARINT))
		b->len += encode_varint(b->data + b->len, v);
}

void pb_tag(struct pb_buf *b, uint32_t field, enum pb_wire_type type)
{
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)type);
}

void pb_uint64_field(struct pb_buf *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, PB_WIRE_VARINT);
	pb_varint(b, v);
}

void pb_int64_field(struct pb_buf *b, uint32_t field, int64_t v)
{
	pb_uint64_field(b, field, (uint64_t)v);
}

void pb_bool_field(struct pb_buf *b, uint32_t field, bool v)
{
	pb_uint64_field(b, field, v ? 1 : 0);
}

void pb_bytes_field(struct pb_buf *b, uint32_t field, const void *data, size_t len)
{
	pb_tag(b, field, PB_WIRE_LEN);
	pb_varint(b, len);
	if (len && reserve(b, len)) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
	}
}

void pb_string_field(struct pb_buf *b, uint32_t field, const char *s)
{
	pb_bytes_field(b, field, s, strlen(s));
}

/*
 * The length goes before the contents but is known only at the end: one
 * byte is reserved (enough below 128 bytes, the common case) and the
 * contents are shifted when the length needs more.
 */
pb_mark pb_open(struct pb_buf *b, uint32_t field)
{
	pb_tag(b, field, PB_WIRE_LEN);
	if (reserve(b, 1))
		b->data[b->len++] = 0;
	return b->len;
}

void pb_close(struct pb_buf *b, pb_mark mark)
{
	if (b->failed || mark == 0 || mark > b->len)
		return;
	size_t body = b->len - mark;
	uint8_t prefix[PB_MAX_VARINT];
	size_t n = encode_varint(prefix, body);

	if (n > 1) {
		if (!reserve(b, n - 1))
			return;
		memmove(b->data + mark + n - 1, b->data + mark, body);
		b->len += n - 1;
	}
	memcpy(b->data + mark - 1, prefix, n);
}
