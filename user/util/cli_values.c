// SPDX-License-Identifier: MIT
#include "util/cli_values.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>

#include "util/log.h"

#define PID_MAX_LIMIT 4194304 /* the kernel's ceiling for /proc/sys/kernel/pid_max */

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_pid_list(const char *arg, pid_t *pids, size_t *npids, size_t max)
{
	char *copy = strdup(arg), *save = NULL;
	size_t before = *npids;
	int rc = 0;
	if (!copy)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;
		char *end;
		errno = 0;
		/* decimal, or hex with 0x as py-spy accepts */
		bool hex = !strncasecmp(tok, "0x", 2);
		v = (*tok == '-' || *tok == '+') ? 0 : strtoul(hex ? tok + 2 : tok, &end, hex ? 16 : 10);
		if (*tok == '-' || *tok == '+' || errno || *end || end == (hex ? tok + 2 : tok) || v == 0) {
			log_error("invalid PID '%s' (expected a positive number, e.g. -p 1234,5678)", tok);
			rc = -1;
		} else if (v > PID_MAX_LIMIT) {
			log_error("no process with PID %s (PIDs on Linux are at most %d)", tok, PID_MAX_LIMIT);
			rc = -1;
		} else if (*npids == max) {
			log_error("too many PIDs (at most %zu)", max);
			rc = -1;
		} else {
			pids[(*npids)++] = (pid_t)v;
		}
	}
	free(copy);
	if (rc == 0 && *npids == before) {
		log_error("-p needs a PID");
		rc = -1;
	}
	return rc;
}
