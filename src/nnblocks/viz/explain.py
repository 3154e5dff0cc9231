"""The chain rule, spelled out: walk a loss's real graph from the loss back to every weight and print each step.

For every op, from the loss back (reverse topological order of the engine's own graph), the trace shows how the
gradient of the op's output becomes the gradient of each input, element by element, the way a learner derives it
by hand::

    dL/dW2[0] = dL/dy_hat (-1.1568) x h[0] (0.5890) = -0.6814

i.e. ``upstream gradient x local derivative = gradient``. The value on the right is what the op's own ``backward``
returned (so the trace is the engine, not a second implementation); the products on the left are the hand
derivation, and they add up to it. Their labels (``h(1-h)``) come from the op's declaration (``formula`` and
``derivatives``, see ``ops.Function``), their numbers from its ``local_derivatives``: the trace knows no op by name. For a parameter, a central finite difference of the loss follows, with the
difference between the two. With a batch, every weight's gradient is a sum over the samples, and the line says so.

Indices over axes of length 1 are left out: for one sample, ``h[0]`` is ``h[0, 0]``; for an output layer with one
unit, ``W2[j]`` is ``W2[0, j]`` (PyTorch's layout, weight = (out_features, in_features)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from nnblocks.autograd import enable_grad, no_grad
from nnblocks.errors import InvalidArgumentError
from nnblocks.tensor import Tensor
from nnblocks.viz.graph import graph_gradients, name_nodes, walk_graph


@dataclass
class Row:
    """One line of the trace: ``gradient = expression = value``.

    ``terms`` are the (upstream, local) pairs of the hand derivation; their products add up to ``value`` (a sum over
    outputs or samples has several). ``target`` / ``index`` name the element, so a finite difference can check it.
    """

    gradient: str
    expression: str
    value: Any
    terms: list[tuple[float, float]] = field(default_factory=list)
    target: Tensor | None = None
    index: tuple[int, ...] | None = None
    fd: float | None = None


@dataclass
class Step:
    """One op of the graph: what it computed, its local derivatives, and the rows it contributes."""

    title: str
    formula: str
    rows: list[Row]
    hidden: int = 0  # elements computed but not printed (max_elements)


@dataclass
class ChainRuleTrace:
    """The result of ``explain``: print it (text) or ``to_markdown()`` it; ``gradients`` holds every dL/d(node)."""

    loss: float
    header: list[str]
    forward: list[str]
    steps: list[Step]
    gradients: dict[str, np.ndarray]
    fd_step: float | None

    def rows(self, name: str | None = None) -> list[Row]:
        """All rows, or those for the gradient of one named tensor (e.g. ``"W2"``)."""
        out = [r for s in self.steps for r in s.rows]
        if name is None:
            return out
        return [r for r in out if r.gradient == f"dL/d{name}" or r.gradient.startswith(f"dL/d{name}[")]

    def to_text(self) -> str:
        lines = list(self.header) + ["", "Forward pass"] + ["  " + f for f in self.forward]
        lines += ["", "Backward pass: upstream gradient x local derivative = gradient, from the loss back"]
        for k, step in enumerate(self.steps, 1):
            lines += ["", f"step {k}: {step.title}", f"  local derivatives: {step.formula}"]
            body = [f"{r.gradient} = {r.expression} = {_fmt(r.value)}" for r in step.rows]
            width = max((len(b) for b in body), default=0)
            for row, text in zip(step.rows, body):
                if row.fd is not None:
                    diff = abs(float(row.value) - row.fd)
                    text = f"{text.ljust(width)}   finite difference {_fmt(row.fd)}   difference {diff:.1e}"
                lines.append("  " + text)
            if step.hidden:
                lines.append(f"  ... {step.hidden} more elements (computed; raise max_elements to print them)")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = ["### " + self.header[0], ""] + [f"- {h.strip()}" for h in self.header[1:]]
        lines += ["", "**Forward pass**", ""]
        lines += [f"- `{f}`" for f in self.forward]
        for k, step in enumerate(self.steps, 1):
            lines += ["", f"**Step {k}: `{step.title}`** — local derivatives: `{step.formula}`", "",
                      "| gradient | upstream x local | value | finite difference | difference |",
                      "|---|---|---:|---:|---:|"]
            for r in step.rows:
                fd = "" if r.fd is None else _fmt(r.fd)
                diff = "" if r.fd is None else f"{abs(float(r.value) - r.fd):.1e}"
                lines.append(f"| `{r.gradient}` | `{r.expression}` | {_fmt(r.value)} | {fd} | {diff} |")
            if step.hidden:
                lines += ["", f"*... {step.hidden} more elements not shown.*"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:  # Jupyter shows the table
        return self.to_markdown()


def _fmt(v: Any) -> str:
    """4 decimals as in the chapter; scientific notation for tiny non-zero numbers; arrays abbreviated."""
    a = np.asarray(v, dtype=np.float64)
    if a.size != 1:
        text = np.array2string(a, precision=4, separator=", ", threshold=12, edgeitems=3, floatmode="fixed",
                               max_line_width=10_000)
        return text.replace("\n", "")
    x = float(a.reshape(-1)[0]) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{x:.4e}" if 0 < abs(x) < 5e-4 else f"{x:.4f}"


def _ix(shape: tuple[int, ...], index: tuple[int, ...]) -> str:
    """``[i,j]`` keeping only the axes longer than 1 (so a single sample's ``h[0, 2]`` reads ``h[2]``)."""
    kept = [str(i) for i, n in zip(index, shape) if n > 1]
    return f"[{','.join(kept)}]" if kept else ""


def _batch_ix(shape: tuple[int, ...], i: int) -> str:
    """``[n,i]`` for sample n of a (samples, features) array, ``[n]`` when there is one feature."""
    return "[n]" if shape[1] == 1 else f"[n,{i}]"


def _product(up: str, up_v: float, local: str, local_v: float | None) -> str:
    return f"{up} ({_fmt(up_v)}) x {local}" + ("" if local_v is None else f" ({_fmt(local_v)})")


def _sum(symbol: str, pairs: list[tuple[float, float]], up: str, local: str, shown: int = 4) -> str:
    parts = [f"({_fmt(a)} x {_fmt(b)})" for a, b in pairs[:shown]]
    more = f" + ... ({len(pairs) - shown} more)" if len(pairs) > shown else ""
    return f"sum_{symbol} {up} x {local} = " + " + ".join(parts) + more


# ---- what an op declares, in the names of this graph ---------------------------------------------------------------
def _names(fn: Any, out: str, ins: list[str]) -> dict[str, Any]:
    """The values of the placeholders in an op's ``formula`` and ``derivatives`` (see ``Function``)."""
    a, b, c = (ins + ["a", "b", "c"][len(ins):])[:3]
    return {"z": out, "a": a, "b": b, "c": c, "op": fn, "i": ""}


def _formula(fn: Any, names: dict[str, Any], ins: list[str]) -> str:
    """One line: the op and its local derivatives, from its declaration (its docstring when it declares none)."""
    if fn.formula is None:
        doc = (type(fn).__doc__ or fn.name).strip().splitlines()[0]
        return f"{names['z']} = {fn.name.lower()}({', '.join(ins)});  {doc}"
    local = [f"d{names['z']}/d{name} = {label.format(**names)}"
             for name, label in zip(ins, fn.derivatives) if label is not None]
    return fn.formula.format(**names) + (";  " + ", ".join(local) if local else "")


@dataclass
class _Op:
    """One op of the graph as its rows need it: the op, its output, dL/d(output), names, local derivatives."""

    fn: Any
    out: Tensor
    g: np.ndarray
    names: dict[str, Any]
    local: tuple[Any, ...] = ()


# ---- one op's rows -------------------------------------------------------------------------------------------------
class _Tracer:
    def __init__(self, names: dict[int, str], grads: dict[int, np.ndarray], max_elements: int) -> None:
        self.names, self.grads, self.cap = names, grads, max_elements

    def n(self, t: Tensor) -> str:
        return self.names[id(t)]

    def step(self, out: Tensor) -> Step:
        fn = out.grad_fn
        ins = [self.n(p) for p in fn.parents]
        op = _Op(fn, out, self.grads[id(out)], _names(fn, self.n(out), ins))
        input_grads = fn.backward(op.g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        step = Step(f"{self.n(out)} = {fn.name.lower()}({', '.join(ins)})", _formula(fn, op.names, ins), [])
        # weights before the input, so a layer's lines end with the gradient that the next step starts from
        order = [1, 2, 0] if fn.kind == "linear" else range(len(fn.parents))
        for k in order:
            if k >= len(fn.parents) or k >= len(input_grads):
                continue
            parent, pg = fn.parents[k], input_grads[k]
            if pg is None or not parent.requires_grad:
                continue
            pg = np.asarray(pg)
            handler = self._handler(op, parent, k)
            if handler is None:  # no per-element derivation for this op: the whole gradient, honestly labelled
                step.rows.append(Row(f"dL/d{self.n(parent)}", f"dL/d{self.n(out)} pulled back through {fn.name}", pg,
                                     target=parent))
                continue
            if not op.local and not hasattr(fn, "terms"):
                op.local = fn.local_derivatives(np.ones_like(op.g))
            elements = list(np.ndindex(*parent.shape))
            for index in elements[: self.cap]:
                step.rows.append(handler(op, parent, k, pg, index))
            step.hidden += max(0, len(elements) - self.cap)
        return step

    def _handler(self, op: _Op, parent: Tensor, k: int) -> Callable | None:
        """How input k's rows are derived: a sum the op spells out itself (``terms``), a sum over the contracted
        index (linear, matmul), one product per element (an op that declares the local derivative and whose output
        element k depends on one element of input k), or None: the whole gradient in one line."""
        fn, out = op.fn, op.out
        if hasattr(fn, "terms"):
            return self._declared_sum
        if fn.kind == "linear":
            return self._linear if out.ndim >= 1 else None
        if fn.kind == "matmul":
            return self._matmul if out.ndim == 2 and all(p.ndim == 2 for p in fn.parents) else None
        declared = k < len(fn.derivatives) and fn.derivatives[k] is not None
        return self._elementwise if declared and (op.g.size == 1 or parent.shape == out.shape) else None

    def _linear(self, op: _Op, parent: Tensor, k: int, pg: np.ndarray, index: tuple[int, ...]) -> Row:
        z, x, W = op.names["z"], op.names["a"], op.names["b"]
        w, x_values = op.local[0], op.local[1]  # dz[n,i]/dx[n,j] = W[i,j], dz[n,i]/dW[i,j] = x[n,j]
        x2 = x_values.reshape(-1, x_values.shape[-1])
        g2 = op.g.reshape(-1, op.g.shape[-1])
        m = g2.shape[0]
        zs, xs = g2.shape, x2.shape
        value = float(pg[index])
        if k == 1:  # dL/dW[i,j] = sum_n dL/dz[n,i] x x[n,j]
            i, j = index
            terms = [(float(g2[s, i]), float(x2[s, j])) for s in range(m)]
            if m == 1:
                expr = _product(f"dL/d{z}{_ix(zs, (0, i))}", terms[0][0], f"{x}{_ix(xs, (0, j))}", terms[0][1])
            else:
                expr = _sum(f"n (over the {m} samples)", terms, f"dL/d{z}{_batch_ix(zs, i)}", f"{x}{_batch_ix(xs, j)}")
        elif k == 2:  # dL/db[i] = sum_n dL/dz[n,i] x 1
            (i,) = index
            terms = [(float(g2[s, i]), 1.0) for s in range(m)]
            if m == 1:
                expr = _product(f"dL/d{z}{_ix(zs, (0, i))}", terms[0][0], "1", None)
            else:
                expr = _sum(f"n (over the {m} samples)", terms, f"dL/d{z}{_batch_ix(zs, i)}", "1")
        else:  # dL/dx[n,j] = sum_i dL/dz[n,i] x W[i,j]
            n, j = np.unravel_index(np.ravel_multi_index(index, parent.shape), xs)
            terms = [(float(g2[n, i]), float(w[i, j])) for i in range(w.shape[0])]
            if w.shape[0] == 1:
                expr = _product(f"dL/d{z}{_ix(zs, (n, 0))}", terms[0][0], f"{W}{_ix(w.shape, (0, j))}", terms[0][1])
            else:
                up = f"dL/d{z}[{n},i]" if m > 1 else f"dL/d{z}[i]"
                expr = _sum("i", terms, up, f"{W}[i,{j}]")
        return Row(f"dL/d{self.n(parent)}{_ix(parent.shape, index)}", expr, value, terms, parent, index)

    def _matmul(self, op: _Op, parent: Tensor, k: int, pg: np.ndarray, index: tuple[int, ...]) -> Row:
        z, A, B, g = op.names["z"], op.names["a"], op.names["b"], op.g
        b, a = op.local  # dZ[i,j]/dA[i,p] = B[p,j], dZ[i,j]/dB[p,j] = A[i,p]
        if k == 0:  # dL/dA[i,p] = sum_j dL/dZ[i,j] x B[p,j]
            i, p = index
            terms = [(float(g[i, j]), float(b[p, j])) for j in range(g.shape[1])]
            expr = _sum("j", terms, f"dL/d{z}[{i},j]", f"{B}[{p},j]")
        else:  # dL/dB[p,j] = sum_i dL/dZ[i,j] x A[i,p]
            p, j = index
            terms = [(float(g[i, j]), float(a[i, p])) for i in range(g.shape[0])]
            expr = _sum("i", terms, f"dL/d{z}[i,{j}]", f"{A}[i,{p}]")
        return Row(f"dL/d{self.n(parent)}[{index[0]},{index[1]}]", expr, float(pg[index]), terms, parent, index)

    def _declared_sum(self, op: _Op, parent: Tensor, k: int, pg: np.ndarray, index: tuple[int, ...]) -> Row:
        """An op whose output elements each mix several input elements (a convolution, a pooling window) may say how
        for one element: ``fn.terms(k, index)`` gives what the sum runs over, the upstream gradient's index and the
        local derivative (labels with the placeholders of ``formula``), and the ``(upstream index, local value)``
        pairs whose products add up to dL/d(input k)[index]."""
        over, up_index, local, pairs = op.fn.terms(k, index)
        terms = [(float(op.g[u]), float(v)) for u, v in pairs]
        up = f"dL/d{op.names['z']}{up_index.format(**op.names)}"
        # after a max pool most products are 0: show the others first (all of them when every one is 0)
        shown = [t for t in terms if t[0] * t[1] != 0] or terms
        zeros = len(terms) - len(shown)
        expr = (_sum(over, shown, up, local.format(**op.names)) + (f" (+ {zeros} products that are 0)" if zeros else "")
                if terms else f"0 (no element of {op.names['z']} depends on it)")
        return Row(f"dL/d{self.n(parent)}{_ix(parent.shape, index)}", expr, float(pg[index]), terms, parent, index)

    def _elementwise(self, op: _Op, parent: Tensor, k: int, pg: np.ndarray, index: tuple[int, ...]) -> Row:
        g = op.g
        local = np.broadcast_to(np.asarray(op.local[k]), parent.shape)
        up = np.broadcast_to(g.reshape(()), parent.shape) if g.size == 1 else g  # a loss or a sum: one number
        label = op.fn.derivatives[k].format(**{**op.names, "i": _ix(parent.shape, index)})
        up_index = () if g.size == 1 else index
        up_label = f"dL/d{op.names['z']}{_ix(g.shape, up_index) if up_index else ''}"
        terms = [(float(up[index]), float(local[index]))]
        expr = _product(up_label, terms[0][0], label, terms[0][1])
        return Row(f"dL/d{self.n(parent)}{_ix(parent.shape, index)}", expr, float(pg[index]), terms, parent, index)


# ---- the public function -------------------------------------------------------------------------------------------
def explain(loss: Tensor | Callable[[], Tensor], params: Mapping[str, Tensor] | None = None, *,
            recompute: Callable[[], Tensor] | None = None, max_elements: int = 12, fd_step: float | None = None,
            finite_differences: bool = True) -> ChainRuleTrace:
    """Trace the chain rule through the graph of ``loss``, node by node from the loss back to each weight.

    ``loss`` is a scalar Tensor whose graph is still intact (before ``backward()``, or after
    ``backward(retain_graph=True)``), or a zero-argument function that computes it. The finite-difference column
    needs a way to recompute the loss after nudging one weight: a function given as ``loss``, or ``recompute``.
    It is the central difference (L(w + h) - L(w - h)) / 2h, with h = ``fd_step`` (default 1e-4 in float64,
    1e-2 in float32, where a smaller step drowns in rounding error). ``params`` (e.g.
    ``dict(model.named_parameters())``) names the weights in the header. At most ``max_elements`` elements of each
    gradient are printed (all are computed). Nothing is written to ``.grad``.
    """
    if callable(loss) and not isinstance(loss, Tensor):
        recompute = recompute or loss
        with enable_grad():
            loss = loss()
    if not isinstance(loss, Tensor):
        raise InvalidArgumentError(
            f"explain: expected a scalar loss Tensor or a function returning one, got {type(loss).__name__}")
    order = walk_graph(loss)
    grads = graph_gradients(loss, order)
    names = name_nodes(order, params)
    tracer = _Tracer(names, grads, max_elements)
    steps = [tracer.step(t) for t in reversed(order) if t.grad_fn is not None]

    leaves = [t for t in order if t.grad_fn is None and t.requires_grad]
    step_size = None
    if finite_differences and recompute is not None and leaves:
        step_size = fd_step or (1e-4 if all(t.dtype == np.float64 for t in leaves) else 1e-2)
        for row in (r for s in steps for r in s.rows):
            if row.target is not None and row.target.grad_fn is None and row.index is not None:
                row.fd = _central_difference(recompute, row.target, row.index, step_size)

    header = _header(loss, order, names, params, recompute is not None and finite_differences, step_size)
    forward = []
    for t in order:
        if t.grad_fn is not None:
            ins = ", ".join(names[id(p)] for p in t.grad_fn.parents)
            forward.append(f"{names[id(t)]} = {t.grad_fn.name.lower()}({ins}) = {_fmt(t.data)}")
    gradients = {names[id(t)]: grads[id(t)] for t in order if id(t) in grads}
    return ChainRuleTrace(float(loss.data.reshape(-1)[0]), header, forward, steps, gradients, step_size)


def _central_difference(recompute: Callable[[], Tensor], leaf: Tensor, index: tuple[int, ...], h: float) -> float:
    """(L(w + h) - L(w - h)) / 2h for one element of a leaf, restoring it exactly afterwards."""
    original = leaf.data[index].copy()
    try:
        with no_grad():
            leaf.data[index] = original + h
            plus = float(np.asarray(recompute().data, dtype=np.float64).sum())
            leaf.data[index] = original - h
            minus = float(np.asarray(recompute().data, dtype=np.float64).sum())
    finally:
        leaf.data[index] = original
    return (plus - minus) / (2 * h)


def _header(loss: Tensor, order: list[Tensor], names: dict[int, str], params: Mapping[str, Tensor] | None,
            fd: bool, step: float | None) -> list[str]:
    lines = [f"Chain-rule trace of L = {_fmt(loss.data)}  ({len([t for t in order if t.grad_fn])} ops, "
             f"dtype {loss.dtype})"]
    by_id = {id(t): n for n, t in (params or {}).items()}
    for t in order:
        if t.grad_fn is None:
            role = "parameter" if t.requires_grad else "data"
            alias = f" ({by_id[id(t)]})" if id(t) in by_id and by_id[id(t)] != names[id(t)] else ""
            lines.append(f"  {names[id(t)]}{alias}: {role}, shape {t.shape} = {_fmt(t.data)}")
    batch = next((t.shape[0] for t in order if t.grad_fn is None and not t.requires_grad and t.ndim == 2), 1)
    if batch > 1:
        lines.append(f"A batch of {batch} samples: each weight's gradient is the SUM over the samples of the "
                     "per-sample products (the loss's 1/n mean is already inside dL/dy_hat).")
    lines.append("Indices over axes of length 1 are left out (h[2] is h[0,2]; W2[j] is W2[0,j] for one output).")
    if fd:
        lines.append(f"Finite difference: (L(w+h) - L(w-h)) / 2h with h = {step:g}, for every weight element shown.")
    return lines
