/* SPDX-License-Identifier: MIT */
/* One-line diagnostics on stderr, prefixed "bpfspy: ". */
#ifndef BPFSPY_LOG_H
#define BPFSPY_LOG_H

#include <stdbool.h>

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void log_set_verbosity(int level); /* 0 quiet (errors only), 1 normal, 2 verbose */
int log_verbosity(void);

#endif
