// SPDX-License-Identifier: MIT
#include "output/formats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct format_info {
	const char *name;
	const char *alias;
	const char *extension;
	int (*write)(const struct profile *, FILE *, const struct write_options *);
};

static const struct format_info FORMATS[OUTPUT_FORMAT_COUNT] = {
	[OUTPUT_SPEEDSCOPE] = { "speedscope", NULL, ".json", write_speedscope },
	[OUTPUT_COLLAPSED] = { "collapsed", "raw", ".txt", write_collapsed },
	[OUTPUT_FLAMEGRAPH] = { "flamegraph", "svg", ".svg", write_flamegraph },
	[OUTPUT_PPROF] = { "pprof", NULL, ".pb.gz", write_pprof },
	[OUTPUT_CHROMETRACE] = { "chrometrace", "trace", ".trace.json", write_chrometrace },
	[OUTPUT_GECKO] = { "gecko", "firefox", ".gecko.json", write_gecko },
};

static const struct format_info *info(enum output_format format)
{
	return (unsigned)format < OUTPUT_FORMAT_COUNT ? &FORMATS[format] : NULL;
}

int output_format_parse(const char *name, enum output_format *out)
{
	for (int i = 0; i < OUTPUT_FORMAT_COUNT; i++) {
		const struct format_info *f = &FORMATS[i];

		if (!strcasecmp(name, f->name) || (f->alias && !strcasecmp(name, f->alias))) {
			*out = (enum output_format)i;
			return 0;
		}
	}
	return -1;
}

const char *output_format_name(enum output_format format)
{
	return info(format) ? info(format)->name : "unknown";
}

const char *output_format_extension(enum output_format format)
{
	return info(format) ? info(format)->extension : "";
}

static bool has_json_extension(enum output_format format)
{
	const char *ext = output_format_extension(format);
	size_t n = strlen(ext);

	return n >= 5 && strcmp(ext + n - 5, ".json") == 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && strcmp(s + len - n, suffix) == 0;
}

/* Length of path without a known extension (the longest one that matches). */
static size_t stem_length(const char *path)
{
	size_t len = strlen(path), best = 0;

	for (int i = 0; i < OUTPUT_FORMAT_COUNT; i++) {
		size_t n = strlen(FORMATS[i].extension);

		if (n > best && ends_with(path, len, FORMATS[i].extension))
			best = n;
	}
	return len - best;
}

char *output_path_for_format(const char *path, enum output_format format)
{
	char *out = NULL;

	if (!info(format)) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&out, "%.*s%s", (int)stem_length(path), path, info(format)->extension) < 0)
		return NULL;
	return out;
}

bool output_format_fits_path(enum output_format format, const char *path)
{
	enum output_format named;

	if (output_format_from_path(path, &named) != 0)
		return false;
	/* py-spy writes chrometrace to any .json; so may we */
	return named == format || (named == OUTPUT_SPEEDSCOPE && has_json_extension(format));
}

int write_profile_format(const struct profile *p, enum output_format format, FILE *f,
			 const struct write_options *o)
{
	struct write_options defaults = { 0 };

	if (!info(format)) {
		errno = EINVAL;
		return -1;
	}
	return info(format)->write(p, f, o ? o : &defaults);
}

int output_format_from_path(const char *path, enum output_format *out)
{
	static const struct {
		const char *extension;
		enum output_format format;
	} known[] = {
		/* the longer JSON names first: each of them also ends in .json */
		{ ".trace.json", OUTPUT_CHROMETRACE }, { ".gecko.json", OUTPUT_GECKO },
		{ ".json", OUTPUT_SPEEDSCOPE }, { ".txt", OUTPUT_COLLAPSED },	  { ".folded", OUTPUT_COLLAPSED },
		{ ".collapsed", OUTPUT_COLLAPSED }, { ".svg", OUTPUT_FLAMEGRAPH }, { ".pb.gz", OUTPUT_PPROF },
		{ ".pb", OUTPUT_PPROF },	       { ".pprof", OUTPUT_PPROF },
	};
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].extension);
		if (len > n && !strcasecmp(path + len - n, known[i].extension)) {
			*out = known[i].format;
			return 0;
		}
	}
	return -1;
}
