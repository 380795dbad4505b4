/* SPDX-License-Identifier: MIT */
/*
 * Output files that appear complete or not at all: data goes to a temporary
 * file next to the target (created O_EXCL|O_NOFOLLOW, mode 0644 under the
 * umask), is fsync'ed, then renamed over the target. A symlink planted at the
 * target is replaced, never followed. On failure the temporary is removed and
 * any existing target is left untouched.
 */
#ifndef BPFSPY_OUTPUT_FILE_H
#define BPFSPY_OUTPUT_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct output_file;

/* Pass as uid and gid to keep the file owned by the current user. */
#define OUTPUT_FILE_NO_CHOWN ((uid_t)-1)

/*
 * Creates the temporary file for path. uid/gid: owner to give the final file
 * (e.g. SUDO_UID/SUDO_GID), or OUTPUT_FILE_NO_CHOWN (either may be -1 alone,
 * as with chown(2)). Returns NULL with errno set and a sentence in err.
 */
struct output_file *output_file_open(const char *path, uid_t uid, gid_t gid,
				     char *err, size_t errlen);

/* The stream to write to; owned by the output_file. */
FILE *output_file_stream(struct output_file *of);

/*
 * Flushes, fsyncs, sets the owner and renames onto the final path, then frees
 * of. Returns 0 on success; 1 if the file was committed but could not be
 * given to uid/gid (err says why); -1 with errno set and err filled if
 * nothing was committed (the temporary is removed).
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

#endif
