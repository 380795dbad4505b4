/* Per-package statistics over the distinct stacks of a speedscope file:
 * matched samples, top files, and example stacks, with the reference
 * script's semantics (see tools/README.md). */
#ifndef SPEEDSCOPE_ANALYSIS_H
#define SPEEDSCOPE_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

struct analysis_options {
	const char *const *packages; /* as given, duplicates included */
	size_t npackages;
	/* Match a stack to a package by the top-level package of its frames'
	 * files (auto_package_ids) instead of by substring. */
	const uint32_t *file_package; /* per file id, UINT32_MAX = none; NULL = substring mode */
	bool by_weight;
	bool sample_stacks;
	long max_examples;
	const char *name_filter; /* NULL or "" = no filter */
	const char *filter_uniq; /* NULL or "" = no grouping */
	bool most_frequent;
};

struct top_file {
	uint32_t file_id;
	double count;
};

struct stack_example {
	uint32_t stack_id; /* first stack met with this key: the one shown */
	uint32_t seen;     /* rank of first appearance, for stable ordering */
	double count;
};

struct package_stats {
	const char *name;
	size_t multiplicity;   /* how often the name was given */
	double matched;        /* samples (or weight) counted for it */
	struct top_file top[3];
	size_t ntop;
	double example_total;  /* denominator of "pct package" */
	struct stack_example *examples; /* sorted for display */
	size_t nexamples;
};

struct analysis {
	struct package_stats *packages; /* distinct names, first-given order */
	size_t npackages;
	size_t *row_package;            /* per given name: index into packages */
	size_t nrows;
	double total;                   /* samples (or weight) in the file */
};

/* Returns false on out of memory. */
bool analysis_run(const struct speedscope *ss, const struct analysis_options *opts, struct analysis *out);
void analysis_free(struct analysis *a);

/* Whether a frame is kept by --name-filter. */
bool analysis_frame_passes_filter(const struct ss_frame *frame, const char *name_filter);

#endif
