/* SPDX-License-Identifier: MIT */
/*
 * The CPython interpreters the tests/unit/test_py_*.c tests run against.
 * Header-only (static) so only the tests that include it carry it.
 */
#ifndef BPFSPY_PY_TEST_SUPPORT_H
#define BPFSPY_PY_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct py_test_interp {
	const char *label;   /* for test names and skip messages */
	const char *path;    /* relative to EXTRAS for the extras builds */
	unsigned minor;
	bool required;       /* missing -> the test fails instead of skipping */
	bool in_extras;
};

static const struct py_test_interp py_test_interps[] = {
	{ "3.8 pyenv", "/root/.pyenv/versions/3.8.18/bin/python3.8", 8, false, false },
	{ "3.9 pyenv", "/root/.pyenv/versions/3.9.18/bin/python3.9", 9, false, false },
	{ "3.10 pyenv", "/root/.pyenv/versions/3.10.13/bin/python3.10", 10, false, false },
	{ "3.11 pyenv", "/root/.pyenv/versions/3.11.7/bin/python3.11", 11, false, false },
	{ "3.11 Debian", "/usr/bin/python3", 11, true, false },
	{ "3.12 pyenv", "/root/.pyenv/versions/3.12.1/bin/python3.12", 12, false, false },
	{ "3.13 pyenv", "/root/.pyenv/versions/3.13.0/bin/python3.13", 13, false, false },
	{ "3.14 extras", "/root/usr/bin/python3.14", 14, true, true },
	{ "3.15 extras", "/root/usr/bin/python3.15", 15, true, true },
};
#define PY_TEST_N_INTERPS (sizeof(py_test_interps) / sizeof(py_test_interps[0]))

/*
 * The interpreter's full path in buf, or NULL if it is missing (after
 * printing why; a required one is reported as a failure by the caller).
 */
static inline const char *py_test_interp_path(const struct py_test_interp *pi, char *buf, size_t len)
{
	const char *extras = getenv("EXTRAS");

	if (pi->in_extras)
		snprintf(buf, len, "%s%s", extras && *extras ? extras : "/opt/bpfspy-extras", pi->path);
	else
		snprintf(buf, len, "%s", pi->path);
	if (access(buf, X_OK) != 0) {
		printf("%s %s: %s not found\n", pi->required ? "MISSING (required)" : "SKIP", pi->label, buf);
		return NULL;
	}
	return buf;
}

/* PY_VERSION_HEX of a final 3.minor release, enough to pick a line-table format. */
static inline uint32_t py_test_version_hex(unsigned minor) { return 0x030000f0u | minor << 16; }

#endif
