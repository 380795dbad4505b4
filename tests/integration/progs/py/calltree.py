# main -> a: 60 % of the work; main -> b -> c: 40 %. Work is counted in loop
# iterations, not seconds, so the split holds on a throttled CPU.
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000


class Worker:
    def a(self, n):
        x = 0
        for i in range(n):
            x += i  # HOT-A
        return x

    def c(self, n):
        x = 0
        for i in range(n):
            x += i  # HOT-C
        return x

    def b(self, n):
        return self.c(n)  # CALL-C


def main():
    w = Worker()
    for _ in range(10):
        w.a(3 * N // 10)  # CALL-A
        w.b(2 * N // 10)  # CALL-B


main()
