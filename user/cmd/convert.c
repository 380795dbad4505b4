// SPDX-License-Identifier: MIT
/* `bpfspy convert`: a speedscope file (as bpfspy writes it) into another output format. */
#include "cmd/convert.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "output/formats.h"
#include "output/output_file.h"
#include "output/speedscope_read.h"
#include "profile/profile.h"
#include "util/log.h"
#include "util/invoking_user.h"

struct convert_options {
	const char *input;
	const char *output; /* NULL: input with the format's extension; "-": stdout */
	enum output_format format;
	bool have_format;
};

static void convert_usage(FILE *f)
{
	fputs("Usage: bpfspy convert INPUT.json -f FORMAT [-o OUTPUT]\n"
	      "\n"
	      "Converts a speedscope file written by `bpfspy record` into another format,\n"
	      "with the same stacks, sample counts, threads and frame kinds.\n"
	      "\n"
	      "  -f, --format FORMAT   " OUTPUT_FORMAT_NAMES "\n"
	      "                        (default: the one -o's extension names)\n"
	      "  -o, --output FILE     where to write, - for stdout (default: INPUT with the\n"
	      "                        extension .json, .txt, .svg, .pb.gz, .trace.json or\n"
	      "                        .gecko.json)\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Examples:\n"
	      "  bpfspy convert out.json -f flamegraph          (writes out.svg)\n"
	      "  bpfspy convert out.json -f pprof -o cpu.pb.gz && go tool pprof -top cpu.pb.gz\n",
	      f);
}

static int parse_options(int argc, char **argv, struct convert_options *o)
{
	static const struct option long_options[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:o:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			convert_usage(stdout);
			return 1;
		case 'f':
			if (output_format_parse(optarg, &o->format) != 0) {
				log_error("unknown format '%s' (expected " OUTPUT_FORMAT_NAMES ")", optarg);
				return -1;
			}
			o->have_format = true;
			break;
		case 'o':
			if (!*optarg) {
				log_error("-o needs a file name");
				return -1;
			}
			o->output = optarg;
			break;
		default:
			if (optopt == 'f' || optopt == 'o')
				log_error("option -%c needs a value (see bpfspy convert --help)", optopt);
			else
				log_error("unknown option '%s' (see bpfspy convert --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		log_error(optind >= argc ? "convert needs an input file (see bpfspy convert --help)"
					 : "convert takes one input file (see bpfspy convert --help)");
		return -1;
	}
	o->input = argv[optind];
	if (!o->have_format && !(o->output && output_format_from_path(o->output, &o->format) == 0)) {
		log_error("give the output format with -f " OUTPUT_FORMAT_NAMES);
		return -1;
	}
	return 0;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int write_to_file(const struct profile *p, enum output_format format, const char *path)
{
	struct write_options wo = { 0 };
	char err[512];
	struct output_file *out = output_file_open(path, err, sizeof(err));

	if (!out) {
		log_error("%s", err);
		return -1;
	}
	if (write_profile_format(p, format, output_file_stream(out), &wo) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		output_file_abort(out);
		return -1;
	}
	if (output_file_commit(out, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_options o;
	/* convert needs no privileges: under sudo it reads and writes only as the invoking user */
	if (invoking_user_drop() != 0) {
		log_error("cannot drop to the invoking user: %s", strerror(errno));
		return 1;
	}
	int e = parse_options(argc, argv, &o);

	if (e != 0)
		return e > 0 ? 0 : 2;

	char *path = o.output ? strdup(o.output) : output_path_for_format(o.input, o.format);
	char err[512];
	int rc = 1;

	if (!path) {
		log_error("out of memory");
		return 1;
	}
	if (strcmp(path, "-") && (!strcmp(path, o.input) || same_file(path, o.input))) {
		log_error("%s is the input file; give another name with -o", path);
		free(path);
		return 2;
	}
	struct profile *p = profile_read_speedscope_file(o.input, err, sizeof(err));

	if (!p) {
		log_error("%s", err);
	} else if (write_to_file(p, o.format, path) == 0) {
		log_info("wrote %s (%s)", path, output_format_name(o.format));
		rc = 0;
	}
	profile_free(p);
	free(path);
	return rc;
}
