/* SPDX-License-Identifier: MIT */
/* Command-line options of `bpfspy top`. */
#ifndef BPFSPY_TOP_OPTIONS_H
#define BPFSPY_TOP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "session/session_args.h"


struct top_options {
	struct session_args target; /* -p/-a/COMMAND, -s, -r, -g, -n, -i */
	double delay_s;       /* --delay: seconds between refreshes, default 1 */
	bool once;            /* --once: when the command ends, print the table and exit */
	bool full_filenames;  /* --full-filenames */
};

/* Returns 0 to run, 1 after --help, -1 after one error line (exit code 2). */
int top_options_parse(int argc, char **argv, struct top_options *o);
void top_usage(FILE *f);

#endif
