// SPDX-License-Identifier: MIT
#include "session/session_args.h"

#include <string.h>

#include "util/cli_values.h"
#include "util/log.h"

void session_args_defaults(struct session_args *a)
{
	memset(a, 0, sizeof(*a));
	a->subprocesses = true;
	a->rate_hz = 100;
}

int session_args_parse(struct session_args *a, int c, const char *arg)
{
	unsigned long v;
	switch (c) {
	case 'p':
		return cli_parse_pid_list(arg, a->pids, &a->npids, SESSION_MAX_PIDS);
	case 'a':
		a->all = true;
		return 0;
	case 'r':
		if (cli_parse_uint(arg, 1, SESSION_MAX_RATE, &v) != 0) {
			log_error("invalid rate '%s' (expected 1 to %d samples per second)", arg, SESSION_MAX_RATE);
			return -1;
		}
		a->rate_hz = (unsigned)v;
		return 0;
	case 'g':
		a->gil = true;
		return 0;
	case 'n':
		a->native = true;
		return 0;
	case 'i':
		a->idle = true;
		return 0;
	case 's': /* py-spy's opt-in is bpfspy's default */
		a->subprocesses = true;
		return 0;
	case SESSION_OPT_NO_SUBPROCESSES:
		a->subprocesses = false;
		return 0;
	case SESSION_OPT_NONBLOCKING: /* BPF reads the target without ever pausing it */
		return 0;
	default:
		return SESSION_ARGS_NOT_MINE;
	}
}

int session_args_validate(const struct session_args *a, const char *subcommand, const char *verb)
{
	int targets = (a->npids > 0) + a->all + (a->ncommand > 0);
	if (targets == 0) {
		log_error("nothing to %s: give -p PID, -a, or a command after --  (see bpfspy %s --help)", verb,
			  subcommand);
		return -1;
	}
	if (targets > 1) {
		log_error("give only one of -p PID, -a, or a command");
		return -1;
	}
	return 0;
}

/* The short options that take a value, from a getopt string ("p:ar:" gives "pr"). */
static bool takes_value(const char *shortopts, int c)
{
	const char *at = c > 0 && c < 256 ? strchr(shortopts, c) : NULL;
	return at && at[1] == ':';
}

int session_args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
			const char *subcommand, void (*usage)(FILE *f), int (*parse)(int c, const char *arg, void *ctx),
			void *ctx, struct session_args *a)
{
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || c == ':') {
			if (takes_value(shortopts, optopt))
				log_error("option -%c needs a value (see bpfspy %s --help)", optopt, subcommand);
			else if (optopt && optopt < 256)
				log_error("unknown option -%c (see bpfspy %s --help)", optopt, subcommand);
			else
				log_error("unknown or incomplete option '%s' (see bpfspy %s --help)", argv[optind - 1],
					  subcommand);
			return -1;
		}
		if (parse(c, optarg, ctx) != 0)
			return -1;
	}
	a->command = argv + optind;
	a->ncommand = argc - optind;
	return 0;
}
