"""The data a chapter-3 study trains on: Fashion-MNIST (the book's), MNIST, or the embedded 8x8 digits (offline).

Pixels are kept *raw* here (float32 copies of the 0..255 or 0..16 values, one row per image): each variant decides
how to scale them (``base.Inputs``), which is what the scaling and batch-norm studies are about.

- Fashion-MNIST / MNIST: the 60,000 training images train, the 10,000 test images validate (as in the book).
- digits: 1,797 images, split once with a seeded, stratified 80 / 20 train / validation split.
- ``subset=N``: a seeded random subset of N training images and N // 6 validation images, for a quick look.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnblocks import data as nbdata
from nnblocks.errors import DataError, InvalidValueError

DATASETS = ("fashion-mnist", "mnist", "digits")
DIGITS_VAL_FRACTION = 0.2

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


def _idx_pair(name: str, data_dir: str | None, download: bool, train: bool) -> tuple[np.ndarray, np.ndarray]:
    reader = nbdata.fashion_mnist if name == "fashion-mnist" else nbdata.mnist
    try:
        images, labels = reader(root=data_dir, train=train, download=download)
    except DataError as exc:
        how = ("" if download else
               f"To fetch it: add --download (or put the four IDX files in a folder and pass --data-dir). ")
        raise DataError(f"{exc}\n\n{how}{OFFLINE_HINT}") from exc
    return images.reshape(len(images), -1).astype(np.float32), labels.astype(np.int64)


def _take(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a seeded random subset of ``count`` of ``n`` samples, kept in their original order."""
    return np.sort(rng.permutation(n)[:min(count, n)])


def load_data(name: str = "fashion-mnist", data_dir: str | None = None, download: bool = False,
              subset: int | None = None, seed: int = 0) -> ExperimentData:
    """Load ``name`` (``fashion-mnist``, ``mnist`` or ``digits``) as raw pixels, optionally cut to a subset.

    Raises ``DataError`` when the MNIST-format files are missing (the message says how to get them and that
    ``--dataset digits`` works offline).
    """
    if name not in DATASETS:
        raise InvalidValueError(f"unknown data set {name!r} for the experiments; choose one of {', '.join(DATASETS)}")
    if subset is not None and subset < 1:
        raise InvalidValueError(f"--subset must be a positive number of training samples, got {subset}")
    if name == "digits":
        X, y = nbdata.digits()
        X_train, X_val, y_train, y_val = nbdata.train_val_split(X, y, val_fraction=DIGITS_VAL_FRACTION, seed=seed,
                                                                stratify=True)
        pixel_max, note = 16.0, f"seeded stratified {1 - DIGITS_VAL_FRACTION:.0%} / {DIGITS_VAL_FRACTION:.0%} split"
    else:
        X_train, y_train = _idx_pair(name, data_dir, download, train=True)
        X_val, y_val = _idx_pair(name, data_dir, download, train=False)
        pixel_max, note = 255.0, "the test images serve as validation set"
    if subset is not None:
        rng = np.random.default_rng(seed)
        keep = _take(len(y_train), subset, rng)
        keep_val = _take(len(y_val), max(1, subset // 6), rng)
        X_train, y_train, X_val, y_val = X_train[keep], y_train[keep], X_val[keep_val], y_val[keep_val]
        note += f"; --subset {subset}: a seeded random subset"
    return ExperimentData(name, X_train, y_train, X_val, y_val, pixel_max, note=note)
