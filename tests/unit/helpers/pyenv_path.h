/* SPDX-License-Identifier: MIT */
/*
 * pyenv's interpreters by minor version, whatever their patch version: a
 * user with pyenv 3.12.4 runs the same tests as one with 3.12.1.
 */
#ifndef BPFSPY_TEST_PYENV_PATH_H
#define BPFSPY_TEST_PYENV_PATH_H

/*
 * "$PYENV_ROOT/versions/<minor>.<newest patch>/<rel>" (PYENV_ROOT defaults to
 * ~/.pyenv, then /root/.pyenv), or NULL when no such version is installed.
 * minor is "3.12"; rel e.g. "bin/python3.12". The string lives until exit.
 */
const char *pyenv_find(const char *minor, const char *rel);

#endif
