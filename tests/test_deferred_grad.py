"""A Linear weight's gradient kept as its factors (``autograd.DeferredGradient``, ``ops.blas.DeferredProduct``).

What must hold: nobody can tell. ``.grad`` reads as the matrix G^T X at any time (before the step, after it, after
the batch was changed in place); gradients accumulate; ``zero_grad`` in both modes; every optimizer that needs the
array gets it; plain SGD's update from the factors equals the update from the matrix.

Tolerances: float64 products differ from NumPy's only in the order of a K-term sum (K = the batch), far below the
1e-12 relative used here. Plain SGD from the factors rounds ``w + (-lr) (G^T X)`` once where the axpy rounds ``lr *
dW`` and then the sum: at most one ulp of the operands per element and step.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.autograd import DeferredGradient

pytest.importorskip("scipy")  # the deferral needs the engine's BLAS


def _layer(dtype=np.float64, sizes=(784, 300)):
    return nn.Linear(*sizes, dtype=dtype, seed=3)


def _batch(rows=16, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 784)).astype(dtype), rng.standard_normal((rows, 300)).astype(dtype)


def test_small_batch_weight_gradient_is_deferred_and_reads_as_the_matrix():
    layer = _layer()
    x, g = _batch()
    layer(nb.Tensor(x)).backward(g)
    assert isinstance(layer.weight._grad, DeferredGradient)  # G^T X not computed yet
    assert not isinstance(layer.bias._grad, DeferredGradient)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12, atol=1e-12)
    assert type(layer.weight._grad) is nb.Tensor  # computed once, kept


def test_large_batch_and_small_layers_are_not_deferred():
    layer = _layer()
    x, g = _batch(rows=200)  # factors (200 x 1084) larger than half of W (300 x 784)
    layer(nb.Tensor(x)).backward(g)
    assert type(layer.weight._grad) is nb.Tensor
    tiny = nn.Linear(3, 2, dtype=np.float64)
    tiny(nb.Tensor(np.ones((4, 3)))).sum().backward()
    assert type(tiny.weight._grad) is nb.Tensor


def test_changing_the_batch_after_backward_does_not_change_the_gradient():
    layer = _layer()
    x, g = _batch()
    seed = g.copy()
    layer(nb.Tensor(x)).backward(seed)
    x[...] = 0  # the user's batch, reused in place (a preallocated buffer)
    seed[...] = 0
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ _batch()[0], rtol=1e-12, atol=1e-12)


def test_gradients_accumulate_over_deferred_and_computed_ones():
    layer = _layer()
    (x1, g1), (x2, g2), (x3, g3) = _batch(seed=1), _batch(seed=2), _batch(rows=200, seed=3)
    layer(nb.Tensor(x1)).backward(g1)
    layer(nb.Tensor(x2)).backward(g2)  # deferred + deferred
    layer(nb.Tensor(x3)).backward(g3)  # + an array
    expected = g1.T @ x1 + g2.T @ x2 + g3.T @ x3
    np.testing.assert_allclose(layer.weight.grad.data, expected, rtol=1e-12, atol=1e-12)
    layer.weight.grad = None
    layer(nb.Tensor(x3)).backward(g3)
    layer(nb.Tensor(x1)).backward(g1)  # an array, then deferred: added into it by the product itself
    np.testing.assert_allclose(layer.weight.grad.data, g3.T @ x3 + g1.T @ x1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_both_ways_without_computing_the_gradient(owner):
    layer = _layer()
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    clear = layer.zero_grad if owner == "module" else optimizer.zero_grad
    x, g = _batch()
    layer(nb.Tensor(x)).backward(g)
    clear(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad.data, np.zeros((300, 784)))
    layer(nb.Tensor(x)).backward(g)  # accumulates into the zeros
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12, atol=1e-12)
    layer(nb.Tensor(x)).backward(g)
    clear()
    assert layer.weight.grad is None


def _sgd_run(deferred: bool, dtype, steps=3, **sgd):
    layer = _layer(dtype)
    optimizer = optim.SGD(layer.parameters(), lr=0.05, **sgd)
    for step in range(steps):
        x, g = _batch(dtype=dtype, seed=10 + step)
        optimizer.zero_grad()
        layer(nb.Tensor(x)).backward(g)
        if not deferred:
            layer.weight.grad  # reading it computes the matrix: the step then uses the array
        optimizer.step()
    return layer


@pytest.mark.parametrize("sgd", [{}, {"maximize": True}, {"momentum": 0.9}, {"weight_decay": 0.01}])
def test_sgd_from_the_factors_equals_sgd_from_the_matrix(sgd):
    fast, plain = _sgd_run(True, np.float64, **sgd), _sgd_run(False, np.float64, **sgd)
    for p, q in zip(fast.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)
    fast32, plain32 = _sgd_run(True, np.float32), _sgd_run(False, np.float32)
    w, v = fast32.weight.data, plain32.weight.data
    assert w.dtype == np.float32
    # one rounding per step saved or moved (module docstring): within a few ulps of the weights after 3 steps
    assert np.all(np.abs(w - v) <= 4 * np.spacing(np.abs(v) + np.float32(0.05) * np.abs(fast32.weight.grad.data)))


def _one_sgd_step(before_step=lambda layer: None):
    """One backward and one plain-SGD step (lr 0.1) on a fresh layer; (layer, G^T X, the weight before)."""
    layer = _layer()
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    x, g = _batch()
    w0 = layer.weight.data.copy()
    layer(nb.Tensor(x)).backward(g)
    before_step(layer)
    optimizer.step()
    return layer, g.T @ x, w0


def test_grad_after_the_fused_step_is_still_the_gradient():
    layer, dw, w0 = _one_sgd_step()
    np.testing.assert_allclose(layer.weight.data, w0 - 0.1 * dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.data, dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=1e-3), lambda ps: optim.RMSprop(ps, lr=1e-3)])
def test_optimizers_that_need_the_array_get_it(make):
    layer, reference = _layer(), _layer()
    x, g = _batch()
    for model in (layer, reference):
        optimizer = make(model.parameters())
        model(nb.Tensor(x)).backward(g)
        if model is reference:
            model.weight.grad  # computed before the step
        optimizer.step()
    np.testing.assert_allclose(layer.weight.data, reference.weight.data, rtol=1e-12, atol=1e-15)


def test_a_gradient_scaled_in_place_before_the_step_is_the_one_the_step_uses():
    # clipping by hand, as the book's loops may: p.grad.mul_(c) then step()
    norms = []

    def clip(layer):
        norms.append(float(layer.weight.grad.norm()))
        layer.weight.grad.mul_(0.5)

    layer, dw, w0 = _one_sgd_step(clip)
    assert norms[0] == pytest.approx(np.linalg.norm(dw), rel=1e-12)
    np.testing.assert_allclose(layer.weight.data, w0 - 0.1 * 0.5 * dw, rtol=1e-12, atol=1e-12)


def test_a_weight_used_twice_gets_the_sum_as_an_array():
    layer = _layer()
    x1, g1 = _batch(seed=4)
    x2, g2 = _batch(seed=5)
    y = layer(nb.Tensor(x1)) * nb.Tensor(g1) + layer(nb.Tensor(x2)) * nb.Tensor(g2)
    y.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, g1.T @ x1 + g2.T @ x2, rtol=1e-12, atol=1e-12)


def test_the_trace_and_every_other_walk_get_arrays():
    from nnblocks.autograd import backpropagate
    from nnblocks.viz.explain import explain

    layer = _layer()
    x, g = _batch()
    out = layer(nb.Tensor(x))
    out.backward(g, retain_graph=True)
    assert isinstance(layer.weight._grad, DeferredGradient)  # backward() alone takes it deferred
    grads = {id(t): a for t, a in backpropagate(out, g)}
    assert all(type(a) is np.ndarray for a in grads.values())
    np.testing.assert_allclose(grads[id(layer.weight)], g.T @ x, rtol=1e-12, atol=1e-12)
    assert all(a is None or type(a) is np.ndarray for a in out.grad_fn.backward(g))  # an op called directly
    model = nn.MLP([784, 1000, 10], seed=0)  # the chapter-3 network at a small batch: its weight would defer
    loss = nn.CrossEntropyLoss()(model(nb.Tensor(_batch(rows=4, dtype=np.float32)[0])), nb.tensor([1, 2, 3, 4]))
    assert "Chain-rule trace" in str(explain(loss))


# ---- gradients the walk alone holds: updated in place (autograd.backpropagate's ``owned``) -------------------------
def _relu_owned_flags(monkeypatch, build):
    from nnblocks.ops.activation import ReLU

    flags, original = [], ReLU.backward

    def spy(self, g):
        flags.append(self.owns_grad)
        return original(self, g)

    monkeypatch.setattr(ReLU, "backward", spy)
    build()
    return flags


def test_relu_masks_in_place_only_a_gradient_nothing_else_holds(monkeypatch):
    x, g = _batch()
    layer = _layer()

    def plain():
        layer(nb.Tensor(x)).relu().sum().backward()

    assert _relu_owned_flags(monkeypatch, plain) == [False]  # the seed's ones: Tensor.backward's, not the walk's
    model = nn.MLP([784, 300, 10], seed=0, dtype=np.float64)

    def mlp():
        nn.CrossEntropyLoss()(model(nb.Tensor(x)), nb.tensor(np.arange(16) % 10)).backward()

    assert _relu_owned_flags(monkeypatch, mlp) == [True]  # Linear's fresh dL/da: masked in place


def test_a_retained_or_given_gradient_is_never_changed(monkeypatch):
    x, g = _batch()
    layer = _layer()
    h = layer(nb.Tensor(x))
    a = h.relu()
    a.retain_grad()
    seed = g.copy()
    (a * 1.0).backward(nb.Tensor(seed))  # Mul's backward makes a new dL/da: ReLU would own it, but a keeps it
    np.testing.assert_array_equal(a.grad.data, g)  # dL/da, not masked by ReLU's backward
    np.testing.assert_array_equal(seed, g)
    np.testing.assert_allclose(layer.weight.grad.data, (g * (h.data > 0)).T @ x, rtol=1e-12, atol=1e-12)
    layer.weight.grad = None
    h2 = layer(nb.Tensor(x))
    out = h2.relu()
    out.backward(nb.Tensor(seed))  # the root's gradient, given: never owned
    np.testing.assert_array_equal(seed, g)
    np.testing.assert_allclose(layer.weight.grad.data, (g * (h2.data > 0)).T @ x, rtol=1e-12, atol=1e-12)


def test_one_gradient_sent_to_two_inputs_is_owned_by_neither():
    # Add hands the same array to both operands: masking it in place for one would mask it for the other
    x, g = _batch()
    first, second = _layer(), nn.Linear(784, 300, dtype=np.float64, seed=4)
    h1, h2 = first(nb.Tensor(x)), second(nb.Tensor(x))
    ((h1.relu() + h2.relu()) * 1.0).backward(nb.Tensor(g))  # Mul's new gradient reaches Add owned
    np.testing.assert_allclose(first.weight.grad.data, (g * (h1.data > 0)).T @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(second.weight.grad.data, (g * (h2.data > 0)).T @ x, rtol=1e-12, atol=1e-12)
