/* SPDX-License-Identifier: MIT */
/* Parsing option values shared by the subcommands (record, top, dump). */
#ifndef BPFSPY_CLI_VALUES_H
#define BPFSPY_CLI_VALUES_H

#include <stddef.h>
#include <sys/types.h>

/* A decimal in [min, max]; no sign, no trailing text. Returns 0 or -1. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Seconds as a decimal number in (min, max]. Returns 0 or -1. */
int cli_parse_seconds(const char *s, double min, double max, double *out);

/*
 * "PID[,PID...]" appended to pids[*npids..max). Prints one "bpfspy: ..." line
 * and returns -1 for a bad or missing PID or too many of them.
 */
int cli_parse_pid_list(const char *arg, pid_t *pids, size_t *npids, size_t max);

#endif
