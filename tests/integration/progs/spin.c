/* A non-Python busy loop. */
#include <stdint.h>

static volatile uint64_t sink;

__attribute__((noinline)) void native_busy_loop(void)
{
	for (;;)
		sink = sink * 6364136223846793005ull + 1;
}

int main(void)
{
	native_busy_loop();
	return 0;
}
