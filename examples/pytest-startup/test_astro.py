import astropy.units as u
from astropy.timeseries import LombScargle  # the seed's example: imports scipy-free astropy stats


def test_units():
    assert (1 * u.km).to(u.m).value == 1000


def test_lombscargle_exists():
    assert LombScargle is not None
