"""The data a chapter-3 study trains on: Fashion-MNIST (the book's), MNIST, or the embedded 8x8 digits (offline).

Pixels are kept *raw* here (float32 copies of the 0..255 or 0..16 values, one row per image): each variant decides
how to scale them (``base.Inputs``), which is what the scaling and batch-norm studies are about.

- Fashion-MNIST / MNIST: the 60,000 training images train, the 10,000 test images validate (as in the book).
- digits: 1,797 images, split once with a seeded, stratified 80 / 20 train / validation split.
- ``subset=N``: a seeded random subset of N training images and N // 6 validation images, for a quick look.

This is ``nnblocks.data.prepare`` with the book's split (``BOOK_SPLIT``) and ``scale="none"``: the same pipeline as
``nnblocks train``, with other parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnblocks import data as nbdata
from nnblocks.errors import DataError, InvalidValueError

DATASETS = ("fashion-mnist", "mnist", "digits")

OFFLINE_HINT = ("--dataset digits runs every study offline on the 1,797 8x8 digits shipped with nnblocks "
                "(e.g. `nnblocks experiment run scaling --dataset digits`).")


@dataclass
class ExperimentData:
    """Raw pixels (float32, (N, features)) and int64 labels of a training and a validation set."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    pixel_max: float  # the largest possible pixel value: 255 (MNIST family) or 16 (digits)
    n_classes: int = 10
    note: str = ""

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def describe(self) -> str:
        text = (f"{self.name}: {len(self.y_train):,} training and {len(self.y_val):,} validation images, "
                f"{self.n_features} inputs (pixels 0..{self.pixel_max:g}), {self.n_classes} classes")
        return text + (f"; {self.note}" if self.note else "")


def load_data(name: str = "fashion-mnist", data_dir: str | None = None, download: bool = False,
              subset: int | None = None, seed: int = 0) -> ExperimentData:
    """Load ``name`` (``fashion-mnist``, ``mnist`` or ``digits``) as raw pixels, optionally cut to a subset: the
    data pipeline's ``prepare`` with the book's split (``BOOK_SPLIT``) and no scaling.

    Raises ``DataError`` when the MNIST-format files are missing (the message says how to get them and that
    ``--dataset digits`` works offline).
    """
    if name not in DATASETS:
        raise InvalidValueError(f"unknown data set {name!r} for the experiments; choose one of {', '.join(DATASETS)}")
    if subset is not None and subset < 1:
        raise InvalidValueError(f"--subset must be a positive number of training samples, got {subset}")
    try:
        splits = nbdata.prepare(name, split=nbdata.BOOK_SPLIT, scale="none", seed=seed, subset=subset,
                                data_dir=data_dir, download=download)
    except DataError as exc:
        if name == "digits":
            raise
        how = ("" if download else
               "To fetch it: add --download (or put the four IDX files in a folder and pass --data-dir). ")
        raise DataError(f"{exc}\n\n{how}{OFFLINE_HINT}") from exc
    if name == "digits":
        val = nbdata.BOOK_SPLIT.val_fraction
        note = f"seeded stratified {1 - val:.0%} / {val:.0%} split"
    else:
        note = "the test images serve as validation set"
    if subset is not None:
        note += f"; --subset {subset}: a seeded random subset"
    return ExperimentData(name, *splits.train, *splits.val, splits.pixel_max, note=note)
