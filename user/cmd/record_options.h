/* SPDX-License-Identifier: MIT */
/* Command-line options shared by `record` (and later `top`): parsing and validation. */
#ifndef BPFSPY_RECORD_OPTIONS_H
#define BPFSPY_RECORD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile/profile.h"
#include "session/session_args.h"

#define RECORD_MAX_PIDS SESSION_MAX_PIDS

struct record_options {
	struct session_args target; /* -p/-a/COMMAND, -s, -r, -g, -n, -i */
	const char *output;     /* -o; NULL = derived name */
	enum output_format formats[OUTPUT_FORMAT_COUNT]; /* -f, in the order given, each once */
	size_t nformats;        /* >= 1 after parsing: speedscope when no -f */
	enum output_format format; /* formats[0] */
	double duration_s;      /* 0 = until the command exits / Ctrl-C */
	bool kernel;            /* --kernel */
	bool function_only;     /* -F */
	bool no_lineno;         /* --nolineno */
	bool async_aware;       /* --async-aware: asyncio tasks' coroutines in place of the event loop */
	const char *comm;       /* --comm: with -a, only processes whose name contains this */
	uint32_t pid_filter[RECORD_MAX_PIDS]; /* --pid-filter: with -a, only these processes */
	size_t npid_filter;
	bool native_all;        /* --native-all: keep interpreter plumbing frames */
	unsigned stack_size;    /* --stack-size: user stack bytes copied per sample (--unwind snapshot, and
				   the kernel unwinder's fallback for code it has no table for yet) */
	bool unwind_snapshot;   /* --unwind snapshot: copy the stack, unwind in user space */
	bool unwind_compare;    /* --unwind compare: kernel frames used, each checked against the snapshot */
	unsigned max_native_frames; /* --max-native-frames: the in-kernel unwinder's depth */
	unsigned max_depth;     /* --max-depth */
	const char *btf_path;   /* --btf */
	bool threads;           /* -t/--threads: thread ids in collapsed output, as py-spy */
	bool hide_progress;     /* --hideprogress: no status line */
	int verbosity;          /* -v / -q */
};

/*
 * Parses argv (argv[0] is the subcommand name). Returns 0 to run, 1 when
 * --help was printed, or -1 after printing one error line (exit code 2).
 */
int record_options_parse(int argc, char **argv, struct record_options *o);
void record_usage(FILE *f);

/*
 * The file each of o->formats goes to, given base (-o, or a default name):
 * the format whose extension base has gets base itself (else the first
 * format does), the others base with its extension replaced or added
 * (.json, .txt, .svg, .pb.gz). Fills paths[0..nformats) with malloc'ed
 * strings; returns 0, or -1 (ENOMEM) with nothing to free.
 */
int record_output_paths(const struct record_options *o, const char *base, char **paths);

#endif
