"""Flag types shared by the sub-commands: argparse turns their ArgumentTypeError into
``argument --flag: expected a positive integer, got '0'`` and exit code 2, naming the flag at fault."""
from __future__ import annotations

import argparse
import math
import os
from typing import Callable


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
        if not os.path.isfile(text):
            raise argparse.ArgumentTypeError(f"no such file: {text!r}")
        return text
    raise argparse.ArgumentTypeError(f"unknown dataset {text!r}; choose from {', '.join(dataset_names())}, "
                                     "or give the path of a .csv or .npz file")
