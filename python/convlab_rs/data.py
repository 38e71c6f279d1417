"""Data sets as NumPy arrays."""

from . import _native


def load(source="digits", data_dir=None, test_fraction=0.2, seed=0):
    """X, y, X_test, y_test of any convlab data source: "digits", "fashion-mnist(n=1000)",
    "pattern1d", "sim1d", "lines", "npz:FILE", "images:DIR", ... (see `convlab train --help`).

    X is float32 (N, C, H, W) or (N, C, L); y int64 classes (N,) or float32 targets (N, width).
    Sources without a test set of their own are split with test_fraction and seed.
    """
    return _native.load_data(source, None if data_dir is None else str(data_dir), float(test_fraction), int(seed))
