/* SPDX-License-Identifier: MIT */
/*
 * Output files that appear complete or not at all: data goes to a temporary
 * file next to the target (created O_EXCL|O_NOFOLLOW, mode 0644 under the
 * umask), is fsync'ed, then renamed over the target. A symlink planted at the
 * target is replaced, never followed. On failure the temporary is removed and
 * any existing target is left untouched.
 *
 * Streams are written in place and never replaced: "-" and /dev/stdout,
 * /dev/stderr, /dev/fd/N, /proc/self/fd/N write to that descriptor of ours,
 * whatever it is (a file, a pipe, a terminal); an existing device, FIFO or
 * socket is opened as it is (a FIFO without a reader is an error, not a
 * hang). Nothing under /dev is ever created, renamed or reached through a
 * symlink.
 *
 * Every file operation runs with the invoking user's file-system identity
 * (util/invoking_user.h): under sudo, a path that user could not write fails,
 * and the file created is theirs.
 */
#ifndef BPFSPY_OUTPUT_FILE_H
#define BPFSPY_OUTPUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct output_file;

/*
 * Creates the temporary file for path (or opens the stream). Returns NULL
 * with errno set and a sentence in err.
 */
struct output_file *output_file_open(const char *path, char *err, size_t errlen);

/* The stream to write to; owned by the output_file. */
FILE *output_file_stream(struct output_file *of);

/*
 * Flushes, fsyncs and renames onto the final path, then frees of. Returns 0
 * on success; -1 with errno set and err filled if nothing was committed (the
 * temporary is removed).
 */
int output_file_commit(struct output_file *of, char *err, size_t errlen);

/* Removes the temporary file and frees of. */
void output_file_abort(struct output_file *of);

/*
 * Early check, before recording, that path can be written: its directory
 * exists and accepts a new file, and path is not a directory. Returns 0, or
 * -1 with errno set and err filled.
 */
int output_path_check(const char *path, char *err, size_t errlen);

/* True if path names a stream (written in place; see above), not a file to create. */
bool output_path_is_stream(const char *path);

#endif
