"""CPU-bound pure-Python call tree whose time shares are known by design.

Four leaves run the same loop body, so each one's share of the tree's time is
its share of the iterations: leaf_a 40 %, leaf_b 30 %, leaf_c 20 %, leaf_d 10 %
(leaf_d sits under a 30-deep recursion, to check deep stacks too). The rounds
interleave the leaves, so a profiler that starts late or drops a stretch of
time still sees the same shares.

usage: calltree.py [SCALE]   (SCALE 1.0 is about 2 s of CPU on CPython 3.11)
"""
import sys

# The designed truth; bench/bench.py reads it from here.
SHARES = {"leaf_a": 0.40, "leaf_b": 0.30, "leaf_c": 0.20, "leaf_d": 0.10}
UNIT = 10_000  # iterations for a 10 % share in one round


def leaf_a(n):
    s = 0
    for i in range(n):
        s += i ^ (i >> 3)
    return s


def leaf_b(n):
    s = 0
    for i in range(n):
        s += i ^ (i >> 3)
    return s


def leaf_c(n):
    s = 0
    for i in range(n):
        s += i ^ (i >> 3)
    return s


def leaf_d(n):
    s = 0
    for i in range(n):
        s += i ^ (i >> 3)
    return s


def deep(depth, n):
    if depth == 0:
        return leaf_d(n)
    return deep(depth - 1, n)


def branch_x():
    return leaf_a(4 * UNIT) + leaf_b(3 * UNIT)


def branch_y():
    return leaf_c(2 * UNIT) + deep(30, UNIT)


def run_tree(rounds):
    total = 0
    for _ in range(rounds):
        total += branch_x() + branch_y()
    return total


if __name__ == "__main__":
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    run_tree(max(1, int(170 * scale)))
