"""Preparing arrays for training, as explicit steps: seeded train/validation/test splits and feature scaling.

Scaling is never hidden inside a loader or a dataset function: a script says ``scale_255(images)`` or fits a
``Standardizer`` on the training split and applies it to the others, so the learner sees every transformation and
no statistic leaks from validation or test data into training.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import DTypeError, InvalidValueError, ShapeError
from nnblocks.random import SeedLike, get_generator


def _check_pair(X: np.ndarray, y: np.ndarray, name: str) -> None:
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ShapeError(f"{name}: X and y must have the same number of samples (first dimension); "
                         f"got X {X.shape} and y {y.shape}")


def split_indices(n: int, fractions: tuple[float, ...], seed: SeedLike = None,
                  stratify: np.ndarray | None = None) -> list[np.ndarray]:
    """Shuffle ``range(n)`` and cut it into parts: part ``i`` gets ``round(fractions[i] * n)`` samples for each
    fraction given, and the first part (the training set) gets the rest.

    With ``stratify`` (labels of shape ``(n,)``), the cut is made within each class separately
    (``round(fraction * class count)`` per class), so every part keeps the class proportions; the parts are then
    shuffled. Each returned part is an int64 index array; together they cover ``range(n)`` exactly once.
    """
    fractions = tuple(float(f) for f in fractions)
    if any(not 0 < f < 1 for f in fractions) or sum(fractions) >= 1:
        raise InvalidValueError(f"split fractions must each lie in (0, 1) and sum to less than 1, got {fractions}")
    rng = get_generator(seed)
    if stratify is None:
        groups = [rng.permutation(n)]
    else:
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise ShapeError(f"stratify labels must have shape ({n},), got {labels.shape}")
        classes, inverse = np.unique(labels, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        # One shuffled index array per class (a loop over classes, not samples).
        groups = [rng.permutation(g) for g in np.split(order, np.cumsum(np.bincount(inverse))[:-1])]
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for group in groups:
        sizes = [int(round(f * len(group))) for f in fractions]
        cuts = np.cumsum([len(group) - sum(sizes)] + sizes)[:-1]
        for part, chunk in zip(parts, np.split(group, cuts)):
            part.append(chunk)
    out = [np.concatenate(p).astype(np.int64) for p in parts]
    if stratify is not None:
        out = [rng.permutation(p) for p in out]
    for i, p in enumerate(out):
        if len(p) == 0:
            raise InvalidValueError(f"split of {n} samples with fractions {fractions} leaves part {i} empty")
    return out


def train_val_split(X: Any, y: Any, val_fraction: float = 0.2, seed: SeedLike = None,
                    stratify: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(X, y)`` at random into training and validation sets: returns ``X_train, X_val, y_train, y_val``
    (scikit-learn's ``train_test_split`` order). ``round(val_fraction * n)`` samples go to validation
    (per class with ``stratify=True``). Arrays keep their dtypes; rows are copied in shuffled order.
    """
    X, y = np.asarray(X), np.asarray(y)
    _check_pair(X, y, "train_val_split")
    train, val = split_indices(len(y), (val_fraction,), seed, y if stratify else None)
    return X[train], X[val], y[train], y[val]


def train_val_test_split(X: Any, y: Any, val_fraction: float = 0.1, test_fraction: float = 0.1,
                         seed: SeedLike = None, stratify: bool = False) -> tuple[np.ndarray, ...]:
    """Three-way split: returns ``X_train, X_val, X_test, y_train, y_val, y_test`` (see ``train_val_split``)."""
    X, y = np.asarray(X), np.asarray(y)
    _check_pair(X, y, "train_val_test_split")
    train, val, test = split_indices(len(y), (val_fraction, test_fraction), seed, y if stratify else None)
    return X[train], X[val], X[test], y[train], y[val], y[test]


def scale_255(X: Any) -> np.ndarray:
    """8-bit pixels to [0, 1]: ``X / 255`` as float32 (the division done in float32, as ``x.float() / 255``)."""
    X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise DTypeError(f"scale_255 needs numeric pixels, got dtype {X.dtype}")
    return np.divide(X, np.float32(255), dtype=np.float32)


class Standardizer:
    """Per-feature standardization ``z = (x - mean) / std``, with mean and std fitted on the training data only.

    ``fit(X_train)`` stores ``mean`` and ``std`` (population std, ``ddof=0``) over axis 0, accumulated in float64
    and stored in X's float dtype (float32 for integer X). A feature that is constant in training (std < ``eps``)
    gets std 1, so it maps to 0 instead of dividing by zero (e.g. the always-blank corner pixels of digits).
    ``transform`` keeps the float dtype: float32 in, float32 out.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = float(eps)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, X: Any) -> "Standardizer":
        X = np.asarray(X)
        if X.ndim == 0 or X.shape[0] == 0:
            raise ShapeError(f"Standardizer.fit needs at least one sample, got shape {X.shape}")
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        std[std < self.eps] = 1.0
        self.mean, self.std = mean.astype(dtype), std.astype(dtype)
        return self

    def _check(self, X: np.ndarray, name: str) -> None:
        if self.mean is None:
            raise RuntimeError(f"Standardizer.{name} called before fit()")
        if X.shape[1:] != self.mean.shape:
            raise ShapeError(f"Standardizer.{name}: fitted on samples of shape {self.mean.shape}, "
                             f"got an array of shape {X.shape}")

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        self._check(X, "transform")
        return ((X - self.mean) / self.std).astype(self.mean.dtype, copy=False)  # type: ignore[union-attr]

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        Z = np.asarray(Z)
        self._check(Z, "inverse_transform")
        return (Z * self.std + self.mean).astype(self.mean.dtype, copy=False)  # type: ignore[operator]
