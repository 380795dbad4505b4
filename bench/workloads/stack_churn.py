"""CPU-bound Python whose stack changes at nearly every sample, for the top long run.

Forty functions, each about 0.3 ms of pure-Python work, are called in a
shuffled order under one of four callers: at 1 kHz consecutive samples
rarely share a stack, so a profile that kept every sample would grow by one
run per sample. Runs until killed.
"""
import random


# forty distinct code objects (a closure made in a loop would share one)
exec("".join(f"""
def leaf_{i:02d}():
    s = 0
    for k in range(300):
        s += k ^ {i}
    return s
""" for i in range(40)))
LEAVES = [globals()[f"leaf_{i:02d}"] for i in range(40)]


def via_a(f):
    return f()


def via_b(f):
    return f()


def via_c(f):
    return f()


def via_d(f):
    return f()


CALLERS = [via_a, via_b, via_c, via_d]


def main():
    rng = random.Random(1)
    while True:
        order = LEAVES[:]
        rng.shuffle(order)
        for f in order:
            CALLERS[rng.randrange(4)](f)


main()
