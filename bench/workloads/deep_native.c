// SPDX-License-Identifier: MIT
/*
 * make bench's unwinding workload: a C program built without frame pointers
 * that recurses DEPTH levels and spins there, so every sample has a native
 * stack of DEPTH + 4 frames (_start, __libc_start_call_main, main ... spin).
 * Fixed work, not fixed time: argv[2] iterations of the spin loop.
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static double spin(long n)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x += (double)i * 0.5;
	return x;
}

__attribute__((noinline)) static double recurse(int depth, long n)
{
	if (depth <= 1)
		return spin(n);
	double r = recurse(depth - 1, n);
	__asm__ volatile("" ::: "memory"); /* not a tail call: each level keeps its frame */
	return r + 1;
}

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 20;
	long n = argc > 2 ? atol(argv[2]) : 1000000000L;
	printf("%f\n", recurse(depth, n));
	return 0;
}
