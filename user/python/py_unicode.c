/* SPDX-License-Identifier: MIT */
/*
 * PyUnicodeObject -> UTF-8. Only compact strings (the data follows the
 * header) are decoded: code-object names and file names are always compact.
 */
#include "python/py_layout.h"

#include <string.h>

#include "util/utf8.h"

#define MAX_CHARS (1u << 24)

struct state_bits {
	unsigned kind_shift, compact_bit, ascii_bit;
};

/* Free-threaded 3.14+ made `interned` a whole byte, moving the other bits up by 8. */
static struct state_bits state_bits_for(const struct py_unicode_layout *l)
{
	if (l->free_threaded && PY_MINOR(l->version_hex) >= 14)
		return (struct state_bits){ 8, 11, 12 };
	return (struct state_bits){ 2, 5, 6 };
}

int py_unicode_header(const struct py_unicode_layout *l, const uint8_t *hdr, size_t hdrlen,
		      uint64_t *length, unsigned *kind, uint64_t *data_offset)
{
	/* Free-threaded objects have a 0x20-byte PyObject header instead of 0x10. */
	size_t head = l->free_threaded ? 0x20 : 0x10;
	size_t length_off = head, state_off = head + 0x10;
	/* sizeof(PyASCIIObject): 3.12 dropped wstr. PyCompactUnicodeObject adds
	 * utf8_length + utf8 (+ wstr_length before 3.12). */
	bool has_wstr = PY_MINOR(l->version_hex) <= 11;
	uint64_t ascii_size = head + 0x18 + (has_wstr ? 8 : 0);
	uint64_t compact_size = ascii_size + (has_wstr ? 0x18 : 0x10);
	struct state_bits bits = state_bits_for(l);
	uint32_t state;
	uint64_t n;
	unsigned k;

	if (!hdr || hdrlen < state_off + 4)
		return -1;
	memcpy(&n, hdr + length_off, sizeof(n));
	memcpy(&state, hdr + state_off, sizeof(state));
	k = (state >> bits.kind_shift) & 7;
	if (n > MAX_CHARS || (k != 1 && k != 2 && k != 4))
		return -1; /* also ≤3.11 legacy strings that are not "ready" (kind 0) */
	if (!(state >> bits.compact_bit & 1))
		return -1;
	*length = n;
	*kind = k;
	*data_offset = (state >> bits.ascii_bit & 1) ? ascii_size : compact_size;
	return 0;
}

static uint32_t code_point(unsigned kind, const uint8_t *data, uint64_t i)
{
	uint16_t u16;
	uint32_t u32;

	if (kind == 1)
		return data[i];
	if (kind == 2) {
		memcpy(&u16, data + 2 * i, 2);
		return u16;
	}
	memcpy(&u32, data + 4 * i, 4);
	return u32;
}

/* Writes NUL-terminated UTF-8, truncated at a character boundary if out is too small. */
int py_unicode_to_utf8(unsigned kind, const uint8_t *data, uint64_t length, char *out, size_t outlen)
{
	size_t w = 0;

	if (!out || outlen == 0 || (kind != 1 && kind != 2 && kind != 4) || length > MAX_CHARS ||
	    (length && !data))
		return -1;
	for (uint64_t i = 0; i < length; i++) {
		char buf[UTF8_MAX_SEQUENCE];
		uint32_t cp = code_point(kind, data, i);
		size_t n;

		if (cp > 0x10ffff)
			return -1;
		n = utf8_encode(cp, buf);
		if (w + n >= outlen)
			break;
		memcpy(out + w, buf, n);
		w += n;
	}
	out[w] = '\0';
	return (int)w;
}
