/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation for writers: frame names come from remote memory and ELF
 * files, so any byte string can show up, but JSON and speedscope want text.
 */
#ifndef BPFSPY_OUTPUT_UTF8_H
#define BPFSPY_OUTPUT_UTF8_H

#include <stddef.h>

/* "\xEF\xBF\xBD": what an ill-formed byte is replaced with. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/*
 * Length (1..4) of the well-formed UTF-8 sequence at s (n bytes available),
 * or 0 if s[0] does not start one: overlong forms, surrogates, code points
 * above U+10FFFF and truncated sequences are all rejected.
 */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

#endif
