"""The computational graph: walked without recursion, gradients equal to the engine's, drawn to SVG/PNG with
matplotlib alone (one box per op), big graphs drawn without hanging."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import BackwardError, Tensor, nn
from nnblocks.nn import functional as F
from nnblocks.viz import draw_graph, layout_graph, walk_graph
from nnblocks.viz.graph import graph_gradients, name_nodes


def mlp_loss():
    model = nn.Sequential(nn.Linear(2, 4, seed=0), nn.ReLU(), nn.Linear(4, 3, seed=1))
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32))
    y = Tensor(np.array([2, 0]))
    return model, F.cross_entropy(model(x), y)


def test_walk_is_topological_and_includes_constants():
    _, loss = mlp_loss()
    order = walk_graph(loss)
    position = {id(t): k for k, t in enumerate(order)}
    assert order[-1] is loss and len(order) == 4 + 4 + 2  # 4 ops, 4 parameters, x and y
    for t in order:
        if t.grad_fn is not None:
            assert all(position[id(p)] < position[id(t)] for p in t.grad_fn.parents)


def test_graph_gradients_equal_backward_and_leave_grad_alone():
    model, loss = mlp_loss()
    grads = graph_gradients(loss)
    assert all(p.grad is None for p in model.parameters())
    loss.backward()
    for p in model.parameters():
        np.testing.assert_allclose(grads[id(p)], p.grad, rtol=1e-6)


def test_names_follow_the_chapter():
    model, loss = mlp_loss()
    order = walk_graph(loss)
    names = name_nodes(order, dict(model.named_parameters()))
    assert sorted(names[id(t)] for t in order) == sorted(["x", "W1", "b1", "z1", "h", "W2", "b2", "y_hat", "y", "L"])


def test_draw_mlp_loss_has_one_box_per_op_svg_and_png(tmp_path):
    model, loss = mlp_loss()
    layout = layout_graph(loss, dict(model.named_parameters()))
    assert [n.label.split("\n")[0] for n in layout.op_nodes] == ["Linear", "ReLU", "Linear", "CrossEntropy"]
    assert [n.column for n in layout.op_nodes] == sorted(n.column for n in layout.op_nodes)  # data flows right
    fig = draw_graph(loss, tmp_path / "g", show_values=True, show_grads=True, params=dict(model.named_parameters()))
    svg = (tmp_path / "g.svg").read_text()
    png = (tmp_path / "g.png").read_bytes()
    assert "<svg" in svg and png[:4] == b"\x89PNG"
    for op, count in [("Linear", 2), ("ReLU", 1), ("CrossEntropy", 1)]:
        assert svg.count(f">{op}") == count, op  # text stays text in the SVG: one label per node
    assert svg.count(">W1 (0.weight)") == 1 and svg.count(">b2 (2.bias)") == 1  # leaves named from params
    assert "grad" in svg and fig.get_size_inches()[0] > 1
    draw_graph(loss, tmp_path / "only.png")
    assert (tmp_path / "only.png").read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "only.svg").exists()


def test_a_deep_graph_of_hundreds_of_nodes(tmp_path):
    a = Tensor(np.ones(3), requires_grad=True)
    t = a
    for _ in range(2000):  # 4000 ops: far beyond Python's recursion limit for a recursive walk
        t = t * 1.0001 + a
    deep = t.sum()
    assert len(walk_graph(deep)) > 6000
    np.testing.assert_allclose(graph_gradients(deep)[id(a)], np.full(3, sum(1.0001**k for k in range(2001))))
    s = a
    for _ in range(100):
        s = s * 1.01 + a
    fig = draw_graph(s.sum(), tmp_path / "big.svg", show_values=True)
    assert "<svg" in (tmp_path / "big.svg").read_text() and fig.get_size_inches().max() <= 60


def test_freed_graph_is_a_clear_error(tmp_path):
    _, loss = mlp_loss()
    loss.backward()
    with pytest.raises(BackwardError, match="freed"):
        draw_graph(loss, tmp_path / "g.png")
