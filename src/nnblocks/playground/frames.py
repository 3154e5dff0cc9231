"""What the page draws, computed from a run: one *frame* (the live state) and the *points* (sent once per data set).

A frame holds the weights (exact float32 values, so the page can compare two frames' weights), the losses, the
curve, the last step's gradient norms, and two pictures computed by the model in eval mode on a grid over the data:

- the decision boundary (``BOUNDARY`` x ``BOUNDARY`` cells): for classes, each cell's predicted class and its
  confidence; for regression, the predicted value on the targets' range;
- each hidden neuron's output (``NEURON`` x ``NEURON`` cells), scaled by its largest magnitude on the grid.

Pictures travel as base64 bytes (one byte a cell): 2,500 cells take 3.3 kB, about a fifth of the same numbers as
JSON text. With 3 layers of 8 neurons a frame is about 26 kB (6 layers of 16: 93 kB).
"""
from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from nnblocks import nn
from nnblocks.autograd import no_grad
from nnblocks.ops.activation import stable_sigmoid
from nnblocks.playground.run import Run
from nnblocks.tensor import Tensor
from nnblocks.train import current_lr

BOUNDARY = 50
NEURON = 20
CHUNK = 512  # grid rows per forward pass: 512 x 16 x 16 = 131,072 multiply-adds, one BLAS thread (see layer_outputs)


def _b64(values: np.ndarray) -> str:
    """Cells 0..255 as base64 bytes (a NaN cell, from weights gone non-finite, as 0)."""
    cells = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0), 0, 255)
    return base64.b64encode(cells.astype(np.uint8).tobytes()).decode("ascii")


def grid(domain: tuple[float, float, float, float], n: int) -> np.ndarray:
    """The centres of an n x n grid of cells over the domain, row by row from the top (y decreasing), as the page
    paints them: shape (n * n, 2), in the data's raw units."""
    x_min, x_max, y_min, y_max = domain
    xs = x_min + (np.arange(n) + 0.5) * (x_max - x_min) / n
    ys = y_max - (np.arange(n) + 0.5) * (y_max - y_min) / n
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def layer_outputs(model: nn.Module, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Every hidden layer's output (after its activation) and the network's output, in eval mode, no graph.

    The grid goes through in chunks of ``CHUNK`` rows: OpenBLAS runs a product of more than 262,144 multiply-adds on
    all its threads, and with the cores busy (the trainers, other programs) those threads wait for each other: a
    2,500 x 16 by 16 x 16 product took 20 ms instead of 0.1 ms on a loaded 2-core machine, a 6 x 16 network's frame
    130 ms instead of 24 (measured). Chunks stay below that size; they cost ~1 ms of extra module calls.
    """
    was_training = model.training
    model.eval()
    outputs: list[list[np.ndarray]] = []
    try:  # weights gone non-finite on the way to a divergence give NaN cells, not warnings
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, len(x), CHUNK):
                h, layers = Tensor(x[start:start + CHUNK]), []
                for module in model:
                    h = module(h)
                    if not isinstance(module, (nn.Linear, nn.Dropout)):
                        layers.append(h.data)
                outputs.append(layers + [h.data])
    finally:
        model.train(was_training)
    joined = [np.concatenate(parts) for parts in zip(*outputs)]
    return joined[:-1], joined[-1]


def class_scores(out: np.ndarray, loss: str) -> np.ndarray:
    """Per-class scores of the outputs: softmax probabilities (cross-entropy), ``[1 - p, p]`` (BCE), or the raw
    outputs trained against one-hot targets (MSE), clipped to [0, 1]."""
    out = out.astype(np.float64)
    if loss == "cross-entropy":
        with np.errstate(invalid="ignore"):
            e = np.exp(out - out.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
    if loss == "bce":
        p = stable_sigmoid(out[:, :1])
        return np.concatenate([1 - p, p], axis=1)
    return np.clip(out, 0.0, 1.0)


def boundary(run: Run, out: np.ndarray) -> dict[str, Any]:
    """The decision picture: class and confidence per cell (0: a tie, 255: certain), or the value on the training
    targets' range for regression."""
    if run.points.task == "classification":
        scores = class_scores(out, run.loss_name)
        k = scores.shape[1]
        best = scores.argmax(axis=1)
        top = scores.max(axis=1)
        confidence = (top - 1 / k) / (1 - 1 / k)
        return {"kind": "classes", "n": BOUNDARY, "classes": k, "class": _b64(best),
                "confidence": _b64(np.round(255 * confidence))}
    targets = run.points.splits.train[1]
    lo, hi = float(targets.min()), float(targets.max())
    with np.errstate(invalid="ignore"):
        value = (out[:, 0] - lo) / max(hi - lo, 1e-12)
    return {"kind": "value", "n": BOUNDARY, "low": lo, "high": hi, "value": _b64(np.round(255 * value))}


def neurons(hidden: list[np.ndarray]) -> dict[str, Any]:
    """Each hidden neuron's output on the small grid: bytes 0..255 for -max..+max of its magnitude there."""
    layers = []
    for h in hidden:
        scale = np.abs(h).max(axis=0)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        with np.errstate(invalid="ignore"):
            cells = np.round(127.5 + 127.5 * np.clip(h / safe, -1, 1))
        layers.append([{"image": _b64(cells[:, j]), "scale": float(scale[j])} for j in range(h.shape[1])])
    return {"n": NEURON, "layers": layers}


def frame(run: Run, *, run_id: int, data_version: int, playing: bool) -> dict[str, Any]:
    """The live state of ``run`` as JSON-able values (see the module docstring)."""
    domain = run.points.domain
    scaling = run.points.scaling
    _, out = layer_outputs(run.model, scaling(grid(domain, BOUNDARY)))
    hidden, _ = layer_outputs(run.model, scaling(grid(domain, NEURON)))
    linears = [m for m in run.model.modules() if isinstance(m, nn.Linear)]
    return {
        "run": run_id, "data_version": data_version, "playing": playing, "error": run.error,
        "epoch": run.epoch, "step": run.step, "batch": run.batch, "batches": len(run.train_loader),
        "lr": current_lr(run.optimizer),
        "loss": {**run.losses, "batch": run.batch_loss},
        "curve": run.curve.to_dict(),
        "network": {"sizes": list(run.model.sizes), "activation": list(run.settings.activation),
                    "output": run.settings.output, "loss": run.loss_name,
                    "parameters": [[f"{name}.weight", f"{name}.bias"] for name, m in run.model.named_modules()
                                   if isinstance(m, nn.Linear)]},
        "weights": [{"w": m.weight.data.tolist(), "b": m.bias.data.tolist()} for m in linears],
        "grad_norms": run.grad_norms,
        "boundary": boundary(run, out),
        "neurons": neurons(hidden),
        "settings": run.settings.to_dict(),
    }


def to_json(value: Any) -> bytes:
    """Compact JSON; NaN and infinities (a run on its way to diverging) become null, which JavaScript can parse."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def points(run: Run, data_version: int) -> dict[str, Any]:
    """The train and test points in raw units with their labels (class index, or target value), and the domain."""
    splits = run.points.splits

    def part(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        labels = y.reshape(-1).tolist() if splits.task == "classification" else np.round(y[:, 0], 5).tolist()
        return {"x": np.round(X, 5).tolist(), "y": labels}

    classes = splits.classes or [str(k) for k in range(splits.num_classes)]
    return {"data_version": data_version, "name": run.points.name, "task": splits.task,
            "classes": classes if splits.task == "classification" else None, "domain": list(run.points.domain),
            "train": part(run.points.raw_train, splits.train[1]), "test": part(run.points.raw_test, splits.val[1])}
