import numpy as np


def test_fft_roundtrip():
    x = np.linspace(0, 1, 64)
    assert np.allclose(np.fft.ifft(np.fft.fft(x)).real, x)


def test_sum():
    assert np.arange(10).sum() == 45
