"""Flag types shared by the sub-commands: argparse turns their ArgumentTypeError into
``argument --flag: expected a positive integer, got '0'`` and exit code 2, naming the flag at fault.

``output_dir`` / ``output_file`` check an output path when the flags are read, before any work: a file where a
folder should be, a folder that cannot be created or written (read-only, no permission) is refused at once instead
of at the first checkpoint after an epoch of work."""
from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, NoReturn


def int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def float_in(low: float, high: float, low_open: bool, high_open: bool, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low) and \
            (value < high if high_open else value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


class CommandError(Exception):
    """A command's error about input argparse cannot see (the contents of a file a flag names, a folder that cannot
    be written): ``nnblocks.cli.main`` prints ``<prog>: error: <message>`` as one line and exits with ``code``
    (2: bad input, 1: the run failed). Argparse's own errors also print the usage."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command with a one-line error (``CommandError``)."""
    raise CommandError(message, code)


def plain(text: str) -> str:
    """A docstring's text for ``--help``: without the RST double backticks around code."""
    return text.replace("``", "")


class DefaultsFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to a flag's help, unless the help already speaks of its default or there is none
    (None, False); a list shows as its items (``--hidden 128``, not ``[128]``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default is argparse.SUPPRESS \
                or not action.option_strings:
            return text
        shown = " ".join(str(v) for v in default) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {(shown or 'none').replace('%', '%%')})".strip()


positive_int = int_at_least(1, "a positive integer")
nonneg_int = int_at_least(0, "an integer >= 0")
positive_float = float_in(0.0, math.inf, True, True, "a positive number")
nonneg_float = float_in(0.0, math.inf, False, True, "a number >= 0")
fraction = float_in(0.0, 1.0, True, True, "a fraction strictly between 0 and 1")
probability = float_in(0.0, 1.0, False, True, "a probability in [0, 1)")


def dataset(text: str) -> str:
    """A data set name (``digits``, ``mnist``, a toy set...) or the path of an existing .csv / .npz file."""
    from nnblocks.data import dataset_names, is_data_file

    if text in dataset_names():
        return text
    if is_data_file(text):
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a .csv or .npz file")
        if not os.path.isfile(text):
            raise argparse.ArgumentTypeError(f"no such file: {text!r}")
        return text
    raise argparse.ArgumentTypeError(f"unknown dataset {text!r}; choose from {', '.join(dataset_names())}, "
                                     "or give the path of a .csv or .npz file")


# ---- output paths: checked before any work, so a bad --out fails at once, not at the first checkpoint ----------------
def _probe(folder: Path) -> str | None:
    """Create and remove a file in ``folder``: the one test that answers for permissions, read-only file systems
    and root alike (``os.access`` says yes to root on a read-only folder)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".nnblocks-write-check-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot write into {folder} ({exc.strerror or exc})"
    return None


def output_problem(path: str | os.PathLike, kind: str = "folder") -> str | None:
    """Why ``path`` cannot be written as an output ``kind`` (``"folder"``, or ``"file"``: a file in a folder),
    or None. Creates nothing: the nearest existing folder on the way is probed."""
    path = Path(path)
    if kind == "file":
        if path.is_dir():
            return f"{path} is a folder; give a file name (e.g. {path / 'graph.png'})"
        path = path.parent
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    existing = path
    while not existing.exists():
        if existing.parent == existing:  # nothing on the way exists: a root that is not there
            return f"cannot create {path}: no part of that path exists"
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create {path}: {existing} is a file, not a folder"
    return _probe(existing)


def _output(kind: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        problem = output_problem(text, kind)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return text
    return parse


output_dir = _output("folder")
output_file = _output("file")
