// SPDX-License-Identifier: MIT
/*
 * soak_proc: the native short-lived processes of the soak churn.
 *
 *   soak_proc spin MS [THREADS]        spin MS ms on the main thread and THREADS more
 *   soak_proc sleep MS                 sleep MS ms (off-CPU only: seen through --idle)
 *   soak_proc exec MS PROG [ARG...]    spin MS ms, then exec PROG (same pid, new image)
 *   soak_proc dlopen MS LIB...         sleep MS ms, dlopen each LIB, _exit(0) at once
 *
 * dlopen exits right after the new executable mappings appear, so the
 * profiler sees an mmap(PROT_EXEC) of a process that is already gone when it
 * looks at /proc. Built with frame pointers so the stacks are easy to read.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* noinline: a named frame for the profile */
__attribute__((noinline)) static void spin_for(double ms)
{
	double end = now_ms() + ms;
	volatile unsigned long x = 0;
	while (now_ms() < end)
		for (int i = 0; i < 1000; i++)
			x += (unsigned long)i;
}

static void *spin_thread(void *arg)
{
	spin_for(*(double *)arg);
	return NULL;
}

static int do_spin(double ms, int threads)
{
	pthread_t tids[MAX_THREADS];
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, spin_thread, &ms) != 0)
			threads = i;
	spin_for(ms);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	return 0;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int usage(void)
{
	fprintf(stderr, "usage: soak_proc spin MS [THREADS] | sleep MS | exec MS PROG [ARG...] | dlopen MS LIB...\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *mode = argv[1];
	double ms = atof(argv[2]);

	if (strcmp(mode, "spin") == 0)
		return do_spin(ms, argc > 3 ? atoi(argv[3]) : 0);
	if (strcmp(mode, "sleep") == 0) {
		sleep_ms(ms);
		return 0;
	}
	if (strcmp(mode, "exec") == 0 && argc > 3) {
		spin_for(ms);
		execv(argv[3], argv + 3);
		perror("soak_proc: exec");
		return 127;
	}
	if (strcmp(mode, "dlopen") == 0 && argc > 3) {
		sleep_ms(ms);
		for (int i = 3; i < argc; i++)
			if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL))
				fprintf(stderr, "soak_proc: %s\n", dlerror());
		_exit(0); /* no atexit, no unmapping: gone while the new mappings are fresh */
	}
	return usage();
}
