"""Target for test_py_unicode: strings of every PyUnicode kind, live.

Prints one line per string: "S <address> <max code point> <UTF-8 as hex>",
then "ready" while the main thread sleeps in a function whose co_name (and
co_qualname on 3.11+) is the 4-byte-character name "f_𝔘". def can't spell
that name (identifiers are NFKC-normalised to "f_U"), so it is set on the code
object. Runs on Python 3.8 and later.
"""
import sys
import time

STRINGS = ["plain_ascii", "café", "функция", "f_𝔘", "mixed ж and 𝔘 and é"]


def park():
    time.sleep(3600)


names = {"co_name": "f_𝔘"}
if sys.version_info >= (3, 11):
    names["co_qualname"] = "f_𝔘"
park.__code__ = park.__code__.replace(**names)

for s in STRINGS + [park.__code__.co_name]:
    print("S %d %d %s" % (id(s), max(map(ord, s)), s.encode("utf-8").hex()))
print("ready", flush=True)
park()
