"""Curves over epochs: loss curves, learning-rate studies, gradient-check errors.

Each function takes plain sequences of numbers and returns a ``matplotlib.figure.Figure`` built without pyplot,
so nothing here opens a window or depends on the backend; ``save_figure`` writes a figure to a file.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nnblocks.viz.figures import save_figure  # noqa: F401 - part of this module's API

__all__ = ["gradient_check_figure", "learning_rate_study_figure", "loss_curve_figure", "save_figure"]


def _needs_log_scale(values: np.ndarray) -> bool:
    """True when positive values span more than three decades, so a linear axis would flatten all but the top."""
    positive = values[np.isfinite(values) & (values > 0)]
    return positive.size > 1 and positive.max() / positive.min() > 1e3


def _symlog_axis(ax, values: np.ndarray) -> None:
    """A log axis for values of both signs (linear within +-1), with at most about seven labelled decades."""
    ax.set_yscale("symlog", linthresh=1.0)
    top = int(np.ceil(np.log10(max(np.nanmax(np.abs(values[np.isfinite(values)])), 10.0))))
    stride = max(1, int(np.ceil(top / 3)))
    decades = [10.0**k for k in range(top, 0, -stride)]
    ticks = [-d for d in decades] + [0.0] + decades[::-1]
    low, high = np.nanmin(values), np.nanmax(values)
    ax.set_yticks([t for t in ticks if low - abs(low) <= t <= high + abs(high)])


def _whole_numbers(ax) -> None:
    """Epoch ticks on whole numbers (a 10-epoch axis would otherwise read 2.5, 7.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def loss_curve_figure(
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "Loss over epochs",
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool | None = None,
) -> Figure:
    """One line per named series, x = 0, 1, 2, ...; ``logy=None`` picks a log axis when the values span > 1e3."""
    if not series:
        raise ValueError("loss_curve_figure needs at least one series to plot")
    fig = Figure(figsize=(6.4, 4.0))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.91, bottom=0.12)  # fixed margins: much faster than a layout engine
    ax = fig.add_subplot()
    everything = []
    for i, (name, values) in enumerate(series.items()):
        v = np.asarray(values, dtype=np.float64)
        everything.append(v)
        ax.plot(np.arange(v.size), v, label=name, linestyle="-" if i == 0 else "--")
    if logy if logy is not None else _needs_log_scale(np.concatenate(everything)):
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    _whole_numbers(ax)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return fig


def learning_rate_study_figure(
    runs: Mapping[float, Mapping[str, Sequence[float]]],
    *,
    reference: Mapping[float, Mapping[str, Sequence[float]]] | None = None,
    label: str = "run",
    reference_label: str = "reference",
    title: str = "Learning-rate study",
) -> Figure:
    """A grid: one row per learning rate, one column per quantity (e.g. "W", "b", "loss") over the epochs.

    ``reference`` (optional, same layout) is drawn dashed in the same panels, e.g. the chain-rule run beside the
    finite-difference one. A panel whose values span more than three decades gets a log axis.
    """
    if not runs:
        raise ValueError("learning_rate_study_figure needs at least one learning rate")
    quantities = list(next(iter(runs.values())).keys())
    fig = Figure(figsize=(3.6 * len(quantities), 2.6 * len(runs)))
    fig.subplots_adjust(left=0.08, right=0.98, top=1 - 0.3 / len(runs), bottom=0.25 / len(runs), hspace=0.45,
                        wspace=0.3)
    axes = fig.subplots(len(runs), len(quantities), squeeze=False)
    for row, (lr, curves) in enumerate(runs.items()):
        for col, name in enumerate(quantities):
            ax = axes[row][col]
            v = np.asarray(curves[name], dtype=np.float64)
            ax.plot(np.arange(v.size), v, marker="o" if v.size <= 60 else None, markersize=3, label=label)
            values = [v]
            if reference is not None and lr in reference:
                r = np.asarray(reference[lr][name], dtype=np.float64)
                ax.plot(np.arange(r.size), r, linestyle="--", color="grey", label=reference_label)
                values.append(r)
            if _needs_log_scale(np.concatenate(values)) and np.all(np.concatenate(values) > 0):
                ax.set_yscale("log")
            elif _needs_log_scale(np.abs(np.concatenate(values))):
                _symlog_axis(ax, np.concatenate(values))
            scale = {"log": " (log scale)", "symlog": " (signed log scale)"}.get(ax.get_yscale(), "")
            ax.set_title(f"lr {lr:g}: {name}{scale}", fontsize=10)
            _whole_numbers(ax)
            ax.grid(alpha=0.3)
            if row == len(runs) - 1:
                ax.set_xlabel("epoch")
    if reference is not None:
        axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def gradient_check_figure(
    errors: Mapping[str, Sequence[float]], *, tolerance: float | None = None, title: str = "Gradient check"
) -> Figure:
    """Relative gradient error per step for each named run, on a log axis, with the tolerance as a line.

    Exact agreement (0) is drawn at 1e-16 and an infinite error (a derivative of exactly 0 where the reference is
    not) at 1e3, with the axis labelled accordingly, so that both stay visible on the log scale.
    """
    fig = Figure(figsize=(6.4, 4.0))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.91, bottom=0.12)
    ax = fig.add_subplot()
    for name, values in errors.items():
        v = np.asarray(values, dtype=np.float64)
        ax.plot(np.arange(v.size), np.clip(np.nan_to_num(v, posinf=1e3), 1e-16, 1e3), marker=".", label=name)
    if tolerance is not None:
        ax.axhline(tolerance, color="red", linestyle=":", label=f"tolerance {tolerance:g}")
    ax.set_yscale("log")
    ax.set(title=title, xlabel="epoch", ylabel="largest relative difference")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
