"""The gradient spot checks of a training run, drawn: each parameter's largest relative error at every checked step.

``plot_spot_checks(history)`` takes ``history.spot_checks`` (recorded by ``fit(check_gradients=N)``, see
``nnblocks.train.spot_check``) and returns a ``matplotlib.figure.Figure`` built without pyplot. Correct float32
gradients sit around 1e-7..1e-4, a wrong backward at 1e-1 and above: the log axis and the tolerance line make the
two obvious at a glance.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnblocks.errors import InvalidValueError

# Exact agreement (an error of 0, e.g. a weight fed by an input that is always 0) cannot sit on a log axis;
# it is drawn at this floor instead, which the axis label says.
ZERO_DRAWN_AT = 1e-10


def _records(history: Any) -> Sequence[Mapping[str, Any]]:
    records = getattr(history, "spot_checks", history)
    if not isinstance(records, Sequence) or not all(isinstance(r, Mapping) and "errors" in r for r in records):
        raise TypeError("plot_spot_checks: expected a History or its spot_checks list "
                        "([{'step': ..., 'errors': {...}}, ...])")
    if not records:
        raise InvalidValueError("plot_spot_checks: no gradient spot checks recorded (train with fit(check_gradients=N) "
                         "or nnblocks train --check-gradients N)")
    return records


def plot_spot_checks(history: Any, tolerance: float | None = 1e-2, title: str | None = None) -> Figure:
    """Largest relative error per parameter (one line each) against the training step, on a log axis.

    ``history``: a ``History`` with ``spot_checks``, or that list. ``tolerance`` is drawn as a red dotted line.
    """
    records = _records(history)
    steps = np.array([r["step"] for r in records])
    names = list(dict.fromkeys(name for r in records for name in r["errors"]))
    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.72, top=0.91, bottom=0.12)  # legend to the right of the axes
    ax = fig.add_subplot()
    for name in names:
        v = np.array([r["errors"].get(name, np.nan) for r in records], dtype=np.float64)
        ax.plot(steps, np.clip(np.nan_to_num(v, nan=np.nan, posinf=1e3), ZERO_DRAWN_AT, 1e3), marker=".",
                markersize=4, linewidth=1, label=name)
    if tolerance is not None:
        ax.axhline(tolerance, color="red", linestyle=":", label=f"tolerance {tolerance:g}")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"largest relative error (0 drawn at {ZERO_DRAWN_AT:g})", fontsize=9)
    ax.set_title(title or "Gradient spot checks: engine (float32) vs float64 finite differences", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig
