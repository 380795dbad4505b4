# Two threads, each spinning in its own function.
import sys
import threading

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000


def spin_worker(n):
    x = 0
    for i in range(n):
        x += i  # HOT-WORKER
    return x


def spin_main(n):
    x = 0
    for i in range(n):
        x += i  # HOT-MAIN
    return x


t = threading.Thread(target=spin_worker, args=(N,), name="worker")
t.start()
spin_main(N)
t.join()
