/* SPDX-License-Identifier: MIT */
/* Command-line options shared by `record` (and later `top`): parsing and validation. */
#ifndef BPFSPY_RECORD_OPTIONS_H
#define BPFSPY_RECORD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "profile.h"

#define RECORD_MAX_PIDS 64
#define RECORD_MAX_RATE 20000

struct record_options {
	const char *output;     /* -o; NULL = derived name */
	enum output_format format;
	unsigned rate_hz;
	double duration_s;      /* 0 = until the command exits / Ctrl-C */
	pid_t pids[RECORD_MAX_PIDS];
	size_t npids;
	bool all;               /* -a */
	bool subprocesses;      /* default true; --no-subprocesses */
	bool kernel;            /* --kernel */
	bool function_only;     /* -F */
	bool no_lineno;         /* --nolineno */
	bool gil;               /* --gil */
	unsigned max_depth;     /* --max-depth */
	const char *btf_path;   /* --btf */
	int verbosity;          /* -v / -q */
	char **command;         /* argv after options / "--" */
	int ncommand;
};

/*
 * Parses argv (argv[0] is the subcommand name). Returns 0 to run, 1 when
 * --help was printed, or -1 after printing one error line (exit code 2).
 */
int record_options_parse(int argc, char **argv, struct record_options *o);
void record_usage(FILE *f);

#endif
