"""The seed talk's numpy-heavy example: astropy's fast Lomb-Scargle periodogram
on a large random series (fixed seed, so every run does the same work).

usage: lombscargle.py [N]   (default 50000 points, about 2 s; the talk used 10**6)
"""
import sys

import numpy as np
from astropy.timeseries import LombScargle

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
rng = np.random.default_rng(seed=123)
t = rng.uniform(0, 100, size=n)
y = rng.poisson(np.sin(50 * t) + 2, size=n)
frequency, power = LombScargle(t, y).autopower(method="fast")
