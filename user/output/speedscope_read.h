/* SPDX-License-Identifier: MIT */
/*
 * Reads a speedscope JSON file back into a profile, for `bpfspy convert`.
 *
 * Files bpfspy wrote carry a "bpfspy" block (see speedscope.c) with the
 * sample rate, frame kinds, each profile's pid and tid and the native
 * modules' build-ids: with it the profile comes back with the same stacks,
 * sample counts, names, kinds and build-ids.
 * Other "sampled" speedscope files are read too: weights in seconds,
 * milliseconds or microseconds become nanoseconds, unit "none" counts
 * samples, frame kinds are guessed from file names, and threads are named
 * after their profiles.
 */
#ifndef BPFSPY_OUTPUT_SPEEDSCOPE_READ_H
#define BPFSPY_OUTPUT_SPEEDSCOPE_READ_H

#include <stddef.h>

#include "profile/profile.h"

/* More samples than this in a sample-count file is refused rather than expanded. */
#define SPEEDSCOPE_READ_MAX_SAMPLES 1000000000ull

/*
 * Parses json (len bytes, need not be NUL-terminated). Returns a new profile,
 * or NULL with one sentence in err (no trailing period, no file name).
 */
struct profile *profile_read_speedscope(const char *json, size_t len, char *err, size_t errlen);

/* Reads and parses the file at path; err names the file. */
struct profile *profile_read_speedscope_file(const char *path, char *err, size_t errlen);

#endif
