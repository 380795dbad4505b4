"""A threaded mix of CPU and sleep, with a fixed amount of work per thread:
py_spin   pure-Python loop (holds the GIL),
zlib_spin compresses 1 MiB buffers (zlib releases the GIL, so it runs on a second CPU),
nap       1 ms sleeps (off-CPU; an on-CPU profiler should see almost none of it).

usage: threads_mix.py [SCALE]   (SCALE 1.0 is about 2 s of wall time)
"""
import sys
import threading
import time
import zlib


def py_spin(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def zlib_spin(n):
    block = bytes(range(256)) * 4096
    for _ in range(n):
        zlib.compress(block, 6)


def nap(n):
    for _ in range(n):
        time.sleep(0.001)


def main(scale):
    threads = [
        threading.Thread(target=py_spin, args=(int(6_000_000 * scale),), name="py_spin"),
        threading.Thread(target=zlib_spin, args=(int(300 * scale),), name="zlib_spin"),
        threading.Thread(target=nap, args=(int(1_000 * scale),), name="nap"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
