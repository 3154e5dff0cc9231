"""What a network learned, in pictures: decision boundaries, neuron activation maps, weight and activation
histograms, and an animation of the boundary over training.

Every function takes a model (any ``nnblocks.nn.Module`` mapping (N, features) to (N, outputs)) and NumPy data,
evaluates it in eval mode under ``no_grad()`` (restoring the model's mode afterwards), and returns a matplotlib
Figure made without pyplot (Agg canvas, no global state); ``path=`` also saves it (.png, .svg; no suffix: both).

How an output is read as a class: (N, C >= 2) scores -> argmax; (N, 1) -> class 1 when the output passes 0.5 if it
is a probability (every value in [0, 1]) or 0 if it is a logit (``output="logits"`` / ``"probabilities"`` forces
either).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.nn.layers import Activation, Linear
from nnblocks.tensor import Tensor, no_grad
from nnblocks.train.callbacks import Callback
from nnblocks.viz.figures import new_figure, save_figure

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@contextmanager
def _evaluating(model: Any) -> Iterator[None]:
    """Eval mode and no graph for the duration, the model's previous mode restored afterwards."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _dtype(model: Any) -> np.dtype:
    first = next(iter(model.parameters()), None)
    return first.dtype if first is not None else np.dtype(np.float32)


def _check_2d(X: np.ndarray, who: str) -> np.ndarray:
    X = np.asarray(X.data if isinstance(X, Tensor) else X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(f"{who}: needs 2-D inputs of shape (n, 2) to draw on the plane, got shape {X.shape}")
    return X


def _grid(X: np.ndarray, resolution: int, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = (hi - lo) * margin + 1e-6
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    return np.meshgrid(xs, ys)


def predict_grid(model: Any, X: Any, resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's outputs on a ``resolution`` x ``resolution`` grid covering ``X`` (plus a margin), in one batch.

    Returns ``(xx, yy, out)`` with ``out`` of shape (resolution, resolution, outputs).
    """
    X = _check_2d(X, "predict_grid")
    xx, yy = _grid(X, resolution)
    points = np.column_stack([xx.ravel(), yy.ravel()]).astype(_dtype(model))
    with _evaluating(model):
        out = np.asarray(model(Tensor(points)).data)
    return xx, yy, out.reshape(resolution, resolution, -1)


def _classes(out: np.ndarray, output: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(predicted class, probability of class 1 for a one-output model, else None) from raw outputs (..., C)."""
    if out.shape[-1] >= 2:
        return out.argmax(axis=-1), None
    score = out[..., 0]
    if output == "auto":
        output = "probabilities" if score.min() >= 0 and score.max() <= 1 else "logits"
    prob = score if output == "probabilities" else 1 / (1 + np.exp(-np.clip(score, -60, 60)))
    return (prob > 0.5).astype(np.int64), prob


def _draw_boundary(ax: Any, model: Any, X: np.ndarray, y: np.ndarray | None, resolution: int, output: str) -> None:
    xx, yy, out = predict_grid(model, X, resolution)
    pred, prob = _classes(out, output)
    if prob is not None:  # binary: shade by P(class 1), draw the 0.5 contour
        ax.contourf(xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45, vmin=0, vmax=1)
        ax.contour(xx, yy, prob, levels=[0.5], colors="k", linewidths=1)
    else:
        from matplotlib.colors import ListedColormap

        k = max(int(out.shape[-1]), 2)
        cmap = ListedColormap([CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(k)])
        ax.contourf(xx, yy, pred, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
        ax.contour(xx, yy, pred, levels=np.arange(k) + 0.5, colors="k", linewidths=0.6)
    if y is not None:
        labels = np.asarray(y.data if isinstance(y, Tensor) else y).reshape(len(X), -1)
        labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0].round().astype(np.int64)
        colors = [CLASS_COLORS[int(c) % len(CLASS_COLORS)] for c in labels]
        ax.scatter(X[:, 0], X[:, 1], c=colors, s=12, edgecolors="k", linewidths=0.3)
    else:
        ax.scatter(X[:, 0], X[:, 1], c="k", s=6)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_aspect("equal", adjustable="box")


def plot_decision_boundary(model: Any, X: Any, y: Any = None, path: str | Path | None = None,
                           resolution: int = 200, title: str | None = None, output: str = "auto",
                           accuracy: bool = True) -> Any:
    """The regions of the plane the model assigns to each class, with the data points coloured by their label.

    The grid (``resolution``^2 points) is predicted in one vectorised batch. With ``y`` and ``accuracy``, the title
    gives the model's accuracy on (X, y).
    """
    X = _check_2d(X, "plot_decision_boundary")
    fig = new_figure((5.0, 5.0))
    ax = fig.add_subplot()
    _draw_boundary(ax, model, X, y, resolution, output)
    if title is None:
        title = "decision boundary"
        if y is not None and accuracy:
            with _evaluating(model):
                out = np.asarray(model(Tensor(X.astype(_dtype(model)))).data)
            labels = np.asarray(y.data if isinstance(y, Tensor) else y).reshape(len(X), -1)
            labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0].round()
            title += f" (accuracy {np.mean(_classes(out, output)[0] == labels):.1%})"
    ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _first_hidden_layer(model: Any) -> tuple[Any, str]:
    """The module whose outputs are the first hidden layer's activations: the activation module (any registered
    activation, see ``nn.Activation``) right after the first Linear when there is one, else the Linear itself."""
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules]
    for k, (name, module) in enumerate(leaves):
        if isinstance(module, Linear):
            if k + 1 < len(leaves) and isinstance(leaves[k + 1][1], Activation):
                after = leaves[k + 1]
                return after[1], f"{after[0]} ({type(after[1]).__name__} of {name})"
            return module, f"{name} (pre-activation)"
    raise InvalidValueError(f"plot_activation_maps: {type(model).__name__} has no Linear layer")


def plot_activation_maps(model: Any, X: Any = None, y: Any = None, path: str | Path | None = None,
                         resolution: int = 100, max_neurons: int = 16, extent: Any = None) -> Any:
    """One small map per neuron of the first hidden layer: its activation at every point of the plane.

    Each neuron of a first layer computes act(w . x + b), a ridge along the line w . x + b = 0; the maps show
    those ridges, whose combination the next layers turn into the decision boundary. ``X`` (n, 2) sets the area
    and is drawn on top; without it, ``extent`` = (xmin, xmax, ymin, ymax) (default -2..2 both ways).
    """
    if X is None:
        e = extent or (-2.0, 2.0, -2.0, 2.0)
        X = np.array([[e[0], e[2]], [e[1], e[3]]], dtype=np.float64)
        show_points = False
    else:
        X, show_points = _check_2d(X, "plot_activation_maps"), True
    layer, label = _first_hidden_layer(model)
    captured: list[np.ndarray] = []
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(np.asarray(o.data)))
    try:
        xx, yy, _ = predict_grid(model, X, resolution)
    finally:
        handle.remove()
    acts = captured[-1].reshape(resolution, resolution, -1)
    n = min(acts.shape[-1], max_neurons)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = new_figure((2.6 * cols, 2.5 * rows + 0.4))
    for k in range(n):
        ax = fig.add_subplot(rows, cols, k + 1)
        im = ax.contourf(xx, yy, acts[..., k], levels=20, cmap="viridis")
        if show_points:
            labels = None if y is None else np.asarray(y.data if isinstance(y, Tensor) else y).reshape(-1)
            colors = "w" if labels is None else [CLASS_COLORS[int(c) % len(CLASS_COLORS)] for c in labels]
            ax.scatter(X[:, 0], X[:, 1], c=colors, s=4, edgecolors="none", alpha=0.8)
        ax.set_title(f"neuron {k}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    more = f", first {n} of {acts.shape[-1]}" if n < acts.shape[-1] else ""
    fig.suptitle(f"first hidden layer: {label}{more}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _histogram_grid(panels: Sequence[tuple[str, np.ndarray, str]], bins: int, title: str) -> Any:
    n = len(panels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = new_figure((3.4 * cols, 2.6 * rows + 0.4))
    for k, (name, values, note) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        v = values.reshape(-1).astype(np.float64)
        ax.hist(v[np.isfinite(v)], bins=bins, color="#4c72b0", alpha=0.85)
        ax.set_title(f"{name}\nmean {v.mean():.3g}, std {v.std():.3g}{note}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_weight_histograms(model: Any, path: str | Path | None = None, bins: int = 30,
                           include_bias: bool = False) -> Any:
    """A histogram of each layer's weights (parameters with 2+ dimensions; biases too with ``include_bias``)."""
    panels = [(f"{name} {'x'.join(map(str, p.shape))}", np.asarray(p.data), "")
              for name, p in model.named_parameters() if p.ndim >= 2 or include_bias]
    if not panels:
        raise InvalidValueError(f"plot_weight_histograms: {type(model).__name__} has no weight matrices")
    fig = _histogram_grid(panels, bins, "weights per layer")
    if path is not None:
        save_figure(fig, path)
    return fig


def layer_activations(model: Any, X: Any, kinds: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The outputs of every leaf module whose class name is in ``kinds`` (default: every activation module), by
    module name, from one forward pass of ``X`` (forward hooks, eval mode, no_grad). Falls back to Linear outputs
    when the model has none of them."""
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules]
    chosen = [(n, m) for n, m in leaves
              if (isinstance(m, Activation) if kinds is None else type(m).__name__ in kinds)] or \
             [(n, m) for n, m in leaves if isinstance(m, Linear)]
    found: dict[str, np.ndarray] = {}
    handles = [m.register_forward_hook(lambda mod, i, o, name=n: found.__setitem__(name, np.asarray(o.data)))
               for n, m in chosen]
    X = np.asarray(X.data if isinstance(X, Tensor) else X)
    try:
        with _evaluating(model):
            model(Tensor(X.astype(_dtype(model))))
    finally:
        for h in handles:
            h.remove()
    return found


def plot_activation_histograms(model: Any, X: Any, path: str | Path | None = None, bins: int = 30) -> Any:
    """A histogram of each activation layer's outputs on ``X``, with the share of dead ReLU units (exactly 0) or
    saturated sigmoid/tanh units (within 0.02 of the flat ends), the two ways a layer stops passing gradient."""
    acts = layer_activations(model, X)
    kinds = {n: type(m).__name__ for n, m in model.named_modules()}
    panels = []
    for name, a in acts.items():
        kind = kinds.get(name, "")
        if kind in ("ReLU", "LeakyReLU"):
            note = f"\n{np.mean(a <= 0):.0%} of outputs <= 0"
        elif kind == "Sigmoid":
            note = f"\n{np.mean((a < 0.02) | (a > 0.98)):.0%} saturated"
        elif kind == "Tanh":
            note = f"\n{np.mean(np.abs(a) > 0.98):.0%} saturated"
        else:
            note = ""
        panels.append((f"{name} ({kind})", a, note))
    if not panels:
        raise InvalidValueError(f"plot_activation_histograms: found no activation or Linear layer in "
                                f"{type(model).__name__}")
    fig = _histogram_grid(panels, bins, f"activations per layer on {len(np.asarray(X))} samples")
    if path is not None:
        save_figure(fig, path)
    return fig


class BoundarySnapshots(Callback):
    """A ``fit`` callback keeping a copy of the model's ``state_dict()`` every ``every`` epochs (and before the first
    epoch), for ``animate_decision_boundary``. ``max_snapshots`` caps memory: beyond it, every other one is dropped
    and the interval doubles, so the snapshots stay spread over the whole run."""

    def __init__(self, every: int = 1, max_snapshots: int = 40) -> None:
        if every < 1 or max_snapshots < 2:
            raise InvalidValueError(f"BoundarySnapshots: every must be >= 1 and max_snapshots >= 2, got {every}, "
                             f"{max_snapshots}")
        self.every, self.max_snapshots = every, max_snapshots
        self.states: list[dict[str, np.ndarray]] = []
        self.titles: list[str] = []

    def snapshot(self, model: Any, title: str) -> None:
        self.states.append(model.state_dict())
        self.titles.append(title)
        if len(self.states) > self.max_snapshots:
            self.states, self.titles, self.every = self.states[::2], self.titles[::2], self.every * 2

    def on_train_begin(self, ctx: Any) -> None:
        super().on_train_begin(ctx)
        self.snapshot(ctx.model, "before training")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        if (epoch + 1) % self.every == 0:
            loss = logs.get("loss")
            self.snapshot(self.ctx.model, f"epoch {epoch + 1}" + (f", loss {loss:.3f}" if loss is not None else ""))


def animate_decision_boundary(model: Any, states: Sequence[Mapping[str, Any]] | BoundarySnapshots, X: Any,
                              y: Any = None, path: str | Path = "boundary.gif", titles: Sequence[str] | None = None,
                              fps: int = 4, resolution: int = 60, max_frames: int = 30, size: float = 3.5,
                              output: str = "auto") -> Path:
    """A GIF of the decision boundary as training went: one frame per saved ``state_dict`` (a list of them, or a
    ``BoundarySnapshots`` callback after ``fit``). At most ``max_frames`` frames, evenly spread, small (``size``
    inches at 72 dpi, a ``resolution``^2 grid each). The model's own weights are restored afterwards."""
    from matplotlib.animation import PillowWriter

    if isinstance(states, BoundarySnapshots):
        titles = titles or states.titles
        states = states.states
    states = list(states)
    if not states:
        raise InvalidValueError("animate_decision_boundary: no states to animate (did the snapshot callback run?)")
    if titles is not None and len(titles) != len(states):
        raise InvalidValueError(f"animate_decision_boundary: {len(titles)} titles for {len(states)} states")
    pick = np.unique(np.linspace(0, len(states) - 1, min(max_frames, len(states))).round().astype(int))
    X = _check_2d(X, "animate_decision_boundary")
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise InvalidValueError(f"animate_decision_boundary: writes a GIF, so path must end in .gif, "
                                f"got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    original = model.state_dict()
    fig = new_figure((size, size))
    writer = PillowWriter(fps=fps)
    try:
        with writer.saving(fig, str(path), dpi=72):
            for k in pick:
                model.load_state_dict(states[k])
                fig.clear()
                ax = fig.add_subplot()
                _draw_boundary(ax, model, X, y, resolution, output)
                ax.set_title(titles[k] if titles is not None else f"snapshot {k}", fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
                fig.tight_layout()
                writer.grab_frame()
    finally:
        model.load_state_dict(original)
    return path
