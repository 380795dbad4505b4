/* The tool's model of a speedscope JSON document: its frames, and distinct
 * stacks with their sample counts and weights. Samples are pooled from every
 * profile, as the reference script does. Built on the document layer
 * (output/speedscope_doc.h) that bpfspy convert reads with: the big arrays
 * are walked in place, so memory stays near the file size plus the distinct
 * stacks. */
#ifndef SPEEDSCOPE_READER_H
#define SPEEDSCOPE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seq_table.h"

#define SS_NO_FILE UINT32_MAX

struct ss_frame {
	char *name;      /* "" when absent or not a string */
	char *file;      /* "" when absent or not a string */
	char *line_text; /* "name (file:line)", "name (file)" or "name" */
	uint32_t file_id;  /* index into files, SS_NO_FILE when file is "" */
	uint32_t line_id;  /* index into lines: frames printing alike share it */
};

struct speedscope {
	struct ss_frame *frames;
	size_t nframes;
	char **files;            /* distinct non-empty file paths */
	size_t nfiles;
	char **lines;            /* distinct line_text values */
	size_t nlines;
	struct seq_table stacks; /* distinct stacks of valid frame indices, root first */
	uint64_t *stack_samples; /* per stack id */
	double *stack_weight;    /* per stack id */
	size_t stack_stats_cap;
	uint64_t total_samples;
	double total_weight;
	size_t nprofiles;
	/* bpfspy files merge consecutive identical samples into one entry
	 * weighted n/rate: with the rate from their "bpfspy" block, an entry
	 * counts as the samples it stands for. 0 for other files. */
	double entry_rate_hz;
	/* Odd input the reference script skips silently; reported as warnings. */
	uint64_t skipped_indices;    /* sample elements that are not a frame index in range */
	uint64_t weights_mismatched; /* profiles whose weights and samples differ in length */
};

struct ss_read_options {
	/* Turn "evented" profiles (O/C events) into samples weighted by the time
	 * between events. The reference script ignores events (0 samples). */
	bool events_as_samples;
};

enum ss_status {
	SS_OK = 0,
	SS_ERR_IO,
	SS_ERR_JSON,      /* not JSON, or not a JSON object at the top */
	SS_ERR_NO_FRAMES, /* neither shared.frames nor profiles[0].frames */
	SS_ERR_NOMEM,
};

enum ss_status speedscope_read_file(const char *path, const struct ss_read_options *opts,
				    struct speedscope *out, char *err, size_t errlen);
enum ss_status speedscope_read_buffer(const char *buf, size_t len, const struct ss_read_options *opts,
				      struct speedscope *out, char *err, size_t errlen);
void speedscope_free(struct speedscope *ss);

#endif
