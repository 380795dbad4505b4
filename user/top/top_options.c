// SPDX-License-Identifier: MIT
#include "top/top_options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/cli_values.h"
#include "util/log.h"

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

enum { OPT_DELAY = 1000, OPT_ONCE, OPT_FULL_FILENAMES };

static const struct option long_options[] = {
	SESSION_LONG_OPTIONS,
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "full-filenames", no_argument, NULL, OPT_FULL_FILENAMES },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(int c, const char *arg, void *ctx)
{
	struct top_options *o = ctx;
	int shared = session_args_parse(&o->target, c, arg);
	if (shared != SESSION_ARGS_NOT_MINE)
		return shared;
	switch (c) {
	case OPT_DELAY:
		if (cli_parse_seconds(arg, 0.0999, 3600, &o->delay_s) != 0) {
			log_error("invalid --delay '%s' (expected 0.1 to 3600 seconds)", arg);
			return -1;
		}
		return 0;
	case OPT_ONCE:
		o->once = true;
		return 0;
	case OPT_FULL_FILENAMES:
		o->full_filenames = true;
		return 0;
	default:
		return -1;
	}
}

int top_options_parse(int argc, char **argv, struct top_options *o)
{
	memset(o, 0, sizeof(*o));
	session_args_defaults(&o->target);
	o->delay_s = 1.0;
	int rc = session_args_getopt(argc, argv, "+" SESSION_SHORT_OPTIONS "h", long_options, "top", top_usage, parse_one,
				     o, &o->target);
	return rc != 0 ? rc : session_args_validate(&o->target, "top", "watch");
}
