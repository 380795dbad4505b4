# 100k short sleeps: the worst case for off-CPU accounting (--idle), which
# records a stack at every context switch. Compare with and without --idle.
import sys
import time

N = int(float(sys.argv[1]) * 100_000) if len(sys.argv) > 1 else 100_000


def nap_loop(n):
    for _ in range(n):
        time.sleep(0.00001)


nap_loop(N)
