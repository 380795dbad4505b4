// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfspy_events.h"
#include "output/formats.h"
#include "cmd/record_options.h"
#include "util/cli_values.h"
#include "util/log.h"

void record_usage(FILE *f)
{
	fputs("Usage: bpfspy record [OPTIONS] (-p PID[,PID...] | -a | [--] COMMAND [ARGS...])\n"
	      "\n"
	      "Samples the stacks of a command, of running processes, or of the whole host\n"
	      "with BPF, names Python frames (CPython 3.8-3.15) and native frames, and\n"
	      "writes a speedscope file (open it at https://www.speedscope.app) or\n"
	      "collapsed stacks (flamegraph.pl, speedscope).\n"
	      "\n"
	      "Targets:\n"
	      "  -p, --pid PID[,PID...]  profile these processes and all their threads\n"
	      "  -a, --all               profile every process on the host\n"
	      "  COMMAND [ARGS...]       launch COMMAND (after --) and profile it from its first\n"
	      "                          instruction; bpfspy exits with its exit status\n"
	      "  -s, --subprocesses      follow processes the targets start (the default)\n"
	      "      --no-subprocesses   do not follow processes the targets start\n"
	      "      --comm NAME         with -a: only processes whose name contains NAME\n"
	      "      --pid-filter PID[,PID...]  with -a: only these processes\n"
	      "\n"
	      "Output:\n"
	      "  -o, --output FILE       where to write (default: bpfspy-<name>-<time>.json);\n"
	      "                          - or /dev/stdout: standard output. Under sudo the file\n"
	      "                          is created with the invoking user's rights\n"
	      "  -f, --format FORMAT     speedscope, collapsed (also: raw), flamegraph\n"
	      "                          (interactive SVG), pprof (gzipped profile.proto, go\n"
	      "                          tool pprof), chrometrace (a timeline: Perfetto,\n"
	      "                          chrome://tracing, speedscope) or gecko (a timeline for\n"
	      "                          the Firefox Profiler). Default: the one -o's extension\n"
	      "                          names (.trace.json chrometrace; .gecko.json gecko;\n"
	      "                          .json speedscope; .txt .folded .collapsed collapsed;\n"
	      "                          .svg flamegraph; .pb.gz .pprof pprof), else speedscope.\n"
	      "                          Repeat -f to write several files from one run: the\n"
	      "                          others are named after -o with the extension .json,\n"
	      "                          .txt, .svg, .pb.gz, .trace.json or .gecko.json\n"
	      "  -F, --function          one frame per function (line = its first line)\n"
	      "      --nolineno          no line numbers\n"
	      "  -t, --threads           collapsed: a \"thread (0xTID)\" root frame per thread\n"
	      "      --full-filenames    accepted (py-spy): record always writes full paths\n"
	      "      --hideprogress      no status line while recording\n"
	      "\n"
	      "Sampling:\n"
	      "  -r, --rate HZ           samples per second per CPU (default 100, max 20000)\n"
	      "  -d, --duration SECONDS  stop after this long, then end a launched command\n"
	      "                          (SIGINT, then SIGTERM); default or 'unlimited': until\n"
	      "                          the command exits or Ctrl-C\n"
	      "      --nonblocking       accepted (py-spy): bpfspy never pauses the target\n"
	      "      --capture           accepted (py-spy): the command's output is shown as is\n"
	      "  -n, --native            native frames too (C extensions, libpython, libc), with\n"
	      "                          Python frames merged where the interpreter ran them;\n"
	      "                          unwinds from DWARF CFI, no frame pointers needed\n"
	      "      --native-all        with --native, keep interpreter plumbing frames\n"
	      "      --unwind MODE       how native stacks are unwound: kernel (default: in BPF,\n"
	      "                          from the .eh_frame tables bpfspy loads, any depth) or\n"
	      "                          snapshot (copy --stack-size bytes of stack per sample\n"
	      "                          and unwind in bpfspy; the kernel mode copies 64 KiB\n"
	      "                          only for code mapped a moment ago); compare: kernel, and\n"
	      "                          with --native each stack checked against the snapshot\n"
	      "                          unwinder (a summary line says how many matched)\n"
	      "      --max-native-frames N  native frames per sample, kernel mode (default 512,\n"
	      "                          max 1024)\n"
	      "      --stack-size BYTES  with --unwind snapshot or compare: user stack copied\n"
	      "                          per sample (default 16384, 1024 to 65536)\n"
	      "      --kernel            include kernel frames\n"
	      "  -i, --idle              wall-clock profile: also the time threads spend off the\n"
	      "                          CPU (sleep, I/O, locks), measured exactly from the\n"
	      "                          scheduler; weights become time, with [sleep], [I/O],\n"
	      "                          [futex], [poll], [wait] (a child), [preempted] or\n"
	      "                          [off-cpu] leaf markers, from the syscall it waits in;\n"
	      "                          with -p/-a, threads already blocked count from the start\n"
	      "      --async-aware       asyncio (CPython 3.14+): a sample that ran a task shows\n"
	      "                          that task's coroutines, then [task NAME], then each task\n"
	      "                          awaiting it (its coroutines, [task NAME]) up to the\n"
	      "                          root task, in place of the event loop's frames (not\n"
	      "                          with --native); with --idle, an idle loop's time goes to\n"
	      "                          where each waiting task awaits, ending in [await]\n"
	      "  -g, --gil               only samples of threads holding the GIL\n"
	      "      --max-depth N       Python frames per sample (default and max 1024)\n"
	      "      --btf PATH          kernel BTF file (default /sys/kernel/btf/vmlinux)\n"
	      "  -v, --verbose           more diagnostics;  -q, --quiet: errors only\n"
	      "  -h, --help              this help\n"
	      "\n"
	      "Examples:\n"
	      "  sudo bpfspy record -o out.json -- python3 -m pytest --collect-only\n"
	      "  sudo bpfspy record -p 1234 -d 10 -f collapsed -o out.txt\n"
	      "  sudo bpfspy record -f speedscope -f flamegraph -o out.json -- ./app\n"
	      "                          (writes out.json and out.svg)\n"
	      "  sudo bpfspy record -f chrometrace -o trace.json -- ./run-tests.sh\n"
	      "                          (every process and thread on one time axis)\n"
	      "  sudo bpfspy record -a -d 5\n"
	      "\n"
	      "Ctrl-C (SIGINT), SIGTERM, SIGHUP or SIGQUIT stop recording; everything sampled\n"
	      "so far is written. If the file cannot be written, the recording is saved under\n"
	      "the same name in $TMPDIR (or /tmp), then in your home, and the path printed.\n"
	      "py-spy's record options are all accepted with py-spy's meaning.\n",
	      f);
}

enum {
	OPT_KERNEL = 1000,
	OPT_NOLINENO,
	OPT_MAX_DEPTH,
	OPT_BTF,
	OPT_NATIVE_ALL,
	OPT_COMM,
	OPT_PID_FILTER,
	OPT_STACK_SIZE,
	OPT_FULL_FILENAMES,
	OPT_HIDEPROGRESS,
	OPT_CAPTURE,
	OPT_UNWIND,
	OPT_MAX_NATIVE_FRAMES,
	OPT_ASYNC_AWARE,
};

static const struct option long_options[] = {
	SESSION_LONG_OPTIONS,
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, 'f' },
	{ "duration", required_argument, NULL, 'd' },
	{ "function", no_argument, NULL, 'F' },
	{ "nolineno", no_argument, NULL, OPT_NOLINENO },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "async-aware", no_argument, NULL, OPT_ASYNC_AWARE },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "pid-filter", required_argument, NULL, OPT_PID_FILTER },
	{ "native-all", no_argument, NULL, OPT_NATIVE_ALL },
	{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "max-native-frames", required_argument, NULL, OPT_MAX_NATIVE_FRAMES },
	{ "threads", no_argument, NULL, 't' },
	{ "full-filenames", no_argument, NULL, OPT_FULL_FILENAMES },
	{ "hideprogress", no_argument, NULL, OPT_HIDEPROGRESS },
	{ "capture", no_argument, NULL, OPT_CAPTURE },
	{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int add_format(const char *arg, struct record_options *o)
{
	enum output_format format;

	if (output_format_parse(arg, &format) != 0) {
		log_error("unknown format '%s' (expected " OUTPUT_FORMAT_NAMES ")", arg);
		return -1;
	}
	for (size_t i = 0; i < o->nformats; i++)
		if (o->formats[i] == format)
			return 0; /* -f pprof -f pprof: one file */
	o->formats[o->nformats++] = format;
	return 0;
}

static int parse_one(int c, const char *arg, void *ctx)
{
	struct record_options *o = ctx;
	unsigned long v;
	int shared = session_args_parse(&o->target, c, arg);
	if (shared != SESSION_ARGS_NOT_MINE)
		return shared;
	switch (c) {
	case 'o':
		if (!*arg) {
			log_error("-o needs a file name");
			return -1;
		}
		o->output = arg;
		return 0;
	case 'f':
		return add_format(arg, o);
	case 'd':
		if (!strcmp(arg, "unlimited")) {
			o->duration_s = 0;
			return 0;
		}
		if (cli_parse_seconds(arg, 0, 31 * 24 * 3600.0, &o->duration_s) != 0) {
			log_error("invalid duration '%s' (expected seconds > 0 or 'unlimited', e.g. -d 10 or -d 0.5)", arg);
			return -1;
		}
		return 0;
	case 'F':
		o->function_only = true;
		return 0;
	case OPT_NOLINENO:
		o->no_lineno = true;
		return 0;
	case OPT_ASYNC_AWARE:
		o->async_aware = true;
		return 0;
	case OPT_COMM:
		if (!*arg) {
			log_error("--comm needs a process name");
			return -1;
		}
		o->comm = arg;
		return 0;
	case OPT_PID_FILTER: {
		pid_t pids[RECORD_MAX_PIDS];
		size_t n = 0;
		if (cli_parse_pid_list(arg, pids, &n, RECORD_MAX_PIDS - o->npid_filter) != 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			o->pid_filter[o->npid_filter++] = (uint32_t)pids[i];
		return 0;
	}
	case OPT_NATIVE_ALL:
		o->target.native = o->native_all = true;
		return 0;
	case OPT_STACK_SIZE:
		if (cli_parse_uint(arg, 1024, BPFSPY_MAX_STACK_SNAPSHOT, &v) != 0) {
			log_error("invalid --stack-size '%s' (expected 1024 to %d bytes)", arg, BPFSPY_MAX_STACK_SNAPSHOT);
			return -1;
		}
		o->stack_size = (unsigned)v;
		return 0;
	case OPT_UNWIND:
		if (strcmp(arg, "kernel") && strcmp(arg, "snapshot") && strcmp(arg, "compare")) {
			log_error("invalid --unwind '%s' (expected kernel, snapshot or compare)", arg);
			return -1;
		}
		o->unwind_snapshot = strcmp(arg, "snapshot") == 0;
		o->unwind_compare = strcmp(arg, "compare") == 0;
		return 0;
	case OPT_MAX_NATIVE_FRAMES:
		if (cli_parse_uint(arg, 1, BPFSPY_MAX_NATIVE_FRAMES, &v) != 0) {
			log_error("invalid --max-native-frames '%s' (expected 1 to %d)", arg, BPFSPY_MAX_NATIVE_FRAMES);
			return -1;
		}
		o->max_native_frames = (unsigned)v;
		return 0;
	case OPT_KERNEL:
		o->kernel = true;
		return 0;
	case 't':
		o->threads = true;
		return 0;
	case OPT_HIDEPROGRESS:
		o->hide_progress = true;
		return 0;
	case OPT_FULL_FILENAMES:  /* record writes full paths already */
	case OPT_CAPTURE:         /* the command's output goes where bpfspy's goes */
		return 0;
	case OPT_MAX_DEPTH:
		if (cli_parse_uint(arg, 1, BPFSPY_MAX_PY_DEPTH, &v) != 0) {
			log_error("invalid --max-depth '%s' (expected 1 to %d)", arg, BPFSPY_MAX_PY_DEPTH);
			return -1;
		}
		o->max_depth = (unsigned)v;
		return 0;
	case OPT_BTF:
		o->btf_path = arg;
		return 0;
	case 'v':
		o->verbosity = 2;
		return 0;
	case 'q':
		o->verbosity = 0;
		return 0;
	default:
		return -1;
	}
}

static int validate(struct record_options *o)
{
	if (session_args_validate(&o->target, "record", "profile") != 0)
		return -1;
	if ((o->comm || o->npid_filter) && !o->target.all) {
		log_error("--comm and --pid-filter narrow -a; use -p PID to profile given processes");
		return -1;
	}
	if (o->function_only && o->no_lineno) {
		log_error("-F/--function and --nolineno cannot be combined");
		return -1;
	}
	return 0;
}

/*
 * Without -f the output's name decides, as py-spy users expect of -o out.svg;
 * a -f that contradicts the name gets a warning (the file is still written
 * in the format asked for).
 */
static void choose_format(struct record_options *o)
{
	enum output_format named;
	bool has_name = o->output && output_format_from_path(o->output, &named) == 0;

	if (!o->nformats)
		o->formats[o->nformats++] = has_name ? named : OUTPUT_SPEEDSCOPE;
	else if (has_name && o->nformats == 1 && !output_format_fits_path(o->formats[0], o->output))
		log_warn("writing %s format into %s, whose name says %s", output_format_name(o->formats[0]),
			 o->output, output_format_name(named));
	o->format = o->formats[0];
}

int record_options_parse(int argc, char **argv, struct record_options *o)
{
	memset(o, 0, sizeof(*o));
	o->format = OUTPUT_SPEEDSCOPE;
	session_args_defaults(&o->target);
	o->max_depth = BPFSPY_DEFAULT_PY_DEPTH;
	o->stack_size = BPFSPY_DEFAULT_STACK_SNAPSHOT;
	o->max_native_frames = BPFSPY_DEFAULT_NATIVE_FRAMES;
	o->verbosity = 1;

	int rc = session_args_getopt(argc, argv, "+" SESSION_SHORT_OPTIONS "o:f:d:Fvqht", long_options, "record",
				     record_usage, parse_one, o, &o->target);
	if (rc != 0)
		return rc;
	choose_format(o);
	return validate(o);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The format that keeps base unchanged: the one base's extension names (the
 * longest match: out.trace.json is chrometrace's, not speedscope's), else the first.
 */
static size_t format_owning_base(const struct record_options *o, const char *base)
{
	size_t owner = 0, best = 0;

	for (size_t i = 0; i < o->nformats; i++) {
		const char *ext = output_format_extension(o->formats[i]);

		if (strlen(ext) > best && has_suffix(base, ext)) {
			owner = i;
			best = strlen(ext);
		}
	}
	return owner;
}

int record_output_paths(const struct record_options *o, const char *base, char **paths)
{
	size_t owner = format_owning_base(o, base);

	for (size_t i = 0; i < o->nformats; i++) {
		paths[i] = i == owner ? strdup(base) : output_path_for_format(base, o->formats[i]);
		if (!paths[i]) {
			while (i-- > 0)
				free(paths[i]);
			return -1;
		}
	}
	return 0;
}
