// SPDX-License-Identifier: MIT
#include "top/top_options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/cli_values.h"
#include "util/log.h"

#define TOP_MAX_RATE 20000

void top_usage(FILE *f)
{
	fputs("Usage: bpfspy top [OPTIONS] (-p PID[,PID...] | -a | -- COMMAND [ARGS...])\n"
	      "\n"
	      "A live view of the functions using the most CPU, refreshed every second:\n"
	      "  %Own / %Total      share of the last refresh interval's samples where the\n"
	      "                     function was running / was on the stack\n"
	      "  OwnTime/TotalTime  CPU time accumulated since the start (or the last reset)\n"
	      "\n"
	      "Keys: 1-4 sort by %Own, %Total, OwnTime (default), TotalTime;  l toggles\n"
	      "function / function:line rows;  r resets the times;  q or Ctrl-C quits.\n"
	      "While the view is on screen a launched command's stdin, stdout and stderr\n"
	      "are /dev/null. When stdout is not a terminal a plain table is printed at\n"
	      "every refresh.\n"
	      "\n"
	      "  -p, --pid PID[,PID...]  watch these processes\n"
	      "  -a, --all               watch every process on the host (processes without\n"
	      "                          Python frames are shown by their native frames)\n"
	      "  COMMAND [ARGS...]       launch COMMAND (after --) and watch it\n"
	      "  -r, --rate HZ           samples per second per CPU (default 100)\n"
	      "      --delay SECONDS     time between refreshes (default 1)\n"
	      "  -g, --gil               only samples of threads holding the GIL\n"
	      "      --once              when the command ends, print the final table and exit\n"
	      "                          (default: keep it on screen until a key is pressed)\n"
	      "      --full-filenames    show whole file paths\n"
	      "  -s, --subprocesses      follow processes the targets start (the default)\n"
	      "      --no-subprocesses   do not follow processes the targets start\n"
	      "      --nonblocking       accepted (py-spy): bpfspy never pauses the target\n"
	      "  -n, --native            native frames too (C extensions, libpython, libc)\n"
	      "  -i, --idle              also the time threads spend off the CPU (sleeping,\n"
	      "                          waiting): times become wall-clock time\n"
	      "  -h, --help              this help\n",
	      f);
}

enum { OPT_DELAY = 1000, OPT_ONCE, OPT_FULL_FILENAMES, OPT_NO_SUBPROCESSES, OPT_NONBLOCKING };

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "all", no_argument, NULL, 'a' },
	{ "rate", required_argument, NULL, 'r' },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "gil", no_argument, NULL, 'g' },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "full-filenames", no_argument, NULL, OPT_FULL_FILENAMES },
	{ "no-subprocesses", no_argument, NULL, OPT_NO_SUBPROCESSES },
	{ "native", no_argument, NULL, 'n' },
	{ "idle", no_argument, NULL, 'i' },
	{ "subprocesses", no_argument, NULL, 's' },
	{ "nonblocking", no_argument, NULL, OPT_NONBLOCKING },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(int c, const char *arg, struct top_options *o)
{
	unsigned long v;
	switch (c) {
	case 'p':
		return cli_parse_pid_list(arg, o->pids, &o->npids, TOP_MAX_PIDS);
	case 'a':
		o->all = true;
		return 0;
	case 'r':
		if (cli_parse_uint(arg, 1, TOP_MAX_RATE, &v) != 0) {
			log_error("invalid rate '%s' (expected 1 to %d samples per second)", arg, TOP_MAX_RATE);
			return -1;
		}
		o->rate_hz = (unsigned)v;
		return 0;
	case OPT_DELAY:
		if (cli_parse_seconds(arg, 0.0999, 3600, &o->delay_s) != 0) {
			log_error("invalid --delay '%s' (expected 0.1 to 3600 seconds)", arg);
			return -1;
		}
		return 0;
	case 'g':
		o->gil = true;
		return 0;
	case OPT_ONCE:
		o->once = true;
		return 0;
	case OPT_FULL_FILENAMES:
		o->full_filenames = true;
		return 0;
	case OPT_NO_SUBPROCESSES:
		o->subprocesses = false;
		return 0;
	case 's': /* py-spy's opt-in is bpfspy's default */
		o->subprocesses = true;
		return 0;
	case OPT_NONBLOCKING: /* BPF reads the target without ever pausing it */
		return 0;
	case 'n':
		o->native = true;
		return 0;
	case 'i':
		o->idle = true;
		return 0;
	default:
		return -1;
	}
}

static int validate(const struct top_options *o)
{
	int targets = (o->npids > 0) + o->all + (o->ncommand > 0);
	if (targets == 0) {
		log_error("nothing to watch: give -p PID, -a, or a command after --  (see bpfspy top --help)");
		return -1;
	}
	if (targets > 1) {
		log_error("give only one of -p PID, -a, or a command");
		return -1;
	}
	return 0;
}

int top_options_parse(int argc, char **argv, struct top_options *o)
{
	memset(o, 0, sizeof(*o));
	o->rate_hz = 100;
	o->delay_s = 1.0;
	o->subprocesses = true;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+p:ar:gnihs", long_options, NULL)) != -1) {
		if (c == 'h') {
			top_usage(stdout);
			return 1;
		}
		if (c == '?' || c == ':') {
			if (optopt && optopt < 256 && strchr("pr", optopt))
				log_error("option -%c needs a value (see bpfspy top --help)", optopt);
			else
				log_error("unknown or incomplete option '%s' (see bpfspy top --help)", argv[optind - 1]);
			return -1;
		}
		if (parse_one(c, optarg, o) != 0)
			return -1;
	}
	o->command = argv + optind;
	o->ncommand = argc - optind;
	return validate(o);
}
