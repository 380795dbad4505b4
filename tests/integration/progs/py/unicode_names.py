import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000


def функция(n):
    x = 0
    for i in range(n):
        x += i  # HOT-UCS2
    return x


def f_𠀀(n):
    x = 0
    for i in range(n):
        x += i  # HOT-UCS4
    return x


функция(N)
f_𠀀(N)
