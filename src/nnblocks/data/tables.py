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

from nnblocks.data.files import load_error_text, npz_problem
from nnblocks.data.validate import cell_text, finite_features, finite_labels, is_number, labels_present
from nnblocks.data.validate import non_numeric_cells
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


def _is_header(rows: list[list[str]]) -> bool:
    """Row 0 is a header when some column holds text there but a number in row 1 (a text label column, wherever
    it is, has text in both); a lone row is a header only if none of its cells is a number."""
    if len(rows) == 1:
        return not any(is_number(c) for c in rows[0])
    return any(not is_number(a) and is_number(b) for a, b in zip(rows[0], rows[1]))


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


def _read_rows(path: str) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a CSV file and the 1-based line on which each ends (for messages)."""
    rows, lines = [], []
    try:
        # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first header name
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text, so not a CSV file nnblocks can read (binary data, or text in "
                        "another encoding: save it as 'CSV UTF-8')") from None
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: unreadable CSV ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return rows, lines


def _check_widths(path: str, rows: list[list[str]], lines: list[int]) -> int:
    widths = np.array([len(r) for r in rows])
    values, counts = np.unique(widths, return_counts=True)
    if len(values) > 1:
        usual = int(values[counts.argmax()])
        odd = [f"line {lines[i]} has {widths[i]}" for i in np.flatnonzero(widths != usual)[:5]]
        raise DataError(f"{path}: rows have different numbers of columns: {sorted(int(v) for v in values)} (most "
                        f"rows have {usual}; {', '.join(odd)}{' ...' if (widths != usual).sum() > 5 else ''})")
    width = int(values[0])
    if width < 2:
        sep = next((s for s in (";", "\t", "|") if s in rows[0][0]), None)
        hint = f"; its values look separated by {sep!r}, not commas" if sep else ""
        raise DataError(f"{path}: need at least one feature column and one label column, found {width} "
                        f"column(s){hint}")
    return width


def read_csv(path: str | os.PathLike, label_column: str | int | None = None) -> Table:
    """Features (float32) and labels (stripped strings) of a CSV file; a first row that is not numeric is a header.

    ``label_column``: a header name or a 0-based index (``"2"`` or ``2``); default: the last column. Blank lines
    are skipped. Raises ``DataError`` naming the file, and the lines and columns at fault, for: rows of different
    lengths, fewer than two columns, features that are not numbers or not finite (NaN, inf, beyond float32), and
    labels that are missing (empty, NaN) or mix numbers with text (``validate``).
    """
    path = os.fspath(path)
    rows, lines = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: the CSV file is empty")
    header: list[str] | None = None
    if _is_header(rows):
        header, rows, lines = [c.strip() for c in rows[0]], rows[1:], lines[1:]
    if not rows:
        raise DataError(f"{path}: the CSV file has a header row but no data")
    width = _check_widths(path, rows, lines)
    col = _label_index(path, label_column, header, width)
    columns = [j for j in range(width) if j != col]  # the file's column of each feature

    def name(j: int) -> str:
        return f"column {header[j]!r}" if header else f"column {j}"

    def where(i: int, k: int | None = None) -> str:
        return f"line {lines[i]}" + (f" ({name(columns[k])})" if k is not None else "")

    table = np.array(rows, dtype=str)
    labels = np.char.strip(table[:, col])
    labels_present(path, labels, where, f"the label {name(col)}")
    cells = table[:, columns]
    try:  # text -> float64 -> float32: each cell rounded once, as a float64 parser reads it
        values = cells.astype(np.float64)
    except ValueError:
        non_numeric_cells(path, cells, where)  # raises, naming the cells
        raise DataError(f"{path}: feature columns must hold numbers") from None
    with np.errstate(over="ignore"):  # beyond float32's range -> inf, reported by finite_features
        features = values.astype(np.float32)
    finite_features(path, features, where, lambda i, k: cell_text(cells[i, k]))
    names = [h for i, h in enumerate(header) if i != col] if header else []
    return Table(features, labels, names)


def read_npz(path: str | os.PathLike) -> Table:
    """An ``.npz`` archive with arrays ``X`` (samples, features...) and ``y`` (one entry per sample): X flattened to
    one row per sample as float32, y as stored. Raises ``DataError`` for a truncated or corrupt archive, missing
    arrays, X that is not numbers or not finite, and missing labels (NaN, empty text)."""
    path = os.fspath(path)
    try:
        problem = npz_problem(path)
        if problem is not None:
            raise DataError(f"{path}: cannot read the data file: {problem}")
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive.files or "y" not in archive.files:
                raise DataError(f"{path}: an .npz data file needs arrays 'X' and 'y'; it holds {archive.files}")
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError, RuntimeError) as exc:
        raise DataError(f"{path}: cannot read the .npz file: {load_error_text(exc)}") from exc
    for name, value in (("X", X), ("y", y)):
        if not isinstance(value, np.ndarray):  # NumPy hands back a member that is not a .npy array as raw bytes
            raise DataError(f"{path}: cannot read the .npz file: its {name!r} entry is not a NumPy array (.npy)")
    if X.ndim < 2 or y.ndim not in (1, 2) or len(X) != len(y) or len(X) == 0 or X[0].size == 0:
        raise DataError(f"{path}: X must be (samples, features...) and y have one entry per sample, with at least "
                        f"one sample and one feature; got X {X.shape}, y {y.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must hold numbers (bool, int or float), got dtype {X.dtype}")
    if y.dtype.kind not in "biufUS" or (y.dtype.kind in "US" and y.ndim != 1):
        raise DataError(f"{path}: y must hold numbers or (1-D) class names, got dtype {y.dtype} of shape {y.shape}")
    flat = X.reshape(len(X), -1)
    with np.errstate(over="ignore"):  # beyond float32's range -> inf, reported by finite_features
        features = flat.astype(np.float32)

    def where(i: int, j: int | None = None) -> str:
        return f"X[{', '.join(str(k) for k in (i, *np.unravel_index(j, X.shape[1:])))}]" if j is not None else f"y[{i}]"

    finite_features(path, features, where, lambda i, j: repr(float(flat[i, j])))
    if y.dtype.kind in "US":
        labels_present(path, y, where, "y")
    elif y.dtype.kind == "f":
        finite_labels(path, y, where, "y")
    return Table(features, y, [])
