// SPDX-License-Identifier: MIT
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static int verbosity = 1;

void log_set_verbosity(int level) { verbosity = level; }
int log_verbosity(void) { return verbosity; }

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "bpfspy: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_LOG(fn, min_level, prefix)       \
	void fn(const char *fmt, ...)           \
	{                                       \
		if (verbosity < (min_level))    \
			return;                 \
		va_list ap;                     \
		va_start(ap, fmt);              \
		vlog(prefix, fmt, ap);          \
		va_end(ap);                     \
	}

DEFINE_LOG(log_error, 0, "")
DEFINE_LOG(log_warn, 1, "warning: ")
DEFINE_LOG(log_info, 1, "")
DEFINE_LOG(log_debug, 2, "debug: ")
