/* SPDX-License-Identifier: MIT */
/*
 * Starts the profiled command so that its very first instruction is sampled:
 * the child is forked, waits until the sampler follows it, then (under sudo)
 * drops to the invoking user and calls execvp.
 */
#ifndef BPFSPY_LAUNCH_H
#define BPFSPY_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launched {
	pid_t pid;
	int go_fd;     /* write end: one byte releases the child */
	int status_fd; /* read end: carries errno if execvp failed (closed on exec success) */
};

/* Forks the child, stopped before exec. Returns 0 or -1 with an error in err. */
int launch_prepare(char *const argv[], struct launched *out, char *err, size_t errlen);
/* The file execvp() would run for cmd (searched in PATH unless it has a '/'); false if none. */
bool launch_resolve_path(const char *cmd, char *out, size_t len);
/* One sentence for a command launch_resolve_path() did not find: what was searched, and a hint. */
void launch_explain_not_found(const char *cmd, char *err, size_t errlen);
/* Lets the child exec; returns 0, or -1 with err set when execvp failed (e.g. command not found). */
int launch_release(struct launched *l, char *err, size_t errlen);
/* Kills and reaps a child that was never released. */
void launch_abort(struct launched *l);

/* Converts a wait status to a shell-style exit code (128+signal). */
int launch_exit_code(int wstatus);

#endif
