"""The 8x8 handwritten digits, shipped inside the package: a real image set that needs no download and no sklearn.

``digits.npz`` beside this file holds the 1,797 images and labels that scikit-learn's ``load_digits()`` returns,
written once from it as ``images`` uint8 ``(1797, 64)`` (pixel values 0..16) and ``labels`` uint8 ``(1797,)``, with
``np.savez_compressed`` (about 45 kB). It is read with ``allow_pickle=False``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnblocks.errors import DataError, InvalidValueError

DIGITS_PATH = Path(__file__).with_name("digits.npz")


def digits(scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The optical-recognition handwritten digits: ``(X, y)`` with X float32 ``(1797, 64)`` and y int64 ``(1797,)``.

    Each row of X is an 8x8 image, row by row (``X[i].reshape(8, 8)`` shows it); each pixel counts the "on" pixels
    of a 4x4 block of the original 32x32 bitmap, so values are integers 0..16. y is the digit, 0..9, with
    about 180 images of each (178 zeros). ``scale`` divides X, e.g. ``digits(scale=16)`` puts pixels in [0, 1];
    the default leaves the raw 0..16 counts.

    Source: the test part of "Optical Recognition of Handwritten Digits" (E. Alpaydin and C. Kaynak, 1998), UCI
    Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed under Creative Commons Attribution 4.0
    (CC BY 4.0); the same 1,797 samples, in the same order, as ``sklearn.datasets.load_digits()``.
    """
    try:
        with np.load(DIGITS_PATH, allow_pickle=False) as archive:
            images, labels = archive["images"], archive["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"digits: cannot read the embedded data file {DIGITS_PATH}: {exc}; reinstall nnblocks") from exc
    X = images.astype(np.float32)
    if scale is not None:
        if not scale > 0:
            raise InvalidValueError(f"digits: scale must be a positive number, got {scale!r}")
        X /= np.float32(scale)
    return X, labels.astype(np.int64)
