// SPDX-License-Identifier: MIT
/* `bpfspy dump`: options and the one-shot run. */
#include "dump.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "util/log.h"
#include "util/proc_stat.h"

struct dump_options {
	pid_t pid;
	bool json;
	bool gil;
	bool native;
};

static void dump_usage(FILE *f)
{
	fputs("Usage: bpfspy dump -p PID [--json] [--gil]\n"
	      "\n"
	      "Prints the Python stack of every thread of a running process, most recent\n"
	      "call last, like a Python traceback. Blocked and sleeping threads are shown\n"
	      "too: the stacks are read from the process's memory without pausing it.\n"
	      "\n"
	      "  -p, --pid PID   the Python process\n"
	      "  -j, --json      print JSON instead of tracebacks\n"
	      "  -g, --gil       also show which thread holds the GIL\n"
	      "  -n, --native    merge native frames (not yet supported)\n"
	      "  -h, --help      this help\n",
	      f);
}

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, 'j' },
	{ "gil", no_argument, NULL, 'g' },
	{ "native", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v <= 0 || v > 4194304)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 after an error line. */
static int parse_dump_options(int argc, char **argv, struct dump_options *o)
{
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+p:jgnh", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pid(optarg, &o->pid) != 0) {
				log_error("invalid PID '%s' (expected a positive number)", optarg);
				return -1;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'g':
			o->gil = true;
			break;
		case 'n':
			o->native = true;
			break;
		case 'h':
			dump_usage(stdout);
			return 1;
		default:
			if (optopt == 'p')
				log_error("option -p needs a PID (see bpfspy dump --help)");
			else
				log_error("unknown option '%s' (see bpfspy dump --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s': dump reads a running process (bpfspy dump -p PID)", argv[optind]);
		return -1;
	}
	if (!o->pid) {
		log_error("give the process to dump with -p PID (see bpfspy dump --help)");
		return -1;
	}
	if (o->native) {
		log_error("dump --native is not yet supported (native unwinding of a live process is not built in yet)");
		return -1;
	}
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_options o;
	int e = parse_dump_options(argc, argv, &o);
	if (e != 0)
		return e > 0 ? 0 : 2;

	char err[512];
	if (sampler_check_privileges(err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	if (proc_check_target(&o.pid) != 0)
		return 1;
	struct dump_snapshot s;
	if (dump_snapshot_take(o.pid, &s, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	int rc = 0;
	if (o.json)
		rc = dump_print_json(&s, o.gil, stdout) == 0 ? 0 : 1;
	else
		dump_print_text(&s, o.gil, stdout);
	if (fflush(stdout) != 0)
		rc = 1;
	dump_snapshot_free(&s);
	return rc;
}
