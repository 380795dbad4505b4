"""The profilers the benchmark compares: how to launch each on a workload at a
rate, which targets each supports, and how to read its samples back.

Every parser returns the same shape: {"samples": N, "stacks": [(frames, count)]}
where frames are "function@file-basename" keys root first (None for a frame
that is not a Python function), plus whatever loss figures the tool reports.
"""
import os
import re
import subprocess

AUSTIN_VERSIONS = ((3, 8), (3, 13))  # Austin 3.7 reads CPython 3.8-3.13


def frame_key(function, path):
    """Methods are "Class.method" in some tools and "method" in others: keep the last part."""
    return f"{function.rsplit('.', 1)[-1]}@{os.path.basename(path)}"


class Profiler:
    name = "?"
    wraps_target = True  # can bench/rusage_wrap sit between it and the workload?
    watch = False  # poll its BPF programs and RSS while it runs?

    def unsupported(self, interp, workload):
        """None, or why this profiler cannot run this case."""
        return None

    def command(self, rate, target, out):
        raise NotImplementedError

    def parse(self, out, stderr):
        raise NotImplementedError


class Baseline(Profiler):
    name = "none"

    def command(self, rate, target, out):
        return target

    def parse(self, out, stderr):
        return {}


class Bpfspy(Profiler):
    """bpfspy record, writing collapsed stacks (the easiest to read back; the
    writers' own cost is figure 6)."""

    watch = True

    def __init__(self, binary, help_text, mode=""):
        self.binary = binary
        self.mode = mode  # "", "native" or "idle"
        self.name = "bpfspy" + (f" --{mode}" if mode else "")
        self.help_text = help_text

    def unsupported(self, interp, workload):
        if self.mode and f"--{self.mode}" not in self.help_text:
            return f"n/a: --{self.mode} not in this build"
        return None

    def command(self, rate, target, out):
        extra = [f"--{self.mode}"] if self.mode else []
        return [self.binary, "record", "-v", "-r", str(rate), "-f", "collapsed", "-o", out, *extra, "--", *target]

    def parse(self, out, stderr):
        result = {"stacks": read_bpfspy_collapsed(out)}
        m = re.search(r"bpfspy: (\d+) samples from .*?; (\d+) lost", stderr)
        if m:
            result["samples"], result["lost"] = int(m.group(1)), int(m.group(2))
        m = re.search(r"bpfspy: BPF: (\d+) samples taken", stderr)
        if m:
            result["taken"] = int(m.group(1))
        m = re.search(r"Python frames in ([\d.]+)% of samples taken while Python ran", stderr)
        if m:
            result["python_frames_pct"] = float(m.group(1))
        if "samples" not in result:
            result["samples"] = sum(c for _, c in result["stacks"])
        return result


PY_FRAME = re.compile(r"^(.*) \((.+):(\d+)\)$")


def read_bpfspy_collapsed(path):
    stacks = []
    with open(path, errors="replace") as f:
        for line in f:
            body, _, count = line.rstrip("\n").rpartition(" ")
            if not body or not count.isdigit():
                continue
            frames = []
            for text in body.split(";"):
                m = PY_FRAME.match(text)
                frames.append(frame_key(m.group(1), m.group(2)) if m else None)  # native: "name (module)"
            stacks.append((frames, int(count)))
    return stacks


def read_colon_frames(stack_text):
    """Austin and Tachyon frames: "file:function:line" (the file may hold colons)."""
    frames = []
    for text in stack_text.split(";"):
        parts = text.rsplit(":", 2)
        if len(parts) == 3 and parts[2].isdigit():
            frames.append(frame_key(parts[1], parts[0]))
        else:
            frames.append(None)  # P<pid>, T<tid>, tid:N prefixes and native markers
    return frames


class Austin(Profiler):
    """Austin 3.7 in CPU mode (-s drops idle samples), following children (-C).
    It must launch a Python process itself, so the wrapper cannot be used."""

    name = "austin"
    wraps_target = False

    def __init__(self, binary):
        self.binary = binary

    def unsupported(self, interp, workload):
        if not os.access(self.binary, os.X_OK):
            return "n/a: austin not installed (make deps)"
        lo, hi = AUSTIN_VERSIONS
        if not lo <= interp.version <= hi:
            return f"austin: no {interp.version[0]}.{interp.version[1]} support"
        if workload.kind == "shell":
            return "austin: launches Python commands only"
        return None

    def command(self, rate, target, out):
        return [self.binary, "-s", "-C", "-i", str(max(1, round(1e6 / rate))), "-o", out, *target]

    def parse(self, out, stderr):
        stacks = []
        with open(out, errors="replace") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                body, _, _metric = line.rstrip("\n").rpartition(" ")
                stacks.append((read_colon_frames(body), 1))  # one line per sample
        return {"samples": len(stacks), "stacks": stacks}


class Tachyon(Profiler):
    """CPython 3.15's profiling.sampling in CPU mode over all threads; it runs
    the script itself (as its own child), so the wrapper cannot be used."""

    name = "tachyon"
    wraps_target = False

    def __init__(self, python315):
        self.python = python315

    def unsupported(self, interp, workload):
        if not os.access(self.python, os.X_OK):
            return "n/a: python3.15 not installed (make deps)"
        if interp.version != (3, 15):
            return "tachyon: 3.15 targets only"
        if workload.kind == "shell":
            return "tachyon: runs Python scripts only"
        return None

    def command(self, rate, target, out):
        # target is [python, script-or--m, args...]; Tachyon takes the same after "run"
        return [self.python, "-m", "profiling.sampling", "run", "--collapsed", "--mode", "cpu", "-a",
                "-r", str(rate), "-o", out, *target[1:]]

    def parse(self, out, stderr):
        stacks = []
        with open(out, errors="replace") as f:
            for line in f:
                body, _, count = line.rstrip("\n").rpartition(" ")
                if body and count.isdigit():
                    stacks.append((read_colon_frames(body), int(count)))
        return {"samples": sum(c for _, c in stacks), "stacks": stacks}


class Perf(Profiler):
    """perf record with call graphs from DWARF (a stack copy per sample) or
    frame pointers (-g). It follows children and runs the wrapper fine, but
    sees the interpreter's C functions, not Python ones."""

    def __init__(self, call_graph="dwarf"):
        self.call_graph = call_graph
        self.name = "perf" if call_graph == "dwarf" else "perf -g"
        self.binary = "perf"
        try:
            subprocess.run(["perf", "--version"], capture_output=True, check=True)
            self.missing = None
        except (OSError, subprocess.CalledProcessError):
            self.missing = "n/a: perf not installed (linux-perf)"

    def unsupported(self, interp, workload):
        return self.missing

    def command(self, rate, target, out):
        graph = ["--call-graph", "dwarf"] if self.call_graph == "dwarf" else []
        return ["perf", "record", "-F", str(rate), "-g", *graph, "-o", out, "--", *target]

    def parse(self, out, stderr):
        m = re.search(r"\((\d+) samples\)", stderr)
        lost = re.search(r"Processed \d+ events and lost (\d+) chunks", stderr)
        return {"samples": int(m.group(1)) if m else 0, "stacks": None,
                "lost_chunks": int(lost.group(1)) if lost else 0}
