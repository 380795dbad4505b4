# SPDX-License-Identifier: MIT
"""Four CPU-bound tests for a pytest-xdist timeline (see README, Timelines)."""
import importlib, time

def spin(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass

def test_import_json():
    importlib.import_module("json")
    spin(0.6)

def test_parse():
    spin(0.8)

def test_numbers():
    spin(0.5)

def test_strings():
    spin(0.7)
