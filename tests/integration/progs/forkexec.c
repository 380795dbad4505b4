/* Forks; the child execs another program (argv[1..]); both spin for a while. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile uint64_t sink;

__attribute__((noinline)) static void parent_work(void)
{
	uint64_t x = sink;
	for (uint64_t i = 0; i < 400000000ull; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: forkexec PROGRAM [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[1], argv + 1);
		perror("execv");
		_exit(127);
	}
	parent_work();
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
