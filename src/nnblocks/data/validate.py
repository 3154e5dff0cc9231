"""What a data file's values must be before anything trains on them, with errors that point at the cells at fault.

Features must be finite numbers that fit in float32 (a NaN or inf reaches the loss in the first batch and stops
training with nothing to show for it). Every sample needs a label, and a label column holds either numbers or class
names, not both: a column of numbers with an ``NA`` in it is a regression column with a missing value, not three
classes. A classification column needs at least two classes.

Each check takes ``where``: a function from a sample index (and a column index) to the position a person can find
in the file - ``line 8, column 'b'`` for a CSV file, ``X[7, 1]`` for an ``.npz`` archive - and raises ``DataError``
naming the file, the first few positions, how many there are in all, and what to do.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from nnblocks.errors import DataError

SHOWN = 5  # positions named in a message; the rest are counted
Where = Callable[..., str]  # where(sample) or where(sample, column) -> "line 8, column 'b'"
MISSING_LABELS = ("", "nan", "+nan", "-nan")  # what a CSV cell holds for "no label" (compared lower-case)


def _listing(items: list[str], total: int) -> str:
    more = total - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def non_numeric_cells(path: str, cells: np.ndarray, where: Where) -> None:
    """``cells``: the feature columns as text (samples, columns); raise naming the cells that are not numbers."""
    first: list[tuple[int, int]] = []
    total = 0
    for j in range(cells.shape[1]):
        column = cells[:, j]
        try:
            column.astype(np.float64)
            continue
        except ValueError:
            pass
        bad = [i for i, cell in enumerate(column) if not is_number(cell)]  # a loop, but only on the error path
        total += len(bad)
        first += [(i, j) for i in bad[:SHOWN]]
    shown = [f"{cell_text(cells[i, j])} at {where(i, j)}" for i, j in sorted(first)[:SHOWN]]  # in file order
    if total:
        raise DataError(f"{path}: feature columns must hold numbers, found {total} cell(s) that do not: "
                        f"{_listing(shown, total)}; fix or remove those rows (or, if that text is the label, pick that "
                        "column as the label column)")


def cell_text(cell: str) -> str:
    """A cell as a message quotes it: ``'abc'``, shortened when long, or ``an empty cell``."""
    cell = str(cell)
    return "an empty cell" if not cell.strip() else repr(cell if len(cell) <= 20 else cell[:17] + "...")


def finite_features(path: str, features: np.ndarray, where: Where, shown_value: Callable[[int, int], str]) -> None:
    """Raise when ``features`` (float32, samples x columns) holds NaN or inf, naming rows and columns;
    ``shown_value(i, j)`` is how the file wrote the value (a value beyond float32's range turns into inf)."""
    bad = ~np.isfinite(features)
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    shown = [f"{shown_value(i, j)} at {where(i, j)}" for i, j in zip(rows[:SHOWN], cols[:SHOWN])]
    samples = np.unique(rows)
    raise DataError(f"{path}: features must be finite numbers (within float32's range, +-3.4e38), but "
                    f"{len(rows)} value(s) in {len(samples)} sample(s) are NaN or infinite: "
                    f"{_listing(shown, len(rows))}; remove those rows or fill in the values")


def labels_present(path: str, labels: np.ndarray, where: Where, column: str) -> None:
    """Text labels: every one present (not empty, not NaN) and all of one kind (every one a number, or none)."""
    lowered = np.char.lower(np.char.strip(labels.astype(str)))
    missing = np.flatnonzero(np.isin(lowered, MISSING_LABELS))
    if missing.size:
        raise DataError(f"{path}: {missing.size} of {len(labels)} samples have no label in {column} (an empty cell "
                        f"or NaN): {_listing([where(i) for i in missing[:SHOWN]], missing.size)}; remove those rows "
                        "or fill in their labels")
    numeric = np.array([is_number(text) for text in lowered], dtype=bool) if len(labels) else np.ones(0, bool)
    if numeric.any() and not numeric.all():
        odd = np.flatnonzero(~numeric) if (~numeric).sum() <= numeric.sum() else np.flatnonzero(numeric)
        kind = "text" if (~numeric).sum() <= numeric.sum() else "numbers"
        rest = "numbers" if kind == "text" else "class names"
        shown = [f"{cell_text(str(labels[i]))} at {where(i)}" for i in odd[:SHOWN]]
        raise DataError(f"{path}: the labels in {column} are {rest} except for {odd.size} {kind}: "
                        f"{_listing(shown, odd.size)}; a label column holds either numbers (regression targets or "
                        "class numbers) or class names: fix or remove those rows")
    if numeric.all() and len(labels):
        finite_labels(path, labels.astype(np.float64), where, column)


def finite_labels(path: str, values: np.ndarray, where: Where, column: str) -> None:
    """Numeric labels: none NaN, infinite, or beyond float32's range (where regression targets are kept)."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(values.astype(np.float64).reshape(len(values), -1)) <= np.finfo(np.float32).max
    bad = np.flatnonzero(~ok.all(axis=1))
    if bad.size:
        raise DataError(f"{path}: {bad.size} of {len(values)} labels in {column} are NaN or infinite (or beyond "
                        "float32's range, +-3.4e38): "
                        f"{_listing([where(i) for i in bad[:SHOWN]], bad.size)}; remove those rows or fill in their "
                        "labels")


def two_classes(name: str, classes: list[str], n: int, column: str = "the labels") -> None:
    """A classification data set with fewer than two classes cannot train a classifier."""
    if len(classes) < 2:
        only = f"the one class {classes[0]!r}" if classes else "no class at all"
        raise DataError(f"{name}: {column} hold {only} in all {n} samples; a classifier needs at least two classes "
                        "(is it the right label column?)")
