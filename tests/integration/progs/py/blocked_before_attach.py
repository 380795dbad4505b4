"""Blocks at once and stays blocked: the main thread in time.sleep, a second
thread on a lock (an Event never set). Prints "ready" once both wait.
With an argument, the main thread sleeps that many seconds at a time, forever."""
import sys
import threading
import time


def parked(event):
    event.wait()


def wait_here(seconds):
    time.sleep(seconds)


event = threading.Event()
threading.Thread(target=parked, args=(event,), name="parked", daemon=True).start()
print("ready", flush=True)
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
while True:
    wait_here(seconds)
