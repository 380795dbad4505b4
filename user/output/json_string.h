/* SPDX-License-Identifier: MIT */
/* Streaming JSON string literals for the writers. */
#ifndef BPFSPY_OUTPUT_JSON_STRING_H
#define BPFSPY_OUTPUT_JSON_STRING_H

#include <stdio.h>

/*
 * Writes s as a quoted JSON string: quotes, backslashes and control
 * characters escaped, ill-formed UTF-8 bytes replaced by U+FFFD each.
 * Returns 0, or -1 if the stream reported an error.
 */
int json_write_string(FILE *f, const char *s);

#endif
