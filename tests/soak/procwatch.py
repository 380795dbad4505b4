"""Watch one process from /proc once a second: resident memory, open fds, CPU time."""
import os
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ProcessLookupError(pid)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class ProcWatch(threading.Thread):
    """Samples (monotonic time, VmRSS KB, fds, CPU s) every interval until stop() or the process ends."""

    def __init__(self, pid, interval=1.0):
        super().__init__(name="procwatch", daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                self.samples.append((time.monotonic(), vm_rss_kb(self.pid), fd_count(self.pid),
                                     cpu_seconds(self.pid)))
            except (OSError, ProcessLookupError, ValueError):
                return  # gone (or a zombie): the caller sees why from its exit status
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()


def slope_per_minute(points):
    """Least-squares slope of (seconds, value) points, in value per minute; None if under 2 points."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return None
    sxy = sum((t - mx) * (v - my) for t, v in points)
    return sxy / sxx * 60.0
