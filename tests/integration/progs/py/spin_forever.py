import sys


def spin_forever():
    x = 0
    while True:
        x += 1


spin_forever()
