/* SPDX-License-Identifier: MIT */
/* Output format names, file name extensions, and the one writer dispatcher. */
#ifndef BPFSPY_OUTPUT_FORMATS_H
#define BPFSPY_OUTPUT_FORMATS_H

#include <stdbool.h>
#include <stdio.h>

#include "profile/profile.h"

/* The names -f accepts, for help and error messages. */
#define OUTPUT_FORMAT_NAMES "speedscope, collapsed, flamegraph, pprof, chrometrace or gecko"

/* Parses a -f argument (case-insensitive; "raw" = collapsed, "svg" = flamegraph). Returns 0 or -1. */
int output_format_parse(const char *name, enum output_format *out);

/*
 * The format a file name asks for: .trace.json chrometrace; .gecko.json
 * gecko; other .json speedscope; .txt, .folded, .collapsed collapsed; .svg
 * flamegraph; .pb.gz, .pb, .pprof pprof.
 * Returns 0, or -1 when the name has none of these extensions.
 */
int output_format_from_path(const char *path, enum output_format *out);

/*
 * Whether path's name suits format: its own extension, or for the JSON
 * formats any .json (py-spy users write `-f chrometrace -o trace.json`).
 */
bool output_format_fits_path(enum output_format format, const char *path);

/* "speedscope", "collapsed", "flamegraph", "pprof", "chrometrace", "gecko". */
const char *output_format_name(enum output_format format);

/* ".json", ".txt", ".svg", ".pb.gz", ".trace.json", ".gecko.json". */
const char *output_format_extension(enum output_format format);

/*
 * The file name for format derived from path, the name given for another
 * format: path's known extension (any of the above) is replaced, or the
 * format's extension appended. Returns a malloc'ed string, or NULL (ENOMEM).
 */
char *output_path_for_format(const char *path, enum output_format format);

/* Writes p in format to f. Returns 0, or -1 with errno set. */
int write_profile_format(const struct profile *p, enum output_format format, FILE *f,
			 const struct write_options *o);

#endif
