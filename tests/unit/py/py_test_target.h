/* SPDX-License-Identifier: MIT */
/* Starting a Python target script and waiting for its "ready" line (header-only, tests only). */
#ifndef BPFSPY_PY_TEST_TARGET_H
#define BPFSPY_PY_TEST_TARGET_H

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct py_test_target {
	pid_t pid;
	char output[4096];   /* what the target printed up to and including its ready line */
	const char *ready;   /* the line starting with "ready" inside output */
};

static inline const char *py_test_find_ready(const char *out)
{
	const char *p = strncmp(out, "ready", 5) == 0 ? out : strstr(out, "\nready");

	if (p && *p == '\n')
		p++;
	return p && strchr(p, '\n') ? p : NULL;
}

/* Runs `python script`, waits up to timeout_s for a "ready" line on stdout. Returns 0 or -1. */
static inline int py_test_target_start(struct py_test_target *t, const char *python, const char *script,
				       int timeout_s)
{
	int fds[2];
	size_t got = 0;
	time_t deadline = time(NULL) + timeout_s;

	memset(t, 0, sizeof(*t));
	if (pipe(fds) < 0)
		return -1;
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(python, python, script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got + 1 < sizeof(t->output) && time(NULL) < deadline) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 500) <= 0)
			continue;
		n = read(fds[0], t->output + got, sizeof(t->output) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		t->output[got] = '\0';
		t->ready = py_test_find_ready(t->output);
		if (t->ready)
			break;
	}
	close(fds[0]);
	return t->ready ? 0 : -1;
}

/* The line of the `# CALL name` marker in a target script, or -1. */
static inline int py_test_marker_line(const char *script, const char *name)
{
	char want[128], *line = NULL;
	size_t cap = 0;
	int n = 0, found = -1;
	FILE *f = fopen(script, "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "# CALL %s\n", name);
	while (getline(&line, &cap, f) > 0) {
		n++;
		if (strstr(line, want))
			found = n;
	}
	free(line);
	fclose(f);
	return found;
}

static inline void py_test_target_stop(struct py_test_target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	t->pid = 0;
}

#endif
