"""Imported by import_target.py: prints "ready" and sleeps at import time."""
import time

print("ready", flush=True)
time.sleep(3600)
