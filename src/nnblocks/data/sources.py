"""Loading a data set by name as raw arrays: the embedded digits, MNIST, Fashion-MNIST, a toy set, or your own file.

``load_dataset("digits")``, ``load_dataset("moons", samples=500, seed=1)``, ``load_dataset("mine.csv",
label_column="species")`` all return a ``RawData``: the samples as one row each, the labels already turned into a
task (``labels_to_task``), and nothing split or scaled yet (``split_dataset`` and ``scale_splits`` do that).
MNIST and Fashion-MNIST come with their official test set kept apart in ``X_test`` / ``y_test``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnblocks.data.digits import digits
from nnblocks.data.idx import FASHION_CLASSES, fashion_mnist, mnist
from nnblocks.data.tables import is_data_file, read_table
from nnblocks.data.tasks import labels_to_task
from nnblocks.data.toy import TOY_SETS
from nnblocks.data.validate import two_classes
from nnblocks.errors import InvalidValueError

IMAGE_SETS = ("digits", "mnist", "fashion-mnist")
OFFICIAL_TEST_SETS = ("mnist", "fashion-mnist")  # published with a fixed test set that every paper reports on


@dataclass
class RawData:
    """A data set before splitting: ``X`` (samples, features), ``y`` class indices or regression targets.

    ``classes`` names the classes (None: the indices are the names); ``X_test`` / ``y_test`` hold an official test
    set (MNIST family only); ``pixel_max`` is the largest possible pixel value of an image set (255 for the MNIST
    family, 16 for the 8x8 digits), None for other data. ``image_shape`` is the (C, H, W) each row of an image set
    unrolls (``X`` row ``c * H * W + h * W + w`` is pixel (c, h, w): NumPy's reshape order, so
    ``X.reshape(-1, C, H, W)`` gives the images back): (1, 8, 8) for the digits, (1, 28, 28) for the MNIST family,
    None for a table or a toy set, whose columns are features, not pixels.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    classes: list[str] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    pixel_max: float | None = None
    image_shape: tuple[int, int, int] | None = None


def dataset_names() -> tuple[str, ...]:
    """Every name ``load_dataset`` knows, besides file paths: the image sets, then the toy sets."""
    return IMAGE_SETS + tuple(TOY_SETS)


def short_name(dataset: str) -> str:
    """How a data set is called in messages and folder names: its name, or a data file's stem (``mine`` for
    ``data/mine.csv``)."""
    return Path(dataset).stem if is_data_file(dataset) else dataset


def _mnist_family(name: str, data_dir: str | None, download: bool) -> RawData:
    reader = mnist if name == "mnist" else fashion_mnist
    X, y = reader(data_dir, train=True, download=download)
    X_test, y_test = reader(data_dir, train=False, download=download)
    classes = list(FASHION_CLASSES) if name == "fashion-mnist" else None
    return RawData(name, X.reshape(len(X), -1), y, "classification", classes,
                   X_test.reshape(len(X_test), -1), y_test, pixel_max=255.0,
                   image_shape=(1, *X.shape[1:]))


def load_dataset(name: str, *, data_dir: str | None = None, download: bool = False, samples: int = 1000,
                 seed: int = 0, label_column: str | int | None = None) -> RawData:
    """The raw arrays of ``name``: ``digits``, ``mnist``, ``fashion-mnist``, a toy set of ``TOY_SETS`` or the path
    of a ``.csv`` / ``.npz`` file.

    MNIST-family images stay uint8, one row of 784 pixels per image (read from ``data_dir``, downloaded with
    ``download``); the digits are float32 counts 0..16. A toy set draws ``samples`` points from ``seed`` (the
    chapter's fixed examples take neither). ``label_column`` picks a CSV file's label column.
    Raises ``DataError`` for a missing or malformed file (``read_table`` names the lines and columns at fault) and
    for classes that are not at least two, ``InvalidValueError`` for an unknown name.
    """
    if name == "digits":
        X, y = digits()
        return RawData(name, X, y, "classification", pixel_max=16.0, image_shape=(1, 8, 8))
    if name in OFFICIAL_TEST_SETS:
        return _mnist_family(name, data_dir, download)
    if name in TOY_SETS:
        make = TOY_SETS[name]
        accepted = inspect.signature(make).parameters
        X, labels = make(**{k: v for k, v in (("n", samples), ("seed", seed)) if k in accepted})
    elif is_data_file(name):
        X, labels, _ = read_table(name, label_column)
    else:
        raise InvalidValueError(f"unknown data set {name!r}; choose from {', '.join(dataset_names())}, "
                                "or give the path of a .csv or .npz file")
    y, task, classes = labels_to_task(labels)
    if task == "classification":
        two_classes(name, classes if classes is not None else [str(c) for c in np.unique(y)], len(y))
    return RawData(name, X, y, task, classes)
