/* Prints the reference script's tables: metrics, packages, sample stacks. */
#ifndef SPEEDSCOPE_REPORT_H
#define SPEEDSCOPE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "analysis.h"
#include "reader.h"

bool report_summary(FILE *out, const struct speedscope *ss, const struct analysis *a, bool by_weight);
bool report_sample_stacks(FILE *out, const struct speedscope *ss, const struct analysis *a,
			  const char *name_filter);

/* pathlib's PurePosixPath(path).name, malloc'd. */
char *path_basename(const char *path);

#endif
