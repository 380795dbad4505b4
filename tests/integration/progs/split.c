/* Spends its CPU time 75/25 between two known functions, with frame pointers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static volatile uint64_t sink;

/* The loop sits in each hot function itself, so the sampled IP is in it. */
#define SPIN(n)                                                                   \
	do {                                                                      \
		uint64_t x = sink;                                                \
		for (uint64_t i = 0; i < (n); i++)                                \
			x = x * 6364136223846793005ull + 1442695040888963407ull; \
		sink = x;                                                         \
	} while (0)

__attribute__((noinline)) void hot_a(uint64_t n) { SPIN(3 * n); }
__attribute__((noinline)) void hot_b(uint64_t n) { SPIN(n); }

int main(int argc, char **argv)
{
	/* rounds of 4 units: 3 in hot_a, 1 in hot_b */
	long rounds = argc > 1 ? atol(argv[1]) : 400;
	for (long r = 0; r < rounds; r++) {
		hot_a(1000000);
		hot_b(1000000);
	}
	printf("%llu\n", (unsigned long long)(sink & 1));
	return 0;
}
