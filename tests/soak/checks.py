"""The soak's checks on what bpfspy printed and wrote, and on the churn log."""
import json
import re
from collections import Counter, defaultdict

SUMMARY_RE = re.compile(r"bpfspy: (\d+) samples from (\d+) process(?:es)? \((\d+) threads\) in ([\d.]+)s; "
                        r"(\d+) lost \(([\d.]+)%\)")
BPF_RE = re.compile(r"bpfspy: BPF: (\d+) samples taken.*?(\d+) code objects captured \((\d+) lost.*?"
                    r"(\d+) process events lost")
PROFILE_NAME_RE = re.compile(r"^(.*) \(pid (\d+)\)")


def parse_summary(stderr_text):
    """The figures of bpfspy's summary line (None if it is missing) and of its -v BPF line."""
    m = SUMMARY_RE.search(stderr_text)
    out = None
    if m:
        out = {"samples": int(m[1]), "processes": int(m[2]), "threads": int(m[3]), "seconds": float(m[4]),
               "lost": int(m[5]), "lost_pct_printed": float(m[6])}
    b = BPF_RE.search(stderr_text)
    if out is not None and b:
        out.update(bpf_samples=int(b[1]), code_captured=int(b[2]), code_lost=int(b[3]),
                   process_events_lost=int(b[4]))
    return out


def read_churn_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def profiled_processes(speedscope_doc):
    """pid -> {"comms": set of process names, "weight": total weight} from the profile names."""
    out = defaultdict(lambda: {"comms": set(), "weight": 0, "threads": 0})
    for prof in speedscope_doc["profiles"]:
        m = PROFILE_NAME_RE.match(prof["name"])
        if not m:
            continue
        entry = out[int(m[2])]
        entry["comms"].add(m[1])
        entry["weight"] += sum(prof["weights"])
        entry["threads"] += 1
    if speedscope_doc["profiles"]:
        unit = speedscope_doc["profiles"][0].get("unit")
        for entry in out.values():
            entry["unit"] = unit
    return out


def match_processes(records, profiled, min_lifetime_ms):
    """Split the logged processes that lived >= min_lifetime_ms into found and missed.

    A process is found when a profile with its pid, one of its possible names
    and some weight exists. A pid the churn itself used twice is ambiguous:
    counted found if present, and listed in "reused".
    """
    pid_uses = Counter(r["pid"] for r in records)
    found, missed, reused = [], [], []
    for r in records:
        if r["lifetime_ms"] < min_lifetime_ms:
            continue
        p = profiled.get(r["pid"])
        if pid_uses[r["pid"]] > 1:
            reused.append(r)
        if p and p["weight"] > 0 and p["comms"] & set(r["comms"]):
            found.append(r)
        else:
            r = dict(r, seen_as=sorted(p["comms"]) if p else [], seen_weight=p["weight"] if p else 0)
            missed.append(r)
    return found, missed, reused


def short_lived_seen(records, profiled, min_lifetime_ms):
    """(seen, total) among processes shorter than min_lifetime_ms: informational only."""
    short = [r for r in records if r["lifetime_ms"] < min_lifetime_ms]
    seen = sum(1 for r in short if r["pid"] in profiled and profiled[r["pid"]]["comms"] & set(r["comms"]))
    return seen, len(short)


def longer_than_lived(records, profiled, slack_ms=5.0):
    """(record, recorded ms, bound ms) for processes with more wall time than they lived.

    With --idle each thread's on- and off-CPU time is at most its lifetime, so
    a process's total is at most threads x lifetime. Only for nanosecond
    profiles; slack_ms covers spawn and reap latency. Worst first.
    """
    out = []
    for r in records:
        p = profiled.get(r["pid"])
        if not p or p.get("unit") != "nanoseconds" or not p["comms"] & set(r["comms"]):
            continue
        weight_ms = p["weight"] / 1e6
        bound_ms = p["threads"] * (r["lifetime_ms"] + slack_ms)
        if weight_ms > bound_ms:
            out.append((r, weight_ms, bound_ms))
    return sorted(out, key=lambda x: x[1] / x[2], reverse=True)
