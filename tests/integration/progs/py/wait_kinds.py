"""One function per way of waiting, each ~0.3 s, for the --idle leaf markers."""
import os
import select
import threading
import time

WAIT = 0.3


def in_sleep():
    time.sleep(WAIT)


def in_select_timeout():
    select.select([], [], [], WAIT)  # no descriptors: a sleep


def in_poll():
    r, w = os.pipe()
    select.select([r], [], [], WAIT)
    os.close(r)
    os.close(w)


def in_futex():
    threading.Event().wait(WAIT)


def in_pipe_read():
    r, w = os.pipe()
    threading.Timer(WAIT, os.write, (w, b"x")).start()
    os.read(r, 1)
    os.close(r)
    os.close(w)


def in_child_wait():
    pid = os.fork()
    if pid == 0:
        time.sleep(WAIT)
        os._exit(0)
    os.waitpid(pid, 0)


for f in (in_sleep, in_select_timeout, in_poll, in_futex, in_pipe_read, in_child_wait):
    f()
