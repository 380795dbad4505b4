/* SPDX-License-Identifier: MIT */
/*
 * The CPython interpreters the tests/unit/test_py_*.c tests run against
 * (tests/interpreters.tsv).
 * Header-only (static) so only the tests that include it carry it.
 */
#ifndef BPFSPY_PY_TEST_SUPPORT_H
#define BPFSPY_PY_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers/pyenv_path.h"

enum py_test_source {
	PY_FROM_PATH,   /* path is absolute */
	PY_FROM_PYENV,  /* path is relative to pyenv's newest 3.minor (any patch version) */
	PY_FROM_EXTRAS, /* path is relative to EXTRAS (make deps' Debian unstable builds) */
};

struct py_test_interp {
	const char *label;   /* for test names and skip messages */
	const char *path;
	unsigned minor;
	bool required;       /* missing -> the test fails instead of skipping */
	enum py_test_source source;
};

/* tests/interpreters.tsv, the one list of interpreters for the C and the Python tests */
static const struct py_test_interp py_test_interps[] = {
#include "tests/py_test_interps.h"
};

/* pyenv's newest 3.minor: file rel under it ("lib/libpython3.12.so.1.0"), or NULL. */
static inline const char *py_test_pyenv_file(unsigned minor, const char *rel)
{
	char version[16];

	snprintf(version, sizeof(version), "3.%u", minor);
	return pyenv_find(version, rel);
}
#define PY_TEST_N_INTERPS (sizeof(py_test_interps) / sizeof(py_test_interps[0]))

/*
 * The interpreter's full path in buf, or NULL if it is missing (after
 * printing why; a required one is reported as a failure by the caller).
 */
static inline const char *py_test_interp_path(const struct py_test_interp *pi, char *buf, size_t len)
{
	const char *extras = getenv("EXTRAS");
	const char *pyenv = pi->source == PY_FROM_PYENV ? py_test_pyenv_file(pi->minor, pi->path) : NULL;

	if (pi->source == PY_FROM_EXTRAS)
		snprintf(buf, len, "%s/%s", extras && *extras ? extras : "/opt/bpfspy-extras", pi->path);
	else if (pi->source == PY_FROM_PYENV)
		snprintf(buf, len, "%s", pyenv ? pyenv : "(pyenv: no such version)");
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
