/* SPDX-License-Identifier: MIT */
/*
 * UTF-8, the one place that knows its byte layout. Names come from remote
 * memory, ELF files and profile files, so any byte string can show up; the
 * writers, the Python string reader, the JSON scanner and the tools all
 * validate, encode and count through these.
 */
#ifndef BPFSPY_UTIL_UTF8_H
#define BPFSPY_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "\xEF\xBF\xBD": what an ill-formed byte is replaced with. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The longest encoding of one code point. */
#define UTF8_MAX_SEQUENCE 4

/*
 * Length (1..4) of the well-formed UTF-8 sequence at s (n bytes available),
 * or 0 if s[0] does not start one: overlong forms, surrogates, code points
 * above U+10FFFF and truncated sequences are all rejected.
 */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

/*
 * Decodes the well-formed sequence at s into *cp and returns its length, or
 * returns 0 (*cp = U+FFFD) where utf8_sequence_length would.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Whether all n bytes at s are well-formed UTF-8 (the same rules). */
bool utf8_is_valid(const unsigned char *s, size_t n);

/*
 * Writes code point cp (at most U+10FFFF) to out; returns the byte count
 * (1..4). Surrogates are encoded as they come: CPython strings and JSON
 * escapes can hold lone ones, and callers decide what to do with them.
 */
size_t utf8_encode(uint32_t cp, char out[UTF8_MAX_SEQUENCE]);

/* Characters (code points) in the NUL-terminated s: bytes that are not continuation bytes. */
size_t utf8_count_chars(const char *s);

/* The largest length <= max (of the n-byte s) that does not end inside a multi-byte character. */
size_t utf8_truncate(const char *s, size_t n, size_t max);

#endif
