"""What a label column means: classes to tell apart (classification) or numbers to predict (regression).

The same rule serves every source, so a CSV file, an ``.npz`` file and a toy set with the same labels are the same
task: text labels are classes (named, in sorted order); integers are classes; whole-number floats with at most
``MAX_CLASSES`` distinct values, two samples per value on average, are classes too (labels saved as 0.0 / 1.0); any
other floats are regression targets (a CSV file's numbers are read as floats).
NaN or infinite labels are refused (a file reader names their rows first: ``nnblocks.data.validate``).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nnblocks.errors import InvalidValueError

# Above this many distinct whole-number values, a float column reads as a quantity (counts, ages, prices), not as
# class codes; 100 covers every class-labelled set in the book (at most 10 classes) with a wide margin.
MAX_CLASSES = 100
# From this many samples on, whole-number floats with fewer than two samples per distinct value on average are a
# quantity too: 100 distinct prices in 100 rows are not 100 classes (a stratified split could not even be made).
# Below it (the chapter's 3-to-4-sample examples) the count says nothing.
MIN_SAMPLES_FOR_RATIO = 20


def _class_codes(y: np.ndarray) -> bool:
    """Whether whole-number floats read as class codes (see ``MAX_CLASSES``, ``MIN_SAMPLES_FOR_RATIO``)."""
    if not (np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        return False
    distinct = len(np.unique(y))
    return distinct <= MAX_CLASSES and (len(y) < MIN_SAMPLES_FOR_RATIO or 2 * distinct <= len(y))


class Targets(NamedTuple):
    """``y``: int64 class indices ``(n,)`` or float32 regression targets ``(n, outputs)``; ``task``:
    ``"classification"`` or ``"regression"``; ``classes``: the class names when the labels were not already the
    indices 0..K-1 (else None)."""

    y: np.ndarray
    task: str
    classes: list[str] | None


def labels_to_task(labels: Any) -> Targets:
    """Class indices 0..K-1 and class names for categorical labels, else float32 targets for regression.

    ``["no", "yes", "no"]`` -> ``[0, 1, 0]`` with classes ``["no", "yes"]``; ``[3, 7, 3]`` -> ``[0, 1, 0]`` with
    classes ``["3", "7"]``; ``[0, 2, 1]`` stays as it is (no names); ``[0.5, 1.25]`` -> ``[[0.5], [1.25]]``.
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "biufUS":
        raise InvalidValueError(f"labels must be numbers or class names, got dtype {y.dtype}")
    if y.dtype.kind in "US":
        try:
            y = y.astype(np.float64)
        except ValueError:
            names, idx = np.unique(y, return_inverse=True)
            return Targets(idx.astype(np.int64), "classification", [str(n) for n in names])
    if y.ndim == 1 and (y.dtype.kind in "iub" or (y.dtype.kind == "f" and _class_codes(y))):
        values, idx = np.unique(y, return_inverse=True)
        if values.dtype.kind in "iu" and values[0] == 0 and values[-1] == len(values) - 1:
            return Targets(y.astype(np.int64), "classification", None)
        return Targets(idx.astype(np.int64), "classification", [str(v.item()) for v in values])
    missing = np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1)) if y.ndim else np.zeros(0, int)
    if missing.size:  # a NaN would turn a class column into regression, and every loss into NaN
        raise InvalidValueError(f"labels must be finite: {missing.size} of {len(y)} are NaN or infinite (at "
                                f"{', '.join(str(i) for i in missing[:5])}{' ...' if missing.size > 5 else ''})")
    y = y.astype(np.float32)
    return Targets(y.reshape(-1, 1) if y.ndim == 1 else y, "regression", None)
