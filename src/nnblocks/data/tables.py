"""Reading your own data file into arrays: a CSV table or an ``.npz`` archive holding ``X`` and ``y``.

A CSV file may or may not have a header row, and its labels may sit in any column (the last by default). The labels
come back as they were read (strings from a CSV); ``labels_to_task`` decides whether they are classes or targets.
Nothing here unpickles: ``.npz`` files are read with ``allow_pickle=False``.
"""
from __future__ import annotations

import csv
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from nnblocks.errors import DataError

DATA_FILE_SUFFIXES = (".csv", ".npz")


class Table(NamedTuple):
    """A data file's contents: float32 ``features`` (samples, features), the raw ``labels`` (one per sample) and
    the feature columns' names from the header row (``[]`` without one)."""

    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]


def is_data_file(name: str) -> bool:
    """True for a name that ``read_table`` reads (by its suffix: ``.csv`` or ``.npz``, any case)."""
    return name.lower().endswith(DATA_FILE_SUFFIXES)


def read_table(path: str | os.PathLike, label_column: str | int | None = None) -> Table:
    """``read_csv`` or ``read_npz``, by the file's suffix (``label_column`` applies to CSV files only)."""
    path = os.fspath(path)
    if path.lower().endswith(".csv"):
        return read_csv(path, label_column)
    if path.lower().endswith(".npz"):
        return read_npz(path)
    raise DataError(f"{path}: cannot read this file type; give a .csv or .npz file")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_header(rows: list[list[str]]) -> bool:
    """Row 0 is a header when some column holds text there but a number in row 1 (a text label column, wherever
    it is, has text in both); a lone row is a header only if none of its cells is a number."""
    if len(rows) == 1:
        return not any(_is_number(c) for c in rows[0])
    return any(not _is_number(a) and _is_number(b) for a, b in zip(rows[0], rows[1]))


def _label_index(path: str, label_column: str | int | None, header: list[str] | None, width: int) -> int:
    """The 0-based index of the label column: the last one, a header name, or an index (negative counts back)."""
    if label_column is None:
        return width - 1
    if header is not None and str(label_column) in header:
        return header.index(str(label_column))
    try:
        col = int(label_column)
    except ValueError:
        raise DataError(f"{path}: no column named {label_column!r}" +
                        (f"; columns: {header}" if header else " (the file has no header row)")) from None
    if not -width <= col < width:
        raise DataError(f"{path}: label column {col} out of range for {width} columns")
    return col % width


def read_csv(path: str | os.PathLike, label_column: str | int | None = None) -> Table:
    """Features (float32) and labels (stripped strings) of a CSV file; a first row that is not numeric is a header.

    ``label_column``: a header name or a 0-based index (``"2"`` or ``2``); default: the last column. Blank lines
    are skipped; rows of different lengths, non-numeric features and a file with fewer than two columns raise
    ``DataError`` naming the file.
    """
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r and any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path}: the CSV file is empty")
    header: list[str] | None = None
    if _is_header(rows):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path}: the CSV file has a header row but no data")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise DataError(f"{path}: rows have different numbers of columns: {sorted(widths)}")
    width = widths.pop()
    if width < 2:
        raise DataError(f"{path}: need at least one feature column and one label column, found {width} column(s)")
    col = _label_index(path, label_column, header, width)
    table = np.array(rows, dtype=str)
    labels = np.char.strip(table[:, col])
    try:  # text -> float64 -> float32: each cell rounded once, as a float64 parser reads it
        features = np.delete(table, col, axis=1).astype(np.float64).astype(np.float32)
    except ValueError as exc:
        raise DataError(f"{path}: feature columns must be numbers ({exc})") from None
    names = [h for i, h in enumerate(header) if i != col] if header else []
    return Table(features, labels, names)


def read_npz(path: str | os.PathLike) -> Table:
    """An ``.npz`` archive with arrays ``X`` (samples, features...) and ``y`` (one entry per sample): X flattened to
    one row per sample as float32, y as stored. A truncated or corrupt archive raises ``DataError``."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive.files or "y" not in archive.files:
                raise DataError(f"{path}: an .npz data file needs arrays 'X' and 'y'; it holds {archive.files}")
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the .npz file ({exc})") from exc
    if X.ndim < 2 or len(X) != len(y):
        raise DataError(f"{path}: X must be (samples, features...) and y have one entry per sample; got X {X.shape}, "
                        f"y {y.shape}")
    return Table(X.reshape(len(X), -1).astype(np.float32), y, [])
