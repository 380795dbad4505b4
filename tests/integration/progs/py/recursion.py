import sys

DEPTH = int(sys.argv[1]) if len(sys.argv) > 1 else 300
N = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000_000
sys.setrecursionlimit(DEPTH + 1000)


def leaf(n):
    x = 0
    for i in range(n):
        x += i  # HOT-LEAF
    return x


def rec(depth):
    if depth == 0:
        return leaf(N)
    return rec(depth - 1)


rec(DEPTH)
