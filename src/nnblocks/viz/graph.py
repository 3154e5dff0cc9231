"""The computational graph behind a tensor: walk it, name its nodes, and draw it.

``walk_graph(t)`` follows ``grad_fn`` / ``parents`` from ``t`` back to the leaves without recursion and returns the
tensors in topological order (each after its inputs). ``graph_gradients`` re-runs every op's own ``backward`` on
that order, exactly as ``Tensor.backward`` does, but keeps the gradient of every node (intermediate ones too) and
touches neither ``.grad`` nor the saved arrays, so the graph can still be backpropagated, explained or drawn.

``draw_graph`` lays the graph out in layers (column = distance from the inputs, so data flows left to right, as in
the chapter's network pictures) and draws it with matplotlib alone, to SVG and/or PNG: no system Graphviz needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnblocks.autograd import backpropagate, topological_order
from nnblocks.errors import BackwardError, InvalidArgumentError
from nnblocks.tensor import Tensor
from nnblocks.viz.figures import new_figure, save_figure

BIG_GRAPH = 60  # nodes above which labels shrink to one word and the figure stops growing


def walk_graph(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` was computed from (constants included), inputs first, ``root`` last.

    An iterative depth-first search, so a graph thousands of ops deep raises no RecursionError.
    """
    if not isinstance(root, Tensor):
        raise InvalidArgumentError(f"walk_graph: expected a nnblocks Tensor, got {type(root).__name__}")
    order = topological_order(root)
    for node in order:
        _check_not_freed(node)
    return order


def _check_not_freed(t: Tensor) -> None:
    if t.grad_fn is not None and t.grad_fn.released:
        raise BackwardError(
            f"the graph behind this tensor was freed by backward() ({t.grad_fn.name}'s saved values are gone); "
            "explain or draw it before calling backward(), or call backward(retain_graph=True)"
        )


def graph_gradients(root: Tensor, order: list[Tensor] | None = None) -> dict[int, np.ndarray]:
    """dL/dt for every tensor t of the graph that requires a gradient, keyed by ``id(t)``, with L = ``root``.

    Runs each op's own ``backward`` in reverse topological order and sums the gradients of tensors used more than
    once (the multivariable chain rule). Unlike ``root.backward()`` nothing is stored in ``.grad`` and nothing freed.
    """
    if root.data.size != 1:
        raise BackwardError(f"graph_gradients: the root must be a scalar (a loss), got shape {root.shape}")
    if not root.requires_grad:
        raise BackwardError("graph_gradients: the root does not require grad (no parameter took part, or no_grad())")
    order = walk_graph(root) if order is None else order
    return {id(node): grad for node, grad in backpropagate(root, np.ones_like(root.data), order=order)}


# ---- names ---------------------------------------------------------------------------------------------------------
def name_nodes(order: list[Tensor], params: Mapping[str, Tensor] | None = None) -> dict[int, str]:
    """Short math names for the tensors of a graph, as a learner would write them.

    The k-th linear layer (counted from the input) computes ``z{k}`` from ``W{k}`` and ``b{k}``; activations give
    ``h{k}`` (just ``h`` when there is one); the loss is ``L``, its prediction ``y_hat`` and its target ``y``; the
    first layer's data input is ``x``. Which op is which comes from each op's ``kind`` (see ``ops.Function``).
    A tensor's own ``.name`` wins over all of these; ``params`` (e.g. ``dict(model.named_parameters())``) names the
    leaves that no layer pattern names.
    """
    names: dict[int, str] = {}
    param_names = {id(t): n for n, t in (params or {}).items()}
    n_act = sum(1 for t in order if t.grad_fn is not None and t.grad_fn.kind == "activation")
    linear_k = act_k = const_k = 0
    counts: dict[str, int] = {}
    for t in order:
        fn = t.grad_fn
        if fn is None:
            continue
        if fn.kind in ("linear", "matmul"):
            linear_k += 1
            names.setdefault(id(t), f"z{linear_k}")
            if fn.kind == "linear":
                for parent, sym in zip(fn.parents, ("x", "W", "b")):
                    if sym == "x":
                        if linear_k == 1 and parent.grad_fn is None and not parent.requires_grad:
                            names.setdefault(id(parent), "x")
                    elif parent.grad_fn is None:
                        names.setdefault(id(parent), f"{sym}{linear_k}")
        elif fn.kind == "activation":
            act_k += 1
            names.setdefault(id(t), "h" if n_act == 1 else f"h{act_k}")
        else:
            counts[fn.name] = counts.get(fn.name, 0) + 1
            names.setdefault(id(t), f"{fn.name.lower()}{counts[fn.name]}")
    root = order[-1] if order else None
    if root is not None and root.grad_fn is not None and root.grad_fn.kind == "loss":
        names[id(root)] = "L"
        parents = root.grad_fn.parents
        names[id(parents[0])] = "y_hat"
        if len(parents) > 1:
            names[id(parents[1])] = "y"
    elif root is not None and root.data.size == 1:
        names[id(root)] = "L"
    for t in order:
        if id(t) in param_names and id(t) not in names:
            names[id(t)] = param_names[id(t)]
        if id(t) not in names:
            if t.requires_grad:
                names[id(t)] = param_names.get(id(t), f"p{len(names)}")
            else:
                const_k += 1
                names[id(t)] = f"c{const_k}"
        if t.name:
            names[id(t)] = t.name
    return names


# ---- layout --------------------------------------------------------------------------------------------------------
@dataclass
class GraphNode:
    """One box of the drawing: an op (its output tensor) or a leaf (parameter, input or constant)."""

    tensor: Tensor
    kind: str  # "op", "param", "input" or "const"
    label: str
    column: int = 0
    row: float = 0.0
    parents: list[int] = field(default_factory=list)  # indices into GraphLayout.nodes


@dataclass
class GraphLayout:
    nodes: list[GraphNode]
    n_columns: int
    n_rows: int

    @property
    def op_nodes(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind == "op"]


def _short_array(a: np.ndarray, max_items: int) -> str:
    a = np.asarray(a)
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]) + 0.0:.4g}"
    flat = a.reshape(-1)
    items = ", ".join(f"{float(v) + 0.0:.3g}" for v in flat[:max_items])
    return f"[{items}{', ...' if flat.size > max_items else ''}]"


def layout_graph(root: Tensor, params: Mapping[str, Tensor] | None = None, show_values: bool = False,
                 show_grads: bool = False, max_items: int = 4) -> GraphLayout:
    """Nodes of the graph placed in columns by their longest distance from the inputs, rows ordered to keep edges
    short (each node near the mean row of its inputs). Labels: op name or leaf name, shape, optional value/grad."""
    order = walk_graph(root)
    names = name_nodes(order, params)
    param_names = {id(t): n for n, t in (params or {}).items()}
    grads = graph_gradients(root, order) if show_grads and root.requires_grad and root.data.size == 1 else {}
    big = len(order) > BIG_GRAPH  # a big graph gets one-word labels: op name or leaf name
    index = {id(t): i for i, t in enumerate(order)}
    nodes: list[GraphNode] = []
    for t in order:
        fn = t.grad_fn
        if fn is not None:
            kind, head = "op", f"{fn.name}\n{names[id(t)]}"
        elif t.requires_grad:
            kind = "param"
            head = names[id(t)] + (f" ({param_names[id(t)]})" if id(t) in param_names
                                   and param_names[id(t)] != names[id(t)] else "")
        else:
            kind, head = ("input" if t.data.size > 1 else "const"), names[id(t)]
        lines = [head.split("\n")[0]] if big else [head, "x".join(str(s) for s in t.shape) or "scalar"]
        if not big:
            if show_values:
                lines.append("= " + _short_array(t.data, max_items))
            if show_grads and id(t) in grads:
                lines.append("grad " + _short_array(grads[id(t)], max_items))
        parents = [index[id(p)] for p in fn.parents] if fn is not None else []
        nodes.append(GraphNode(t, kind, "\n".join(lines), parents=parents))
    _place(nodes)
    n_columns = 1 + max(n.column for n in nodes)
    per_column = np.bincount([n.column for n in nodes])
    return GraphLayout(nodes, n_columns, int(per_column.max()))


def _place(nodes: list[GraphNode]) -> None:
    """Columns and rows. An op sits one op-column after its latest op input (odd slots); each leaf sits in the slot
    just before its first consumer (even slots), stacked around that consumer's row; empty slots are dropped."""
    op_col: dict[int, int] = {}
    consumers: dict[int, list[tuple[int, int]]] = {}
    for i, node in enumerate(nodes):  # topological order: inputs are placed before the ops that use them
        if node.kind == "op":
            op_col[i] = 1 + max((op_col[p] for p in node.parents if p in op_col), default=-1)
            for k, p in enumerate(node.parents):
                consumers.setdefault(p, []).append((i, k))
    slot = {i: 2 * c + 1 for i, c in op_col.items()}
    for i, node in enumerate(nodes):
        if node.kind != "op":
            first = min((slot[c] for c, _ in consumers.get(i, [])), default=1)
            slot[i] = first - 1
    used = sorted(set(slot.values()))
    compact = {s: k for k, s in enumerate(used)}
    for i, node in enumerate(nodes):
        node.column = compact[slot[i]]
    # rows: ops near the mean row of their op inputs, then leaves stacked around their consumer
    by_column: dict[int, list[int]] = {}
    for i in sorted(op_col, key=lambda i: nodes[i].column):
        by_column.setdefault(nodes[i].column, []).append(i)
    for members in by_column.values():
        def centre(i: int) -> float:
            ins = [nodes[p].row for p in nodes[i].parents if p in op_col]
            return float(np.mean(ins)) if ins else 0.0
        members.sort(key=centre)
        for r, i in enumerate(members):
            nodes[i].row = r - (len(members) - 1) / 2 + (centre(i) if len(members) == 1 else 0.0)
    leaves: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if node.kind != "op":
            leaves.setdefault(node.column, []).append(i)
    for members in leaves.values():
        def anchor(i: int) -> tuple[float, int]:
            uses = consumers.get(i, [(i, 0)])
            return (nodes[uses[0][0]].row, uses[0][1])
        members.sort(key=anchor)
        mid = float(np.mean([anchor(i)[0] for i in members]))
        fed = any(q in op_col for i in members for c, _ in consumers.get(i, []) for q in nodes[c].parents)
        if fed and len(members) % 2:  # keep clear of the op-to-op edge that runs along the consumer's row
            mid -= 0.6
        for r, i in enumerate(members):
            nodes[i].row = mid + r - (len(members) - 1) / 2


_COLORS = {"op": "#dbe9f6", "param": "#fde6c8", "input": "#e6e6e6", "const": "#f3f3f3"}


def draw_graph(tensor: Tensor, path: str | Path | None = None, show_values: bool = False, show_grads: bool = False,
               params: Mapping[str, Tensor] | None = None, max_items: int = 4) -> Any:
    """Draw the graph that produced ``tensor`` and return the matplotlib Figure.

    Boxes: blue = ops (op name, the output's name and shape), orange = parameters (leaves that require a gradient,
    named from ``params`` such as ``dict(model.named_parameters())`` when given), grey = data and constants.
    ``show_values`` adds each node's value and ``show_grads`` its gradient dL/d(node) (the root must be a scalar;
    gradients are computed by re-running the ops' backward, so ``.grad`` is left alone). Graphs above 60 nodes
    get short labels. ``path``: ``.svg`` or ``.png`` writes that format; no suffix writes both ``path.svg`` and
    ``path.png``. The SVG keeps its text as text (searchable, selectable).
    """
    from matplotlib.collections import LineCollection

    layout = layout_graph(tensor, params, show_values, show_grads, max_items)
    nodes = layout.nodes
    small = len(nodes) > BIG_GRAPH
    fontsize = 6 if small else 8
    char_w, line_h = fontsize * 0.62 / 72, fontsize * 1.25 / 72  # inches per monospace character / text line
    box_w = [max(len(line) for line in n.label.splitlines()) * char_w + 0.15 for n in nodes]
    box_h = [len(n.label.splitlines()) * line_h + 0.12 for n in nodes]
    col_w = [0.0] * layout.n_columns
    for node, w in zip(nodes, box_w):
        col_w[node.column] = max(col_w[node.column], w)
    gap = 0.45
    col_x = np.concatenate([[0.0], np.cumsum(np.asarray(col_w) + gap)])[:-1] + np.asarray(col_w) / 2
    dy = max(box_h) + 0.2
    xy = [(float(col_x[n.column]), -n.row * dy) for n in nodes]
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    left, right = min(xs) - max(box_w) / 2 - 0.2, max(xs) + max(box_w) / 2 + 0.2
    bottom, top = min(ys) - max(box_h) / 2 - 0.2, max(ys) + max(box_h) / 2 + 0.2
    # one data unit is one inch up to a size cap; past it the drawing is scaled down (a huge graph is an overview)
    fig = new_figure((min(right - left, 60.0), min(top - bottom, 60.0)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    segments, heads = [], []
    for i, node in enumerate(nodes):
        x, y = xy[i]
        for p in node.parents:
            px, py = xy[p]
            segments.append([(px + box_w[p] / 2, py), (x - box_w[i] / 2, y)])
            heads.append((x - box_w[i] / 2, y))
    # all edges as one collection (hundreds of arrow patches would be slow to draw)
    ax.add_collection(LineCollection(segments, colors="#777777", linewidths=0.7, zorder=1))
    if heads:
        ax.scatter(*zip(*heads), marker=">", s=12, c="#777777", zorder=2, linewidths=0)
    for node, (x, y) in zip(nodes, xy):
        ax.text(x, y, node.label, ha="center", va="center", fontsize=fontsize, family="monospace", zorder=3,
                bbox=dict(boxstyle="round,pad=0.3", fc=_COLORS[node.kind], ec="#555555", lw=0.6))
    if path is not None:
        path = Path(path)
        for target in [path] if path.suffix else [path.with_suffix(".svg"), path.with_suffix(".png")]:
            save_figure(fig, target, dpi=100)
    return fig
