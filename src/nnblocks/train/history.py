"""History: what ``fit`` measured, epoch by epoch (and batch by batch on request), and how to save it.

``history["loss"]`` is the list of per-epoch training losses, ``history["val_loss"]`` the validation losses,
``history["accuracy"]`` / ``history["val_accuracy"]`` the metrics, ``history["lr"]`` the learning rate used during
each epoch, ``history["epoch"]`` the epoch numbers (1, 2, ...). Wall-clock seconds per epoch are kept apart in
``history.times`` so that two runs with the same seed compare equal (``==``) even though they took different times.
With ``fit(check_gradients=N)``, ``history.spot_checks`` holds one record per spot-checked step,
``{"step", "epoch", "errors": {parameter name: largest relative error}}`` (see ``nnblocks.train.spot_check``).
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Iterator

from nnblocks.errors import InvalidValueError


class History:
    """Per-epoch logs of a training run, Keras's ``History.history`` dict of lists with a few helpers."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.batch_loss: list[float] = []  # every batch's loss, when fit(record_batches=True)
        self.times: list[float] = []  # seconds per epoch (not part of equality)
        self.spot_checks: list[dict[str, Any]] = []  # fit(check_gradients=N): see nnblocks.train.spot_check

    # ---- filling ----------------------------------------------------------------------------------------------------
    def append(self, logs: dict[str, Any], seconds: float | None = None) -> None:
        """Add one epoch's logs (``{"epoch": 3, "loss": 0.41, ...}``); keys absent from earlier epochs start here."""
        n = len(self)
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n)
            column.append(int(value) if key == "epoch" else float(value))
        for key, column in self.history.items():
            if len(column) == n:  # a key this epoch did not log
                column.append(math.nan)
        if seconds is not None:
            self.times.append(float(seconds))

    # ---- reading ----------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.history.get("epoch", next(iter(self.history.values()), [])))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; it has {sorted(self.history)}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def keys(self) -> Iterator[str]:
        return iter(self.history)

    def last(self) -> dict[str, float]:
        """The last epoch's logs as a dict."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def best(self, monitor: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """``(epoch, value)`` of the best epoch by ``monitor`` (lowest for mode 'min', highest for 'max')."""
        values = self[monitor]
        finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise InvalidValueError(f"History: no value of {monitor!r} recorded yet")
        value, i = min(finite) if mode == "min" else max(finite, key=lambda t: (t[0], -t[1]))
        return int(self.history["epoch"][i]) if "epoch" in self.history else i + 1, value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        # NaN != NaN as floats; compare their text instead so identical runs with a NaN column still match.
        return json.dumps(self.history) == json.dumps(other.history) and \
            json.dumps(self.batch_loss) == json.dumps(other.batch_loss) and \
            json.dumps(self.spot_checks) == json.dumps(other.spot_checks)

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last().items() if k != "epoch")
        return f"History({len(self)} epochs{': ' + last if last else ''})"

    # ---- saving -----------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"history": {k: list(v) for k, v in self.history.items()}, "batch_loss": list(self.batch_loss),
                "times": list(self.times), "spot_checks": json.loads(json.dumps(self.spot_checks))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        h = cls()
        h.history = {k: [int(x) if k == "epoch" else float(x) for x in v] for k, v in data.get("history", {}).items()}
        h.batch_loss = [float(x) for x in data.get("batch_loss", [])]
        h.times = [float(x) for x in data.get("times", [])]
        h.spot_checks = json.loads(json.dumps(data.get("spot_checks", [])))
        return h

    def copy(self) -> "History":
        return History.from_dict(self.to_dict())

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (floats written with full precision, so ``from_json`` gives them back exactly)."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "History":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_csv(self, path: str | os.PathLike) -> None:
        """One row per epoch, one column per key (``epoch`` first), plus ``seconds`` when times were recorded."""
        keys = ["epoch"] + [k for k in self.history if k != "epoch"] if "epoch" in self.history or not len(self) \
            else list(self.history)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            with_time = len(self.times) == len(self) > 0  # no epoch: a header of "epoch" alone, not "seconds"
            writer.writerow(keys + (["seconds"] if with_time else []))
            for i in range(len(self)):
                row = [repr(self.history[k][i]) for k in keys]
                writer.writerow(row + ([f"{self.times[i]:.4f}"] if with_time else []))
