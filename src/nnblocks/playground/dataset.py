"""The playground's points: a toy set or the user's CSV, through the library's data pipeline.

    X, labels = toy set (nnblocks.data) or read_table(upload)       the raw 2-D points and their labels
    y, task, classes = data.labels_to_task(labels)                  classes or regression targets
    splits = data.split_dataset(RawData, SplitPlan(test_share, 0))  seeded, stratified; its held-out part is "test"
    scaled = data.scale_splits(splits, "standard")                  mean and std of the training points only

The same steps as ``nnblocks train`` (``data.prepare``), taken one by one because the playground also draws with a
noise level and keeps the unscaled points for the pictures. The page calls the held-out part the *test* points: the
split plan's validation share with no third part (nothing is tuned on them but by the learner's eye).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnblocks import data
from nnblocks.data import toy
from nnblocks.errors import DataError
from nnblocks.playground.settings import Limits, Settings, SettingsError

def toy_call(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The toy set's function in ``nnblocks.data.toy`` and its arguments: what the playground draws, and what the
    exported code calls."""
    s, name = settings, settings.dataset
    common = {"n": s.samples}
    # The noise slider (0..1) scaled onto each set's own parameter, so that 1 is "very noisy" for all: circles of
    # radius 1 and 0.5 touch at std 0.25; xor's corners are 1 apart; moons' arms 0.5; spirals' noise is an angle in
    # radians; blobs' centres are drawn in [-10, 10]^2, so a std of 5 makes them overlap.
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "circles": ("circles", {"noise": round(0.25 * s.noise, 6)}),
        "xor": ("xor", {"noise": round(0.5 * s.noise, 6)}),
        "blobs": ("blobs", {"centers": s.classes, "std": round(5.0 * s.noise, 6)}),
        "spirals": ("spirals", {"classes": s.classes, "noise": s.noise}),
        "moons": ("moons", {"noise": round(0.5 * s.noise, 6)}),
        "plane": ("regression_plane", {"noise": s.noise}),
    }
    function, options = calls[name]
    return function, {**common, **options, "seed": s.data_seed}


@dataclass
class Upload:
    """A user's CSV file, read and checked: two feature columns and a label column."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]


def read_upload(body: bytes, filename: str, limits: Limits) -> Upload:
    """Parse an uploaded CSV with ``data.read_table``; ``DataError`` with a message for the page when it is not two
    numeric feature columns and a label column (the last), or too long."""
    base = os.path.basename(filename or "upload.csv") or "upload.csv"
    if not base.lower().endswith(".csv"):
        raise DataError(f"{base}: the playground reads .csv files (two feature columns and a label column)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{base}: not a UTF-8 text file") from None
    with tempfile.TemporaryDirectory(prefix="nnblocks-upload-") as folder:
        path = os.path.join(folder, "upload.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        try:
            table = data.read_table(path)
        except DataError as exc:  # the message names the temporary path; name the user's file instead
            raise DataError(str(exc).replace(path, base)) from None
    rows, width = table.features.shape
    if width != 2:
        raise DataError(f"{base}: need exactly two feature columns and a label column (the last); found "
                        f"{width} feature column(s)")
    if rows < 20 or rows > limits.max_upload_rows:
        raise DataError(f"{base}: need between 20 and {limits.max_upload_rows} rows of data, found {rows}")
    if not np.all(np.isfinite(table.features)):
        raise DataError(f"{base}: the feature columns hold NaN or infinite values")
    return Upload(base, table.features, table.labels, table.feature_names)


@dataclass
class Points:
    """The data of one run: scaled splits for training, the raw points for the pictures, and the scaling."""

    name: str
    splits: data.Splits  # scaled; .train and .val ("test") feed the model
    raw_train: np.ndarray
    raw_test: np.ndarray
    scaling: data.Scaling
    domain: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max of the pictures, in raw units

    @property
    def task(self) -> str:
        return self.splits.task

    @property
    def num_classes(self) -> int:
        return self.splits.num_classes


def load_points(settings: Settings, upload: Upload | None) -> Points:
    """The run's points, split and scaled as the settings say; ``SettingsError`` when "upload" has no file yet."""
    if settings.dataset == "upload":
        if upload is None:
            raise SettingsError("dataset: upload a CSV file first (two feature columns and a label column)")
        name, X, labels = upload.name, upload.features, upload.labels
    else:
        function, kwargs = toy_call(settings)
        name = settings.dataset
        X, labels = getattr(toy, function)(**kwargs)
    y, task, classes = data.labels_to_task(labels)
    raw = data.RawData(name, X, y, task, classes)
    splits = data.split_dataset(raw, data.SplitPlan(val_fraction=settings.test_share, test_fraction=0.0),
                                seed=settings.data_seed)
    scaled = data.scale_splits(splits, "standard")
    scaling = data.Scaling("standard", scaled.scaling)
    return Points(name, scaled, splits.train[0], splits.val[0], scaling, _domain(X))


def _domain(X: np.ndarray) -> tuple[float, float, float, float]:
    """A square around every point with a 10% margin, so the heatmaps show a little beyond the data."""
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2, 1e-3) * 1.1
    return (float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half))
