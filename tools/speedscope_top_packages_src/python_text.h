/* What the reference script's Python makes of JSON values it did not expect
 * to be strings or ints: f"{value}" of a frame's "line", int() of a sample
 * entry. The tool's tables match the script's, so these match Python's. */
#ifndef SPEEDSCOPE_PYTHON_TEXT_H
#define SPEEDSCOPE_PYTHON_TEXT_H

#include <stdbool.h>

#include "output/json_scan.h"

/* f"{v}" of the JSON value at v, in a new allocation; NULL when out of memory. */
char *python_format_value(struct json_span v);

/* int(s) of a string: surrounding whitespace, a sign, digits with single
 * underscores between them. False when Python would raise ValueError. */
bool python_int_of_string(const char *s, double *out);

#endif
