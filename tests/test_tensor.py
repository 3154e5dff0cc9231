"""The Tensor itself: graph walking (deep graphs, accumulation, retain_graph), no_grad/detach, conversions, dtypes."""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import ops
from test_ops_grad import CASES, Case, build


# ---- deep graphs ---------------------------------------------------------------------------------------------------
def test_ten_thousand_ops_deep_affine_chain() -> None:
    x = nb.tensor(0.5, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()  # 20,000 nodes: an iterative topological sort, no RecursionError
    np.testing.assert_allclose(x.grad, 1.0001**10_000, rtol=1e-10)
    np.testing.assert_allclose(y.item(), 0.5 * 1.0001**10_000, rtol=1e-10)


def test_ten_thousand_deep_sigmoid_chain_matches_closed_form() -> None:
    """y <- 4 sigmoid(y) - 2 (= 2 tanh(y/2)), 10,000 times: 30,000 nodes. Its derivative 4 s (1 - s) is 1 at the fixed
    point 0, so the product of derivatives stays representable (a bare sigmoid chain underflows to 0)."""
    x = nb.tensor([0.3, -2.0], requires_grad=True, dtype=np.float64)
    y = x
    u = x.data.copy()
    derivative = np.ones(2)
    for _ in range(10_000):
        y = y.sigmoid() * 4.0 - 2.0
        s = 1 / (1 + np.exp(-u))
        derivative *= 4 * s * (1 - s)  # chain rule, one factor per step
        u = 4 * s - 2
    y.sum().backward()
    # Tolerance from an error analysis, not from one machine. Near the fixed point y ~ sqrt(6/k) (0.0245 after 10,000
    # steps), and 4 s - 2 cancels: each step adds an absolute rounding error of about 2 c eps (s ~ 1/2 known to c ulps;
    # c ~ 1-4 depending on the CPU's SIMD exp). The map's derivative 1 - y^2/4 damps an error made at step k by
    # (k/N)^1.5 by step N, so the worst case (all errors aligned) is 2 c eps * sum (k/N)^1.5 ~ 0.8 c eps N absolute,
    # i.e. 7e-11 c relative to y_N; a random walk gives ~1e-12 c (measured: 1.6e-12 against a long-double reference).
    # Two such computations (the engine's and this loop) differ by at most 2 * 7e-11 * 4 = 6e-10 < 1e-9. The gradient
    # is a product of 10,000 factors each within a few ulps (about 1e-11), far inside the same bound.
    np.testing.assert_allclose(y.data, u, rtol=1e-9)
    assert np.all(derivative > 1e-9)
    np.testing.assert_allclose(x.grad, derivative, rtol=1e-9)


def test_deep_graph_with_fan_in_at_every_step() -> None:
    """x_{k+1} = x_k * x_0 + x_k: every step reuses the leaf, so its gradient collects 10,000 contributions."""
    x0 = nb.tensor(1e-4, requires_grad=True, dtype=np.float64)
    y = x0
    for _ in range(10_000):
        y = y * x0 + y
    y.backward()
    # y = x0 (1 + x0)^n  =>  dy/dx0 = (1 + x0)^n + n x0 (1 + x0)^(n-1)
    n, a = 10_000, 1e-4
    np.testing.assert_allclose(x0.grad, (1 + a) ** n + n * a * (1 + a) ** (n - 1), rtol=1e-10)


# ---- accumulation ----------------------------------------------------------------------------------------------------
def test_tensor_used_several_times_accumulates() -> None:
    x = nb.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_diamond_graph() -> None:
    x = nb.tensor([0.2, -0.7], requires_grad=True, dtype=np.float64)
    a = x * 2.0
    out = (a * 3.0 + a.tanh()).sum()  # two paths from a to out
    out.backward()
    np.testing.assert_allclose(x.grad, 2 * (3 + 1 - np.tanh(2 * x.data) ** 2), rtol=1e-12)


def test_two_graphs_sharing_a_leaf_accumulate_like_pytorch() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 + 2 * x.data)


def test_backward_twice_without_retain_graph_raises() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(nb.BackwardError, match="retain_graph"):
        loss.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)  # the failed call added nothing


def test_backward_through_a_freed_intermediate_raises() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.sum().backward()
    with pytest.raises(nb.BackwardError):
        (y * 2.0).sum().backward()


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_retain_graph_backward_twice_doubles_the_gradient(c: Case) -> None:
    """Every op: its backward must not consume or mutate what forward saved (the cross-entropy bug)."""
    once = build(c, np.float64)
    out = c.fn(*once)
    v = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(gradient=v)
    twice = build(c, np.float64)
    out2 = c.fn(*twice)
    out2.backward(gradient=v, retain_graph=True)
    out2.backward(gradient=v)
    for a, b in zip(once, twice):
        if a.requires_grad:
            np.testing.assert_allclose(b.grad, 2 * a.grad, rtol=1e-12, atol=1e-14)


def test_leaf_gradients_are_owned_writable_and_not_shared() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = nb.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()  # Add hands the same array to both inputs; Sum's backward is a broadcast view
    assert isinstance(x.grad, nb.Tensor) and type(x.grad) is nb.Tensor and not x.grad.requires_grad
    assert x.grad.data.flags.writeable and not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.mul_(10.0)  # an optimizer may update a gradient in place (weight decay, clipping)
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])
    v = np.array([5.0, 6.0], dtype=np.float32)
    z = nb.tensor([0.0, 0.0], requires_grad=True)
    (z + 0.0).backward(gradient=v)
    z.grad.data[0] = -1.0
    np.testing.assert_array_equal(v, [5.0, 6.0])  # the caller's gradient array is not aliased


def test_a_second_backward_adds_into_the_same_grad_tensor_like_pytorch() -> None:
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    (w * 2.0).sum().backward()
    first, array = w.grad, w.grad.data
    (w * w).sum().backward()
    assert w.grad is first and w.grad.data is array  # accumulated in place: no new array a step
    np.testing.assert_array_equal(first.data, [4.0, 6.0])  # 2 + 2w
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])
    frozen = np.ones(2, dtype=np.float32)
    frozen.flags.writeable = False
    w.grad = nb.Tensor(frozen)
    (w * 2.0).sum().backward()  # a read-only gradient (assigned by the user) is replaced, never written into
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(frozen, [1.0, 1.0])


def test_retain_grad_and_inputs_without_grad() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    c = nb.tensor([3.0, 4.0])
    h = (x * c).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(x.grad, 2 * h.data * c.data)
    assert c.grad is None and not h.is_leaf and x.is_leaf


# ---- no_grad, detach ----------------------------------------------------------------------------------------------
def test_no_grad_records_nothing() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    with nb.no_grad():
        y = (x * 2.0).exp().sum()
        with nb.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None and nb.is_grad_enabled()
    assert z.requires_grad and z.grad_fn is not None

    @nb.no_grad()
    def evaluate(t: nb.Tensor) -> nb.Tensor:
        return t * t

    assert evaluate(x).grad_fn is None
    with pytest.raises(nb.BackwardError, match="does not require grad"):
        y.backward()


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = nb.tensor([1.0, 3.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and np.shares_memory(d.data, x.data)
    (d * x).sum().backward()  # d is a constant: d/dx (d x) = d
    np.testing.assert_array_equal(x.grad, [1.0, 3.0])


# ---- conversions and display ------------------------------------------------------------------------------------------
def test_item_numpy_tolist_repr() -> None:
    x = nb.tensor([[1.5, 2.0]], requires_grad=True)
    assert nb.tensor([[2.5]]).item() == 2.5 and isinstance(nb.tensor(3.0).item(), float)
    assert x.numpy() is x.data and x.tolist() == [[1.5, 2.0]]
    assert repr(x) == "tensor([[1.5000, 2.0000]], requires_grad=True)"  # as PyTorch prints it
    assert repr(x * 2.0) == "tensor([[3., 4.]], grad_fn=<MulBackward0>)"
    assert repr(nb.tensor([1.0], dtype=np.float64)) == "tensor([1.], dtype=torch.float64)"
    assert repr(nb.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(nb.tensor([1, 2], dtype=nb.int32)) == "tensor([1, 2], dtype=torch.int32)"
    assert x.shape == (1, 2) and x.ndim == 2 and x.size() == (1, 2) and x.size(1) == 2 and x.numel() == 2
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        x.item()


def test_astype_passes_the_gradient_back_in_the_source_dtype() -> None:
    x = nb.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    y = x.float()
    assert y.dtype == np.float32
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert x.long().dtype == np.int64 and not x.long().requires_grad


# ---- dtypes -----------------------------------------------------------------------------------------------------------
def test_default_dtype_is_float32_and_can_be_switched() -> None:
    assert nb.get_default_dtype() == np.float32
    assert nb.tensor([1.0, 2.0]).dtype == np.float32 and nb.tensor(1.5).dtype == np.float32
    assert nb.tensor([1, 2]).dtype == np.int64
    assert nb.tensor(np.array([1.0])).dtype == np.float64  # arrays keep their dtype
    assert nb.zeros(2, 3).dtype == np.float32 and nb.randn(2, seed=0).dtype == np.float32
    with nb.default_dtype(np.float64):
        assert nb.tensor([1.0]).dtype == np.float64 and nb.ones(2).dtype == np.float64
        assert nb.rand(3, seed=0).dtype == np.float64
    assert nb.get_default_dtype() == np.float32
    with pytest.raises(RuntimeError), nb.default_dtype(np.float64):
        raise RuntimeError("the context restores the default even when its block fails")
    assert nb.get_default_dtype() == np.float32
    nb.set_default_dtype(np.float64)
    try:
        assert nb.tensor([1.0]).dtype == np.float64
    finally:
        nb.set_default_dtype(np.float32)
    assert nb.tensor([1.0]).dtype == np.float32


def test_seeded_factories_are_reproducible() -> None:
    np.testing.assert_array_equal(nb.randn(3, 2, seed=7).data, nb.randn((3, 2), seed=7).data)
    assert not np.array_equal(nb.randn(3, seed=7).data, nb.randn(3, seed=8).data)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(nb.rand(4, seed=rng).data,
                                  np.random.default_rng(0).random(4).astype(np.float32))


def test_float32_stays_float32_with_python_scalars() -> None:
    x = nb.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    t = nb.tensor([1, 0])
    results = [
        x + 1.0, 1.0 + x, x - 2, 3 - x, x * 2.5, 2.5 * x, x / 3.0, 3.0 / x, x**2, x**2.0,
        2.0**x, -x, x * np.float64(2.0), x + np.float64(1.0), nb.maximum(x, 0.0), nb.minimum(x, 1.0),
        nb.where(x.data > 0, x, 0.0), x.clip(0.0, 1.0), x.exp(), x.abs().sqrt(), x.abs().log(), x.sum(), x.mean(),
        x.max(), x.softmax(), x.log_softmax(), x.sigmoid(), x.tanh(), x.relu(), x.leaky_relu(0.2),
        ops.cross_entropy(x, t), ops.mse_loss(x, nb.zeros(2, 2)), ops.l1_loss(x, nb.zeros(2, 2)),
        ops.binary_cross_entropy_with_logits(x, nb.ones(2, 2)), ops.nll_loss(x, t),
        ops.binary_cross_entropy(x.sigmoid(), nb.ones(2, 2)), x @ x, x[0], x.T,
    ]
    for k, r in enumerate(results):
        assert r.dtype == np.float32, f"result {k} upcast to {r.dtype}"
        x.grad = None
        (r.sum() if r.ndim else r).backward()
        assert x.grad.dtype == np.float32, f"gradient of result {k} is {x.grad.dtype}"


def test_manual_seed_reaches_randn_and_objects_built_before_it():
    # manual_seed reseeds the global generator in place: factories and a Dropout built earlier follow it
    from nnblocks import nn

    dropout = nn.Dropout(0.5)
    nb.manual_seed(0)
    first = (nb.randn(4).data, dropout(nb.ones(8)).data)
    nb.manual_seed(0)
    second = (nb.randn(4).data, dropout(nb.ones(8)).data)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    nb.manual_seed(1)
    assert not np.array_equal(nb.randn(4).data, first[0])


def test_no_grad_decorator_is_reentrant():
    @nb.no_grad()
    def depth(n):
        return depth(n - 1) if n else nb.is_grad_enabled()

    assert depth(3) is False
    assert nb.is_grad_enabled() is True


def test_grad_mode_and_the_walk_live_in_autograd_and_stay_importable_from_where_they_were():
    import importlib

    from nnblocks import autograd

    tensor_module = importlib.import_module("nnblocks.tensor")  # nnblocks.tensor is also the factory function
    for name in ("no_grad", "enable_grad", "is_grad_enabled", "topological_order", "backpropagate"):
        assert getattr(tensor_module, name) is getattr(autograd, name)
    assert nb.no_grad is autograd.no_grad and nb.is_grad_enabled is autograd.is_grad_enabled
    x = nb.tensor([2.0], requires_grad=True, dtype=np.float64)
    y = x * x
    loss = y * 3.0  # dL/dy = 3, dL/dx = 3 * 2x = 12
    assert autograd.topological_order(loss) == [x, y, loss.grad_fn.parents[1], loss]
    grads = {id(t): g for t, g in autograd.backpropagate(loss, np.ones(1))}
    np.testing.assert_array_equal(grads[id(y)], [3.0])
    np.testing.assert_array_equal(grads[id(x)], [12.0])


def test_arange_floats_take_the_default_dtype():
    assert nb.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert nb.arange(3).dtype == np.int64


def test_equality_is_elementwise_like_pytorch_and_hashing_by_identity():
    logits = nb.Tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = nb.Tensor(np.array([1, 1, 1]))
    hits = logits.argmax(1) == labels
    np.testing.assert_array_equal(hits.data, [True, False, True])
    assert hits.float().mean().item() == pytest.approx(2 / 3)
    np.testing.assert_array_equal((logits.argmax(1) != labels).data, [False, True, False])
    a, b = nb.zeros(2), nb.zeros(2)
    assert {a: "a", b: "b"}[b] == "b"  # equal values, distinct keys


def test_manual_sgd_update_under_no_grad_is_in_place():
    # the chapter-2 idiom: with no_grad(): w -= lr * w.grad updates the same leaf, which keeps training
    w = nb.Tensor([1.0, 2.0], requires_grad=True)
    data = w.data
    for _ in range(2):
        w.grad = None
        (w * w).sum().backward()
        with nb.no_grad():
            w -= 0.25 * w.grad
    assert w.data is data and w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.data, [0.25, 0.5])  # each step halves w: w - 0.25 * 2w
    with pytest.raises(nb.BackwardError, match="inside `with nnblocks.no_grad\\(\\):`"):
        w -= 1.0
    x = nb.Tensor([1.0, 2.0])
    before = x
    x += 1.0  # no gradient involved: in place, as in PyTorch (the same tensor, changed)
    assert x is before
    np.testing.assert_array_equal(x.data, [2.0, 3.0])
    assert nb.ones(3).zero_().data.tolist() == [0.0, 0.0, 0.0]


def test_data_is_the_array_and_takes_a_tensor_or_an_array():
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(w.data, np.ndarray) and w.numpy() is w.data
    new = nb.tensor([[3.0, 4.0, 5.0]])
    w.data = new  # PyTorch's idiom: the tensor now holds the other tensor's values (shared), any shape
    assert w.data is new.data and w.shape == (1, 3) and w.requires_grad and w.is_leaf
    w.data = np.zeros(2, dtype=np.float32)
    assert w.tolist() == [0.0, 0.0]
    with nb.no_grad():
        w.data -= 1.0  # the NumPy array, updated in place, stored back
    assert w.tolist() == [-1.0, -1.0]
