"""A study's verdict beside the book: reproduced, differs (and why, when known), or unverified (the book published
no result to compare with), computed from the run's own numbers.

The chapter modules declare one verdict function per study (``Study.verdict``) from the helpers here; ``suite``
attaches it to the result, and ``report`` prints it under "The book" and in the summary's verdict table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REPRODUCED, DIFFERS, UNVERIFIED = "reproduced", "differs", "unverified"


@dataclass(frozen=True)
class Verdict:
    status: str  # REPRODUCED, DIFFERS or UNVERIFIED
    measured: str  # what this run showed, with its numbers
    why: str = ""  # why it differs (or what limits the comparison), when known

    def line(self) -> str:
        return f"**{self.status}**: {self.measured}" + (f" ({self.why})" if self.why else "")


def variant(result: Any, name: str) -> Any:
    return next(v for v in result.variants if v.name == name)


def final(result: Any, name: str, key: str = "val_accuracy") -> float:
    return float(variant(result, name).final.get(key, math.nan))


def pct(x: float) -> str:
    return f"{100 * x:.1f} %" if math.isfinite(x) else "nan"


def train_accuracy(v: Any) -> float:
    """The final weights' training accuracy as the run's protocol measures it (second pass, else eval mode)."""
    return float(v.final.get("train_accuracy", v.final.get("train_accuracy_eval", math.nan)))


def val_accuracy(v: Any) -> float:
    """Validation accuracy as the run's protocol measures it (with dropout on where the book's notebook does)."""
    return float(v.final.get("val_accuracy_train_mode", v.final.get("val_accuracy", math.nan)))


def gap(v: Any) -> float:
    """Training minus validation accuracy of the final weights, as fractions."""
    return train_accuracy(v) - val_accuracy(v)


def setting(result: Any) -> str:
    """Where this run's setting departs from the book's (data, subset, epochs, protocol), or ''."""
    extra = result.extra
    parts = []
    if extra.get("dataset", "fashion-mnist") != "fashion-mnist":
        parts.append(f"data {extra.get('dataset')}, not the book's Fashion-MNIST")
    if extra.get("subset"):
        parts.append(f"--subset {extra['subset']}")
    if extra.get("study_epochs") is not None and result.epochs != extra["study_epochs"]:
        parts.append(f"{result.epochs} epochs, not the book's {extra['study_epochs']}")
    return "; ".join(parts)


def with_setting(why: str, result: Any) -> str:
    where = setting(result)
    return "; ".join(p for p in (why, ("this run: " + where) if where else "") if p)


def ordered(result: Any, better: str, worse: str, min_points: float, what: str = "validation accuracy",
            key: Any = val_accuracy, why_not: str = "") -> Verdict:
    """Reproduced when ``better`` beats ``worse`` on ``key`` by at least ``min_points`` percentage points."""
    a, b = key(variant(result, better)), key(variant(result, worse))
    measured = f"{what}: {better} {pct(a)} against {worse} {pct(b)}"
    if not (math.isfinite(a) and math.isfinite(b)):
        return Verdict(DIFFERS, measured, with_setting("a variant diverged", result))
    ok = 100 * (a - b) >= min_points
    return Verdict(REPRODUCED if ok else DIFFERS, measured, with_setting("" if ok else why_not, result))
