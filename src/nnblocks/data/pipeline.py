"""The data half of the recipe: load a data set by name, split it, (optionally) keep a subset, scale it.

    splits = prepare("digits", split=SplitPlan(val_fraction=0.1, test_fraction=0.2), scale="standard", seed=0)
    X_train, y_train = splits.train            # float32 inputs, int64 classes (or float32 targets)
    splits.scaling                             # the fitted scaling's state, for a checkpoint

Every entry point goes through these steps; they differ only in their parameters:

- ``nnblocks train`` / ``evaluate``: ``SplitPlan(val_fraction, test_fraction)`` - a seeded, stratified
  train/validation/test split, except that the MNIST family keeps its official test set as the test part and
  carves validation out of its training set; then ``--scale``.
- the chapter-3 experiments: ``BOOK_SPLIT`` - digits split 80 / 20 into training and validation; the MNIST family's
  official test images *validate*, as in the book; no test part; raw pixels (``scale="none"``); ``subset=N`` for a
  quick look.

Each step is also public (``load_dataset``, ``split_dataset``, ``subsample``, ``scale_splits``) for a script that wants
to look between them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nnblocks.data.prep import split_indices
from nnblocks.data.scaling import Scaling, resolve_scaling
from nnblocks.data.sources import RawData, load_dataset
from nnblocks.errors import DataError, InvalidValueError

# Below this many samples (the chapter's 1-to-4-sample examples) there is nothing to hold out: training, validation
# and test (if the plan has one) are all the whole set, and ``Splits.held_out`` is False so that no report calls a
# measurement on those rows a validation or test result.
MIN_SPLIT_SAMPLES = 20

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SplitPlan:
    """How to cut a data set: shares for validation and test (``test_fraction=0``: no test part), and what an
    official test set becomes: the ``"test"`` part (evaluation protocol) or the ``"val"`` part (the book's)."""

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    official_test: str = "test"

    def __post_init__(self) -> None:
        if self.official_test not in ("test", "val"):
            raise InvalidValueError(f"SplitPlan: official_test must be 'test' or 'val', got {self.official_test!r}")


BOOK_SPLIT = SplitPlan(val_fraction=0.2, test_fraction=0.0, official_test="val")


@dataclass
class Splits:
    """Training, validation and (unless the plan has none) test arrays, with what the model needs to know."""

    train: Pair
    val: Pair
    test: Pair | None
    task: str
    classes: list[str] | None = None
    pixel_max: float | None = None
    scaling: dict[str, Any] | None = None  # the fitted Scaling's state_dict(); None before scale_splits
    held_out: bool = True  # False: too few samples to split, validation and test are the training rows themselves
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) of an image set's rows (RawData's), else None

    def parts(self) -> list[Pair]:
        return [self.train, self.val] + ([self.test] if self.test is not None else [])

    @property
    def in_features(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def num_classes(self) -> int:
        """The number of classes (the largest class index seen in any part, plus one); 0 for regression."""
        if self.task != "classification":
            return 0
        return int(max(y.max() for _, y in self.parts())) + 1

    @property
    def out_features(self) -> int:
        """Outputs a model needs: one logit per class, or one per regression target."""
        return self.num_classes if self.task == "classification" else int(self.train[1].shape[1])


def split_dataset(raw: RawData, plan: SplitPlan = SplitPlan(), seed: int = 0) -> Splits:
    """Cut ``raw`` as ``plan`` says, with ``split_indices`` (seeded; stratified by class for classification).
    Raises ``DataError`` naming the data set when a part would get no sample."""
    try:
        return _split(raw, plan, seed)
    except InvalidValueError as exc:
        if "empty" not in str(exc):
            raise
        part = "test" if str(exc).endswith("part 2 empty") else "validation"
        samples = f"{len(raw.y)} {'training ' if raw.X_test is not None else ''}samples"
        raise DataError(f"{raw.name}: {samples} are too few for a validation share of "
                        f"{plan.val_fraction:g}" + (f" and a test share of {plan.test_fraction:g}"
                                                     if raw.X_test is None and plan.test_fraction else "") +
                        f": the {part} part would get no sample (rounded per class); use a larger share or more "
                        "samples") from None


def _split(raw: RawData, plan: SplitPlan, seed: int) -> Splits:
    X, y = raw.X, raw.y
    stratify = y if raw.task == "classification" else None
    test: Pair | None
    if raw.X_test is not None and raw.y_test is not None:
        official = (raw.X_test, raw.y_test)
        if plan.official_test == "val":
            train, val, test = (X, y), official, None
        else:
            fit_idx, val_idx = split_indices(len(y), (plan.val_fraction,), seed, stratify)
            train, val, test = (X[fit_idx], y[fit_idx]), (X[val_idx], y[val_idx]), official
    elif len(y) < MIN_SPLIT_SAMPLES:
        train = val = (X, y)
        test = (X, y) if plan.test_fraction else None
        return Splits(train, val, test, raw.task, raw.classes, raw.pixel_max, held_out=False,
                      image_shape=raw.image_shape)
    else:
        fractions = (plan.val_fraction,) + ((plan.test_fraction,) if plan.test_fraction else ())
        parts = [(X[i], y[i]) for i in split_indices(len(y), fractions, seed, stratify)]
        train, val, test = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    return Splits(train, val, test, raw.task, raw.classes, raw.pixel_max, image_shape=raw.image_shape)


def subsample(splits: Splits, n_train: int, seed: int = 0) -> Splits:
    """A seeded random subset: ``n_train`` training samples and ``n_train // 6`` (at least 1) validation samples,
    each kept in its original order; the test part, if any, stays whole. For a quick look at a big data set."""
    if n_train < 1:
        raise InvalidValueError(f"subsample: need a positive number of training samples, got {n_train}")
    rng = np.random.default_rng(seed)

    def take(part: Pair, count: int) -> Pair:
        keep = np.sort(rng.permutation(len(part[1]))[:min(count, len(part[1]))])
        return part[0][keep], part[1][keep]

    return replace(splits, train=take(splits.train, n_train), val=take(splits.val, max(1, n_train // 6)))


def scale_splits(splits: Splits, kind: str, state: dict[str, Any] | None = None) -> Splits:
    """Every part scaled by a ``Scaling(kind)`` fitted on the training inputs only (or rebuilt from a stored
    ``state``), as float32; the returned ``Splits.scaling`` holds its state for a checkpoint."""
    scaling = Scaling(kind, state).fit(splits.train[0])
    scaled = [(scaling(X), y) for X, y in splits.parts()]
    return replace(splits, train=scaled[0], val=scaled[1], test=scaled[2] if len(scaled) == 3 else None,
                   scaling=scaling.state_dict())


def prepare(dataset: str, *, split: SplitPlan = SplitPlan(), scale: str = "auto", seed: int = 0,
            subset: int | None = None, samples: int = 1000, label_column: str | int | None = None,
            data_dir: str | None = None, download: bool = False, scaling_state: dict[str, Any] | None = None) -> Splits:
    """``load_dataset`` -> ``split_dataset`` -> ``subsample`` (with ``subset``) -> ``scale_splits``, in one call.

    ``scale``: ``"auto"``, ``"255"``, ``"standard"`` or ``"none"`` (see ``nnblocks.data.scaling``);
    ``scaling_state``: a checkpoint's stored scaling, used instead of fitting one. The same ``seed`` draws a toy
    set, cuts the split and picks the subset.
    """
    raw = load_dataset(dataset, data_dir=data_dir, download=download, samples=samples, seed=seed,
                       label_column=label_column)
    splits = split_dataset(raw, split, seed)
    if subset is not None:
        splits = subsample(splits, subset, seed)
    return scale_splits(splits, resolve_scaling(scale, dataset), scaling_state)
