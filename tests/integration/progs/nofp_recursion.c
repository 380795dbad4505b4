// SPDX-License-Identifier: MIT
/* A C program built without frame pointers: 30 levels of recursion over a spin
 * (the innermost call to spin is a tail call, so 30 recurse frames show). */
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
	if (depth == 0)
		return spin(n);
	double r = recurse(depth - 1, n);
	__asm__ volatile("" ::: "memory"); /* not a tail call */
	return r + 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 400000000L;
	printf("%f\n", recurse(30, n));
	return 0;
}
