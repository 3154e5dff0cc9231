"""Pictures of a training run: loss and accuracy curves per epoch, and the confusion matrix.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, no window: the Agg
canvas), so it works the same in a script, a test or a notebook (where a returned Figure is displayed).
``save_figure(fig, "loss.png")`` writes it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.viz.figures import new_figure, save_figure  # noqa: F401 - save_figure re-exported for callers


def _new_figure(size: tuple[float, float] = (6.0, 4.0), margins: dict[str, float] | None = None) -> Figure:
    # Fixed margins instead of a layout engine: constrained layout measured twice as slow to save, for small plots
    # whose labels fit these margins anyway.
    return new_figure(size, margins or {"left": 0.13, "right": 0.97, "bottom": 0.13, "top": 0.91})


def _column(history: Any, key: str) -> list[float] | None:
    data = history.history if hasattr(history, "history") else history
    return list(data[key]) if key in data else None


def plot_metric(history: Any, metric: str = "loss", title: str | None = None, log_scale: bool = False,
                percent: bool = False) -> Figure:
    """Training and (when recorded) validation values of ``metric`` per epoch.

    ``history`` is a ``History`` or its dict of lists; ``val_<metric>`` is drawn too when present.
    """
    train = _column(history, metric)
    if train is None:
        raise InvalidValueError(f"plot_metric: the history has no {metric!r}")
    epochs = _column(history, "epoch") or list(range(1, len(train) + 1))
    scale = 100.0 if percent else 1.0
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(epochs, np.asarray(train) * scale, marker="o", markersize=3, label=f"training {metric}")
    val = _column(history, f"val_{metric}")
    if val is not None:
        ax.plot(epochs, np.asarray(val) * scale, marker="o", markersize=3, label=f"validation {metric}")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric + (" (%)" if percent else ""))
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(title or f"{metric} per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_loss(history: Any, title: str | None = None) -> Figure:
    """Training and validation loss per epoch (log scale when the loss spans more than a factor of 20)."""
    values = [v for v in (_column(history, "loss") or []) + (_column(history, "val_loss") or []) if v > 0]
    log = bool(values) and max(values) / min(values) > 20
    return plot_metric(history, "loss", title=title or "loss per epoch", log_scale=log)


def plot_accuracy(history: Any, title: str | None = None) -> Figure:
    """Training and validation accuracy per epoch, in percent."""
    return plot_metric(history, "accuracy", title=title or "accuracy per epoch", percent=True)


def plot_batch_loss(batch_loss: Sequence[float], title: str = "loss per batch") -> Figure:
    """The loss of every batch (``History.batch_loss`` of ``fit(record_batches=True)``)."""
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(batch_loss) + 1), batch_loss, linewidth=0.8)
    ax.set_xlabel("batch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_confusion_matrix(matrix: Any, class_names: Sequence[str] | None = None, normalize: bool = False,
                          title: str = "confusion matrix") -> Figure:
    """Heat map of ``matrix[i, j]`` = samples of true class i predicted as j, with counts written in the cells.

    ``normalize`` divides each row by its total, so the diagonal shows each class's recall.
    """
    cm = np.asarray(matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ShapeError(f"plot_confusion_matrix: expected a square matrix, got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise InvalidValueError(f"plot_confusion_matrix: {len(names)} class names for a {k}x{k} matrix")
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    side = max(4.0, 0.5 * k + 2)
    longest = max(len(n) for n in names)
    pad = min(0.35, 0.05 + 0.016 * longest) if longest > 2 else 0.1  # room for long (rotated) class names
    fig = _new_figure((side + 1, side), {"left": pad + 0.02, "right": 0.98, "bottom": pad + 0.02, "top": 0.93})
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=45 if longest > 2 else 0, ha="right" if longest > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = cm.sum()
    ax.set_title(f"{title} (accuracy {np.trace(cm) / total:.1%})" if total else title)
    if k <= 20:
        peak = values.max() if values.size else 0
        for i in range(k):  # at most 400 cells: labelling them one by one is fine
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if peak and values[i, j] > peak / 2 else "black")
    return fig
