"""The figures of a study's report: every variant on the same axes, so that what differs between two curves is what
the variant changes.

- ``curves_figure``: training and validation loss and accuracy (a diverged variant's line stops where it diverged,
  marked with an x); ``learning_rate_figure``: the rate each epoch used, when a variant's rate changes;
- ``weights_figure``: a histogram of each layer's weights, one row per variant;
- ``activations_figure``: hidden-layer outputs on validation images, one row per variant.

As everywhere in ``nnblocks.viz``, matplotlib is imported only when something is drawn, so that importing the
experiments to list or train them stays quick.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnblocks.experiments.base import VariantResult
from nnblocks.viz.figures import new_figure
from nnblocks.viz.pictures import layer_activations

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def study_figure(size: tuple[float, float], constrained: bool = True) -> Any:
    """A figure laid out by matplotlib's constrained layout, or (``constrained=False``) by the caller."""
    # A grid of many histograms is laid out by hand: constrained layout measures every tick label, which costs
    # more than drawing the histograms themselves.
    fig = new_figure(size)
    if constrained:
        fig.set_layout_engine("constrained")
    return fig


def whole_epochs(ax: Any) -> None:
    """Ticks on whole epochs only."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def train_accuracy_key(history: Any) -> str:
    """The training accuracy to draw: the book's second pass when the run measured one, else fit's (during the
    epoch)."""
    return "train_accuracy" if "train_accuracy" in history else "accuracy"


def _curve(ax: Any, v: VariantResult, key: str, color: str, scale: float = 1.0) -> list[float]:
    label = v.name + (" (diverged)" if v.diverged else "")
    if key not in v.history:
        if v.diverged:  # diverged in its first epoch: nothing to draw, but the legend still names it
            ax.plot([], [], color=color, label=label + " in epoch 1")
        return []
    values = np.asarray(v.history[key], dtype=np.float64) * scale
    epochs = np.asarray(v.history["epoch"]) if "epoch" in v.history else np.arange(1, len(values) + 1)
    ax.plot(epochs, values, marker="o", markersize=3 if len(values) < 40 else 0, color=color, label=label)
    ok = np.isfinite(values)
    if v.diverged and ok.any():
        last = np.flatnonzero(ok)[-1]
        ax.plot(epochs[last], values[last], marker="x", markersize=10, color=color)
    return [float(x) for x in values[ok]]


def curves_figure(variants: Sequence[VariantResult], title: str) -> Any:
    """Training / validation loss (top) and accuracy (bottom), every variant on the same axes."""
    fig = study_figure((11.0, 7.5))
    second_pass = any("train_accuracy" in v.history for v in variants)
    penalized = any("penalty" in v.history for v in variants)
    # The training loss is the logged one (the table's "train loss (logged)"): penalty included where there is one.
    panels = [("training loss (mean over the epoch's batches" + (", penalty included; dashed: data loss)"
                                                                   if penalized else ")"), lambda v: "loss", 1.0),
              ("validation loss", lambda v: "val_loss", 1.0),
              ("training accuracy (%), " + ("second pass after each epoch" if second_pass else
                                            "counted during the epoch"), lambda v: train_accuracy_key(v.history), 100.0),
              ("validation accuracy (%)", lambda v: "val_accuracy", 100.0)]
    for k, (name, key_of, scale) in enumerate(panels):
        ax = fig.add_subplot(2, 2, k + 1)
        seen: list[float] = []
        for i, v in enumerate(variants):
            seen += _curve(ax, v, key_of(v), COLORS[i % len(COLORS)], scale)
            if k == 0 and "data_loss" in v.history:
                ax.plot(v.history["epoch"], v.history["data_loss"], linestyle="--", color=COLORS[i % len(COLORS)])
        positive = [x for x in seen if x > 0]
        if scale == 1.0 and positive and max(positive) / min(positive) > 50:
            ax.set_yscale("log")  # a raw-pixel or huge-lr run would flatten every other curve
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        whole_epochs(ax)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    return fig


def learning_rate_figure(variants: Sequence[VariantResult], title: str) -> Any:
    fig = study_figure((6.5, 4.0))
    ax = fig.add_subplot()
    for i, v in enumerate(variants):
        _curve(ax, v, "lr", COLORS[i % len(COLORS)])
        for epoch, _old, new in v.cuts:  # a cut after epoch e sets the rate of epoch e + 1
            ax.axvline(epoch + 0.5, color=COLORS[i % len(COLORS)], alpha=0.25, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate used in the epoch")
    whole_epochs(ax)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def _compact_count(value: float, _position: Any = None) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _histogram_rows(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, str]]]], title: str) -> Any:
    """A grid of histograms: one row per variant, one column per layer."""
    from matplotlib.ticker import FuncFormatter

    n_cols = max(len(panels) for _, panels in rows)
    height = 2.3 * len(rows) + 0.6
    fig = study_figure((3.3 * n_cols, height), constrained=False)
    fig.subplots_adjust(left=0.25 / n_cols, right=0.98, bottom=0.35 / height, top=1 - 0.9 / height,
                        hspace=0.75, wspace=0.3)
    for r, (row_name, panels) in enumerate(rows):
        for c, (name, values, note) in enumerate(panels):
            ax = fig.add_subplot(len(rows), n_cols, r * n_cols + c + 1)
            v = np.asarray(values, dtype=np.float64).reshape(-1)
            ok = v[np.isfinite(v)]
            if ok.size:
                ax.hist(ok, bins=40, histtype="stepfilled", color=COLORS[r % len(COLORS)], alpha=0.85)
                stats = f"mean {ok.mean():.3g}, std {ok.std():.3g}"
            else:
                ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
                stats = ""
            ax.set_title(f"{row_name}: {name}\n{stats}{note}", fontsize=7.5)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_formatter(FuncFormatter(_compact_count))  # '120k', not '120000' clipped at the figure's edge
    fig.suptitle(title, fontsize=10)
    return fig


def weights_figure(variants: Sequence[VariantResult]) -> Any:
    """Every parameter of every variant's final model: each layer's weights and its biases, as the book shows them."""
    rows = []
    for v in variants:
        panels = [(f"{name} {'x'.join(map(str, p.shape))}", np.asarray(p.data), "")
                  for name, p in v.model.named_parameters()]
        rows.append((v.name, panels))
    return _histogram_rows(rows, "final weights and biases per layer (one row per variant)")


def activations_figure(variants: Sequence[VariantResult], X: dict[str, np.ndarray]) -> Any:
    """Hidden-layer values on validation inputs (``X[variant name]``, already scaled as that variant's), in eval mode: the hidden Linear's output,
    the BatchNorm1d output when there is one, and the ReLU output (with its share of zeros)."""
    rows = []
    for v in variants:
        linear_names = [n for n, m in v.model.named_modules() if type(m).__name__ == "Linear"]
        acts = layer_activations(v.model, X[v.name], kinds=("Linear", "BatchNorm1d", "ReLU"))
        kinds = {n: type(m).__name__ for n, m in v.model.named_modules()}
        panels = []
        for name, a in acts.items():
            if name == linear_names[-1]:
                continue  # the output layer's logits are not a hidden activation
            note = f"\n{np.mean(a <= 0):.0%} zeros" if kinds[name] == "ReLU" else ""
            panels.append((f"{name} ({kinds[name]})", a, note))
        rows.append((v.name, panels))
    n = len(next(iter(X.values()))) if X else 0
    return _histogram_rows(rows, f"hidden-layer values on {n} validation images (eval mode)")
