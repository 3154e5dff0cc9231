"""What a convolutional network sees: its first layer's filters, and the feature maps of one image, layer by layer.

- ``feature_maps(model, image)``: the output of every ``Conv2d`` (and, with ``kinds``, of other layers) for one
  image, read with forward hooks in eval mode, as (channels, H, W) arrays by layer name;
- ``plot_filters(weight)``: each filter of a Conv2d weight (out, in, kH, kW) as a small grey image (the first input
  channel; colour when the layer reads 3 channels), on one shared colour scale centred at 0, so a filter's sign
  pattern is visible: an edge detector is a dark side next to a bright side;
- ``plot_feature_maps(maps, image)``: the input, then each layer's maps as a grid, one row of panels per layer.

Figures are made without pyplot (``new_figure``) and saved with ``save_figure`` when ``path`` is given.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nnblocks.errors import ShapeError
from nnblocks.nn.conv import Conv2d
from nnblocks.tensor import Tensor, no_grad
from nnblocks.viz.figures import new_figure, save_figure


def feature_maps(model: Any, image: Any, kinds: Sequence[str] = ("Conv2d",)) -> dict[str, np.ndarray]:
    """The outputs of every sub-module whose class name is in ``kinds`` for one ``image`` ((C, H, W), (H, W), or
    a flat row the model reshapes itself), as (channels, H, W) arrays keyed ``"name (Class)"`` (``"0 (Conv2d)"``),
    in forward order."""
    array = np.asarray(image.data if isinstance(image, Tensor) else image)
    first = next(iter(model.parameters()), None)
    array = array.astype(first.dtype if first is not None else np.float32)[None]  # a batch of one
    if array.ndim == 3:  # (1, H, W): one channel
        array = array[:, None]
    caught: dict[str, np.ndarray] = {}
    handles = [module.register_forward_hook(lambda m, i, out, key=f"{name} ({type(module).__name__})":
                                            caught.__setitem__(key, out.data[0].copy()))
               for name, module in model.named_modules() if name and type(module).__name__ in kinds]
    if not handles:
        raise ShapeError(f"feature_maps: the model has no {' or '.join(kinds)} layer to look at")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(array))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return caught


def _grid(count: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def plot_filters(weight: Any, path: str | Path | None = None, columns: int = 16, title: str | None = None) -> Any:
    """Every filter of a Conv2d (or its weight, (out, in, kH, kW)) as a small image on one colour scale."""
    w = np.asarray(weight.weight.data if isinstance(weight, Conv2d) else getattr(weight, "data", weight))
    if w.ndim != 4:
        raise ShapeError(f"plot_filters: expected a Conv2d weight of shape (out, in, kH, kW), got {w.shape}")
    rows, columns = _grid(w.shape[0], columns)
    fig = new_figure((0.7 * columns + 0.6, 0.7 * rows + 0.8), margins=dict(left=0.02, right=0.9, top=0.85,
                                                                           bottom=0.02, wspace=0.1, hspace=0.1))
    colour = w.shape[1] == 3
    limit = float(np.abs(w).max()) or 1.0
    image = None
    for k in range(w.shape[0]):
        ax = fig.add_subplot(rows, columns, k + 1)
        if colour:  # an RGB filter: each channel mapped from [-limit, limit] to [0, 1]
            ax.imshow(np.transpose(w[k], (1, 2, 0)) / (2 * limit) + 0.5, interpolation="nearest")
        else:
            image = ax.imshow(w[k, 0], cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    if image is not None:
        fig.colorbar(image, cax=fig.add_axes((0.92, 0.1, 0.015, 0.7)))
    fig.suptitle(title or f"{w.shape[0]} filters of {w.shape[2]}x{w.shape[3]}"
                 + (" (input channel 0 of " + str(w.shape[1]) + ")" if w.shape[1] not in (1, 3) else ""), fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_feature_maps(maps: Mapping[str, np.ndarray], image: Any = None, path: str | Path | None = None,
                      max_maps: int = 32, columns: int = 16, title: str | None = None) -> Any:
    """The input image (if given), then up to ``max_maps`` maps of each layer of ``maps`` (``feature_maps``'s
    result), each map on its own colour scale (a map's pattern matters, not its level)."""
    if not maps:
        raise ShapeError("plot_feature_maps: no feature maps to draw")
    blocks = [(name, np.asarray(m)[:max_maps], np.asarray(m).shape) for name, m in maps.items()]
    grids = [_grid(len(m), columns) for _, m, _ in blocks]
    columns = max(c for _, c in grids)
    total_rows = sum(r for r, _ in grids) + (1 if image is not None else 0)
    fig = new_figure((0.75 * columns + 0.4, 0.8 * total_rows + 0.5 * len(blocks) + 0.6))
    rows = [1] * (image is not None) + [r for r, _ in grids]
    subfigs = np.atleast_1d(fig.subfigures(len(rows), 1, height_ratios=[r + 0.6 for r in rows]))
    if image is not None:
        picture = np.asarray(image.data if isinstance(image, Tensor) else image, dtype=np.float64)
        picture = picture.reshape(picture.shape[-2:]) if picture.ndim == 3 and picture.shape[0] == 1 else picture
        ax = subfigs[0].add_subplot(1, columns, 1)
        ax.imshow(picture if picture.ndim == 2 else np.transpose(picture, (1, 2, 0)), cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        subfigs[0].suptitle(f"{title}: the input" if title else "the input", fontsize=9)
    for sub, (name, shown, shape), (r, _) in zip(subfigs[1 if image is not None else 0:], blocks, grids):
        for k, feature in enumerate(shown):
            ax = sub.add_subplot(r, columns, k + 1)
            ax.imshow(feature, cmap="viridis", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        more = f", first {len(shown)} shown" if len(shown) < shape[0] else ""
        sub.suptitle(f"{name}: {shape[0]} maps of {shape[1]}x{shape[2]}{more}", fontsize=9)
    if title and image is None:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig
