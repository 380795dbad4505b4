"""Target for test_py_walk: two threads parked in known Python stacks.

main thread:   <module> -> a -> b -> c -> time.sleep
second thread: Thread.run -> Worker.x -> map() -> функция -> y -> time.sleep

`# CALL <name>` marks the line each function is parked on; the test reads
the markers, so editing this file keeps the expectations right. Prints
"ready <main ident> <main native id> <thread ident> <thread native id>" once
both threads are parked. Runs on Python 3.8 and later.
"""
import threading
import time

parked = threading.Event()
worker_ids = []


def y():
    worker_ids.append((threading.get_ident(), threading.get_native_id()))
    parked.set()
    time.sleep(3600)  # CALL y


def функция(item):
    y()  # CALL функция
    return item


class Worker:
    def x(self):
        return list(map(функция, [1]))  # CALL x


def c():
    parked.wait()
    print("ready", threading.get_ident(), threading.get_native_id(), *worker_ids[0], flush=True)
    time.sleep(3600)  # CALL c


def b():
    c()  # CALL b


def a():
    b()  # CALL a


threading.Thread(target=Worker().x, daemon=True).start()
a()  # CALL <module>
