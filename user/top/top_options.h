/* SPDX-License-Identifier: MIT */
/* Command-line options of `bpfspy top`. */
#ifndef BPFSPY_TOP_OPTIONS_H
#define BPFSPY_TOP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define TOP_MAX_PIDS 64

struct top_options {
	pid_t pids[TOP_MAX_PIDS];
	size_t npids;
	bool all;             /* -a */
	unsigned rate_hz;     /* -r, default 100 */
	double delay_s;       /* --delay: seconds between refreshes, default 1 */
	bool gil;             /* --gil: only samples of threads holding the GIL */
	bool once;            /* --once: when the command ends, print the table and exit */
	bool full_filenames;  /* --full-filenames */
	bool subprocesses;    /* default true; --no-subprocesses */
	bool native;          /* -n: native frames, Python frames merged in */
	bool idle;            /* -i: off-CPU time too (wall clock) */
	char **command;       /* after "--" */
	int ncommand;
};

/* Returns 0 to run, 1 after --help, -1 after one error line (exit code 2). */
int top_options_parse(int argc, char **argv, struct top_options *o);
void top_usage(FILE *f);

#endif
