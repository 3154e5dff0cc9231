"""The maths behind a click: a weight's or a neuron's chain-rule lines, and the gradients' finite-difference check.

Both work on a copy of the model, so looking never changes the run:

- ``explain_weight`` / ``explain_neuron``: ``nnblocks.viz.explain`` (the trace ``nnblocks explain`` prints) of the
  current batch's training objective (data loss + penalties), on a float64 copy in eval mode, with the lines of the
  element clicked; beside them, its central finite difference (``gradcheck.central_differences``). Float64, because
  a float32 finite difference is good to ~1e-3 only; eval mode, because dropout would draw a new mask for each
  re-evaluation of the loss and the finite difference would compare two different functions.
- ``gradient_check``: ``train.SpotChecker`` (``nnblocks train --check-gradients``) on the current batch in training
  mode, dropout masks replayed: every parameter's engine gradient of the data loss against float64 central
  differences, for up to ``CHECKED_ELEMENTS`` elements of each.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from nnblocks import nn
from nnblocks.autograd import enable_grad, no_grad
from nnblocks.gradcheck import central_differences, relative_error
from nnblocks.playground.run import Run, add_penalties
from nnblocks.playground.settings import SettingsError
from nnblocks.tensor import Tensor
from nnblocks.train.spot_check import DEFAULT_RTOL, SpotChecker, SpotCheckWarning
from nnblocks.viz.explain import explain
from nnblocks.viz.graph import name_nodes, walk_graph

FD_STEP = 1e-6  # float64 central differences: truncation ~h^2, rounding ~1e-16/h; 1e-6 balances them (~1e-10)
CHECKED_ELEMENTS = 16


def _float64(t: Tensor) -> Tensor:
    return Tensor(t.data.astype(np.float64)) if t.data.dtype.kind == "f" else Tensor(t.data)


class _Traced:
    """The current batch's objective on a float64 eval-mode copy, its trace, and the names the trace gave."""

    def __init__(self, run: Run) -> None:
        self.model = copy.deepcopy(run.model).double().eval()
        x, target = run.current_batch()
        self.x, self.target = _float64(x), _float64(target)
        self.linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        self.outputs: dict[int, Tensor] = {}  # per module (by id): its output in this forward pass
        weights = [m.weight for m in self.linears]

        def objective() -> Tensor:
            return add_penalties(run.loss_fn(self.model(self.x), self.target), run.settings, weights)

        self.objective = objective
        handles = [m.register_forward_hook(self._keep) for m in self.model.modules() if m is not self.model]
        try:
            with enable_grad():
                self.loss = objective()
        finally:
            for h in handles:
                h.remove()
        self.params = dict(self.model.named_parameters())
        largest = max(p.data.size for p in self.params.values())
        self.trace = explain(self.loss, self.params, max_elements=largest, finite_differences=False)
        self.names = name_nodes(walk_graph(self.loss), self.params)
        self.samples = int(self.x.shape[0])

    def _keep(self, module: nn.Module, inputs: Any, output: Tensor) -> None:
        self.outputs[id(module)] = output

    def lines(self, tensor: Tensor, index: tuple[int, ...]) -> list[dict[str, Any]]:
        """Every trace line computing dL/d(tensor)[index]: one per path from the loss (the layer above, a penalty),
        with the step it belongs to and that step's local derivatives."""
        found = []
        for step in self.trace.steps:
            for row in step.rows:
                if row.target is tensor and row.index == index:
                    found.append({"step": step.title, "formula": step.formula,
                                  "line": f"{row.gradient} = {row.expression} = {_fmt(row.value)}",
                                  "value": float(row.value)})
        return found

    def finite_difference(self, leaf: Tensor, index: tuple[int, ...]) -> float:
        def loss() -> float:
            with no_grad():
                return float(self.objective().item())

        flat = int(np.ravel_multi_index(index, leaf.shape))
        return float(central_differences(loss, leaf.data, FD_STEP, [flat])[0])

    def notes(self) -> list[str]:
        notes = [f"the current batch: {self.samples} sample(s); float64 copy of the model in eval mode"]
        if any(isinstance(m, nn.Dropout) for m in self.model.modules()):
            notes.append("dropout is off here (eval mode): the finite difference needs the same function twice")
        return notes


def _fmt(v: Any) -> str:
    """A number as the trace prints it (4 decimals; tiny ones in scientific notation), for the line's total."""
    x = float(np.asarray(v, dtype=np.float64).reshape(-1)[0]) + 0.0
    return f"{x:.4e}" if 0 < abs(x) < 5e-4 else f"{x:.4f}"


def _index(value: Any, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != len(shape) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i, n in zip(value, shape)):
        raise SettingsError(f"{what}: index must be a list of {len(shape)} whole number(s) within shape "
                            f"{list(shape)}, got {value!r}")
    return tuple(value)


def _result(traced: _Traced, title: str, leaf: Tensor, index: tuple[int, ...], lines: list[dict[str, Any]],
            extra: list[dict[str, Any]] = ()) -> dict[str, Any]:
    name = traced.names[id(leaf)]
    gradient = float(traced.trace.gradients[name][index])
    fd = traced.finite_difference(leaf, index)
    return {"title": title, "loss": traced.trace.loss, "notes": traced.notes(), "lines": lines,
            "upstream": list(extra), "gradient": gradient, "finite_difference": fd,
            "relative_error": float(relative_error(gradient, fd)), "fd_step": FD_STEP}


def explain_weight(run: Run, layer: Any, index: Any) -> dict[str, Any]:
    """The chain-rule lines of weight ``[i, j]`` of Linear layer ``layer`` (0 = the first), with its finite
    difference. A JSON-able dict: title, notes, lines, gradient, finite_difference, relative_error."""
    traced = _Traced(run)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(traced.linears):
        raise SettingsError(f"layer: expected a whole number in [0, {len(traced.linears) - 1}], got {layer!r}")
    weight = traced.linears[layer].weight
    ij = _index(index, weight.shape, "weight")
    name = traced.names[id(weight)]
    return _result(traced, f"weight {name}[{ij[0]},{ij[1]}] (layer {layer + 1}, from unit {ij[1]} to unit {ij[0]})",
                   weight, ij, traced.lines(weight, ij))


def explain_neuron(run: Run, layer: Any, unit: Any) -> dict[str, Any]:
    """A neuron's lines: its bias's gradient (the sum over the batch of dL/dz at that unit), and for the batch's
    first sample, how dL/dz at the unit comes from its activation and the layer above. Layer 0 is the first hidden
    layer; the last layer is the output."""
    traced = _Traced(run)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(traced.linears):
        raise SettingsError(f"layer: expected a whole number in [0, {len(traced.linears) - 1}], got {layer!r}")
    linear = traced.linears[layer]
    (i,) = _index([unit] if not isinstance(unit, list) else unit, linear.bias.shape, "unit")
    modules = list(traced.model)
    position = modules.index(linear)
    z = traced.outputs[id(linear)]
    upstream = []
    if position + 1 < len(modules) and not isinstance(modules[position + 1], (nn.Linear, nn.Dropout)):
        h = traced.outputs[id(modules[position + 1])]
        if h is not z:  # a "linear" activation is the identity: h is z, no line of its own
            upstream += traced.lines(h, (0, i))
    upstream += traced.lines(z, (0, i))
    name = traced.names[id(linear.bias)]
    title = f"neuron {i} of {'the output layer' if layer == len(traced.linears) - 1 else f'hidden layer {layer + 1}'}"
    return _result(traced, f"{title}: its bias {name}[{i}]", linear.bias, (i,), traced.lines(linear.bias, (i,)),
                   upstream)


def gradient_check(run: Run) -> dict[str, Any]:
    """Every parameter's engine gradient (of the data loss, on the current batch, float32 as training computes it)
    against float64 central differences: the spot checker of ``nnblocks train --check-gradients``."""
    model = copy.deepcopy(run.model).train()  # its own dropout generators: the run's masks are not drawn
    x, target = run.current_batch()
    largest = max(p.data.size for p in model.parameters())
    checker = SpotChecker(1, samples=min(CHECKED_ELEMENTS, largest))
    checker.start_step(model)
    model.zero_grad()
    loss = run.loss_fn(model(x), target)
    loss.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpotCheckWarning)
        record = checker.check(model, run.loss_fn, x, target, loss.item())
    rows = [{"name": c.name, "max_rel_error": c.max_rel_error, "index": list(c.index), "engine": c.engine,
             "numeric": c.numeric, "ok": bool(c.max_rel_error <= DEFAULT_RTOL)} for c in checker.last]
    return {"tolerance": DEFAULT_RTOL, "samples": checker.samples, "batch": int(x.shape[0]), "parameters": rows,
            "note": record.get("note"), "warnings": [str(w.message) for w in caught],
            "penalty_note": "the data loss only: the L1/L2 terms add their own gradient (l1 sign(w), 2 l2 w)"
            if run.settings.l1 or run.settings.l2 else None}
