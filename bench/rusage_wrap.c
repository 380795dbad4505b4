/* SPDX-License-Identifier: MIT */
/*
 * rusage_wrap OUT_FILE COMMAND [ARGS...]
 *
 * Runs COMMAND, waits for it, and writes the resources of the whole process
 * tree it started (RUSAGE_CHILDREN: every descendant that was waited for) and
 * its wall time to OUT_FILE as one JSON object. The benchmark puts this between
 * a profiler and the workload, so the workload's own CPU time and RSS can be
 * told apart from the profiler's even though the profiler is their parent.
 * It exits with COMMAND's status. Its own cost is a fork and a wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: rusage_wrap OUT_FILE COMMAND [ARGS...]\n");
		return 2;
	}
	double start = monotonic_seconds();
	pid_t pid = fork();
	if (pid < 0) {
		perror("rusage_wrap: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rusage_wrap: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("rusage_wrap: waitpid");
			return 2;
		}
	double wall = monotonic_seconds() - start;

	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	fprintf(out, "{\"wall_s\": %.6f, \"user_s\": %.6f, \"sys_s\": %.6f, \"maxrss_kb\": %ld}\n",
		wall, seconds(&ru.ru_utime), seconds(&ru.ru_stime), ru.ru_maxrss);
	fclose(out);

	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}
