// SPDX-License-Identifier: MIT
/* `bpfspy dump`: options and the one-shot run. */
#include "dump/dump.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session/session.h"
#include "util/cli_values.h"
#include "util/log.h"
#include "util/proc_stat.h"

struct dump_options {
	pid_t pid;
	bool json;
	bool gil;
	bool native;
	bool subprocesses; /* -s: the process's descendants too, as py-spy dump -s */
	bool locals;
	bool async; /* --async: the asyncio tasks and their await tree too */
};

#define DUMP_MAX_PROCESSES 1024

static void dump_usage(FILE *f)
{
	fputs("Usage: bpfspy dump -p PID [--json] [--gil] [--locals] [--async] [-s]\n"
	      "\n"
	      "Prints the Python stack of every thread of a running process, most recent\n"
	      "call last, like a Python traceback. Blocked and sleeping threads are shown\n"
	      "too: the stacks are read from the process's memory without pausing it.\n"
	      "A stack is shown once a second read confirms it; a thread whose stack keeps\n"
	      "changing under every read is marked (stack changing, retry).\n"
	      "\n"
	      "  -p, --pid PID   the Python process\n"
	      "  -j, --json      print JSON instead of tracebacks\n"
	      "  -g, --gil       also show which thread holds the GIL\n"
	      "  -s, --subprocesses  also every process it started, one after the other\n"
	      "  -n, --native    native frames too (C extensions, libpython, libc: where a\n"
	      "                  blocked thread waits), merged with the Python frames; a\n"
	      "                  thread running on a CPU as it is read keeps Python frames\n"
	      "  -l, --locals    also each frame's local variables, as py-spy shows them: ints,\n"
	      "                  floats, bools, None, str and bytes by value (cut at 64\n"
	      "                  characters), other objects as <type at 0xADDRESS>\n"
	      "  -a, --async     also every asyncio task (CPython 3.14+): its name, state, the\n"
	      "                  coroutine chain where it awaits and the tasks awaiting it,\n"
	      "                  then the await tree as python -m asyncio pstree draws it\n"
	      "      --full-filenames  accepted (py-spy): dump always shows full paths\n"
	      "      --nonblocking     accepted (py-spy): dump never pauses the process\n"
	      "  -h, --help      this help\n",
	      f);
}

enum { OPT_ACCEPTED = 1000 }; /* py-spy flags whose meaning is bpfspy's behaviour already */

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, 'j' },
	{ "gil", no_argument, NULL, 'g' },
	{ "native", no_argument, NULL, 'n' },
	{ "subprocesses", no_argument, NULL, 's' },
	{ "locals", no_argument, NULL, 'l' },
	{ "async", no_argument, NULL, 'a' },
	{ "full-filenames", no_argument, NULL, OPT_ACCEPTED },
	{ "nonblocking", no_argument, NULL, OPT_ACCEPTED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns 0 to run, 1 after --help, -1 after an error line. */
static int parse_dump_options(int argc, char **argv, struct dump_options *o)
{
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+p:jgnhsla", long_options, NULL)) != -1) {
		switch (c) {
		case 'p': {
			size_t n = 0;
			if (cli_parse_pid_list(optarg, &o->pid, &n, 1) != 0)
				return -1;
			break;
		}
		case 's':
			o->subprocesses = true;
			break;
		case 'l':
			o->locals = true;
			break;
		case 'a':
			o->async = true;
			break;
		case OPT_ACCEPTED:
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
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_options o;
	int e = parse_dump_options(argc, argv, &o);
	if (e != 0)
		return e > 0 ? 0 : 2;

	/* the same checks as record and top; dump reads once with its own BPF program, not through a session */
	int rc = session_check_targets(&o.pid, 1);
	if (rc != 0)
		return rc;
	char err[512];
	pid_t pids[DUMP_MAX_PROCESSES];
	size_t npids = 1;
	pids[0] = o.pid;
	if (o.subprocesses)
		npids += proc_list_descendants(o.pid, pids + 1, DUMP_MAX_PROCESSES - 1);

	/* one process: its document as before; with -s, a JSON array of them */
	bool array = o.json && o.subprocesses;
	if (array)
		fputs("[", stdout);
	for (size_t i = 0; i < npids; i++) {
		struct dump_snapshot s;
		if (dump_snapshot_take(pids[i], o.locals, o.native, o.async, &s, err, sizeof(err)) != 0) {
			/* a child that is not Python or has exited is skipped; the named process is not */
			if (i == 0) {
				log_error("%s", err);
				rc = 1;
				break;
			}
			log_info("skipping process %d: %s", pids[i], err);
			continue;
		}
		if (o.json) {
			if (array && i > 0)
				fputs(",", stdout);
			if (dump_print_json(&s, o.gil, stdout) != 0)
				rc = 1;
		} else {
			if (i > 0)
				fputs("\n", stdout);
			dump_print_text(&s, o.gil, stdout);
		}
		dump_snapshot_free(&s);
	}
	if (array)
		fputs("]\n", stdout);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
