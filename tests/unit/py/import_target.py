"""Target for test_py_detect: parks the main thread inside an import, so the
stack runs through the frozen importlib (<frozen importlib._bootstrap>).
Runs on Python 3.7 and later (3.7 only to be refused as unsupported)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parked_module  # noqa: E402,F401
