# One CPU-bound thread and one sleeping thread; each prints its own wall time.
import threading
import time

DURATION = 1.5


def spin_cpu():
    t0 = time.monotonic()
    x = 0
    while time.monotonic() - t0 < DURATION:
        for i in range(2000):
            x += i  # HOT-CPU
    print("cpu-thread", time.monotonic() - t0, flush=True)


def sleepy():
    t0 = time.monotonic()
    while time.monotonic() - t0 < DURATION:
        time.sleep(0.05)  # SLEEP-LINE
    print("sleep-thread", time.monotonic() - t0, flush=True)


ts = [threading.Thread(target=spin_cpu, name="cpu"), threading.Thread(target=sleepy, name="sleeper")]
for t in ts:
    t.start()
for t in ts:
    t.join()
