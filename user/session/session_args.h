/* SPDX-License-Identifier: MIT */
/*
 * The command-line options `record` and `top` share, as py-spy spells them:
 * what to profile (-p PID[,PID...], -a, or a command after --), whether to
 * follow its children (-s, --no-subprocesses), how often (-r), and which
 * samples and frames (-g, -n, -i), plus the getopt loop both run, with one
 * wording for its errors.
 */
#ifndef BPFSPY_SESSION_SESSION_ARGS_H
#define BPFSPY_SESSION_SESSION_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define SESSION_MAX_PIDS 64
#define SESSION_MAX_RATE 20000

/* The long options session_args_parse takes; a command's own table lists them too. */
enum {
	SESSION_OPT_NO_SUBPROCESSES = 900,
	SESSION_OPT_NONBLOCKING,
};
#define SESSION_LONG_OPTIONS                                                      \
	{ "pid", required_argument, NULL, 'p' }, { "all", no_argument, NULL, 'a' }, \
	{ "rate", required_argument, NULL, 'r' }, { "gil", no_argument, NULL, 'g' }, \
	{ "native", no_argument, NULL, 'n' }, { "idle", no_argument, NULL, 'i' },   \
	{ "subprocesses", no_argument, NULL, 's' },                                 \
	{ "no-subprocesses", no_argument, NULL, SESSION_OPT_NO_SUBPROCESSES },      \
	{ "nonblocking", no_argument, NULL, SESSION_OPT_NONBLOCKING }
/* Their short forms, for a getopt string ("p:" takes a value). */
#define SESSION_SHORT_OPTIONS "p:ar:gnis"

struct session_args {
	pid_t pids[SESSION_MAX_PIDS]; /* -p */
	size_t npids;
	bool all;          /* -a */
	bool subprocesses; /* default true; --no-subprocesses */
	unsigned rate_hz;  /* -r, default 100 */
	bool gil;          /* -g/--gil: only samples of threads holding the GIL */
	bool native;       /* -n/--native: native frames, Python frames merged in */
	bool idle;         /* -i/--idle: off-CPU time too (wall clock) */
	char **command;    /* argv after the options / "--" */
	int ncommand;
};

void session_args_defaults(struct session_args *a);

/* Returned by session_args_parse for an option that is not one of these. */
#define SESSION_ARGS_NOT_MINE 1

/* Takes option c (arg: its value). 0, -1 after one error line, or SESSION_ARGS_NOT_MINE. */
int session_args_parse(struct session_args *a, int c, const char *arg);

/* Exactly one target; verb names what the command does with it ("profile", "watch"). */
int session_args_validate(const struct session_args *a, const char *subcommand, const char *verb);

/*
 * The getopt loop of subcommand (argv[0]): each option goes to parse(c,
 * arg, ctx) (0, or -1 after its error line); -h prints usage to stdout.
 * Stops at the first non-option: a->command is what is left. Returns 0, 1
 * after --help, or -1 after one error line.
 */
int session_args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
			const char *subcommand, void (*usage)(FILE *f), int (*parse)(int c, const char *arg, void *ctx),
			void *ctx, struct session_args *a);

#endif
