# Workers started with fork and with spawn; each spins in worker_fn.
import multiprocessing as mp
import sys


def worker_fn(n):
    x = 0
    for i in range(n):
        x += i
    return x


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_500_000
    for method in ("fork", "spawn"):
        ctx = mp.get_context(method)
        ps = [ctx.Process(target=worker_fn, args=(n,)) for _ in range(2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
