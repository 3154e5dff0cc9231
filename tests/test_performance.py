"""Issue 14's fast paths change how the numbers are computed, never what they are.

Each optimisation is checked against the plain computation it replaced (the "before"):
- Linear's products: ``(W X^T)^T`` for small batches; the threads ``set_num_threads`` asks for (``ops/blas.py``);
- plain SGD's one-pass BLAS axpy against NumPy's ``w += -lr * g``;
- a whole training run against the same run written in plain NumPy with the old formulas.

Tolerances (float32, unit roundoff u = 2^-24 ~ 6e-8): one dot product of length K reordered (another kernel or
blocking) changes by at most ~K u sum|x_i w_i| and typically ~sqrt(K) u |x||w|; relative to the output's scale that
is ~1e-6 for K = 784. An axpy rounded once (fused) instead of twice differs by at most one rounding of lr*g per
element: |diff| <= u |lr g| + u |w|, i.e. <= 1 ulp of w. Over a few SGD steps these stay within ~1e-5 relative.
The float32 path must also stay float32 end to end: no array of the step is ever float64.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.ops import blas
from nnblocks.optim.optimizer import add_scaled_, axpy_


def _model(seed=0, sizes=(784, 100, 10)):
    return nn.MLP(list(sizes), seed=seed)


def test_linear_small_batch_product_equals_the_plain_one():
    rng = np.random.default_rng(0)
    for batch in (1, 3, 32, 64, 65, 200):  # both sides of _SMALL_BATCH
        x = rng.standard_normal((batch, 784), dtype=np.float32)
        layer = nn.Linear(784, 300, seed=1)
        out = layer(nb.Tensor(x)).data
        plain = x @ layer.weight.data.T + layer.bias.data
        assert out.dtype == np.float32 and out.flags.c_contiguous
        scale = np.abs(x) @ np.abs(layer.weight.data.T) + np.abs(layer.bias.data)
        # reordered sums of K = 784 terms: within 784 u of the absolute sum (worst case), see the module docstring
        assert np.all(np.abs(out - plain) <= 784 * 2.0**-24 * scale)


def test_linear_gradients_agree_with_plain_numpy_in_float64():
    # float64 is exact enough to compare layouts to 1e-12: the formulas, not the layouts, decide the values
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 300))
    layer = nn.Linear(300, 400, dtype=np.float64, seed=2)
    g = rng.standard_normal((32, 400))
    out = layer(nb.Tensor(x, requires_grad=True))
    out.backward(g)
    np.testing.assert_allclose(out.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(0), rtol=1e-12, atol=1e-12)


def test_blas_axpy_update_matches_numpys_two_pass_update_within_one_ulp():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(2)
    w = rng.standard_normal((300, 200), dtype=np.float32)
    g = rng.standard_normal((300, 200), dtype=np.float32)
    fast, plain = w.copy(), w.copy()
    address = fast.__array_interface__["data"][0]
    axpy_(fast, g, -0.01)
    add_scaled_(plain, g, -0.01)
    assert fast.__array_interface__["data"][0] == address  # in place
    # round(w + lr g) against round(w + round(lr g)): the inner rounding (<= ulp(lr g) / 2) and the two outer ones
    # (<= ulp(result) / 2 each; the result is no larger than |w| + |lr g|). Where w ~ -lr g cancels, the first term
    # is all there is: many ulps of the tiny result, but never more than one ulp of the operands.
    operands = np.abs(w) + np.abs(np.float32(0.01) * g)
    assert np.all(np.abs(fast - plain) <= 2 * np.spacing(operands))
    assert not np.array_equal(fast, w)


def test_axpy_falls_back_for_what_blas_cannot_take():
    w = np.arange(6, dtype=np.float32).reshape(2, 3).T  # not C-contiguous
    g = np.ones((3, 2), dtype=np.float32)
    axpy_(w, g, -1.0)
    np.testing.assert_array_equal(w, np.arange(6, dtype=np.float32).reshape(2, 3).T - 1)


def test_products_leave_the_blas_alone_unless_asked(monkeypatch):
    calls = []

    class FakeBlas:
        threads = 4

        def get_num_threads(self):
            return self.threads

        def set_num_threads(self, n):
            calls.append(n)
            self.threads = n

    fake = FakeBlas()
    monkeypatch.setitem(blas._found, "scipy", fake)  # the engine's one BLAS (ops/blas.py)
    a, b = np.ones((32, 784), np.float32), np.ones((784, 1000), np.float32)
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
    assert calls == []  # by default: the BLAS's own threads, nothing set
    nb.set_num_threads(2)
    try:
        assert nb.get_num_threads() == 2
        blas.matmul(a, b)
        blas.call(lambda: None, 100)  # tiny: OpenBLAS's own single thread, nothing asked
        assert calls == [2, 4]  # set around the product, then put back
    finally:
        nb.set_num_threads(None)
    assert nb.get_num_threads() == 4
    with pytest.raises(nb.errors.InvalidValueError, match="whole number >= 1"):
        nb.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_takes_every_layout_as_it_is_and_agrees_with_numpy(dtype):
    pytest.importorskip("scipy")
    rng = np.random.default_rng(8)
    a0, b0 = rng.standard_normal((37, 53)).astype(dtype), rng.standard_normal((53, 29)).astype(dtype)
    # float64: only the order of the 53-term sums differs, ~53 u |a||b| at worst; float32 the same with its own u
    tol = 53 * np.finfo(dtype).eps * (np.abs(a0) @ np.abs(b0))
    for a in (a0, np.asfortranarray(a0)):
        for b in (b0, np.asfortranarray(b0)):
            for order in ("C", "F"):
                out = blas.gemm(a, b, order=order)
                assert out.dtype == dtype and (out.flags.c_contiguous if order == "C" else out.flags.f_contiguous)
                assert np.all(np.abs(out - a0 @ b0) <= tol)
            for target in (rng.standard_normal((37, 29)).astype(dtype), np.asfortranarray(rng.standard_normal((37, 29)).astype(dtype))):
                before = target.copy()
                address = target.__array_interface__["data"][0]
                assert blas.gemm(a, b, alpha=-0.5, out=target, beta=1.0) is target
                assert target.__array_interface__["data"][0] == address  # written in place
                assert np.all(np.abs(target - (before - 0.5 * (a0 @ b0))) <= tol + 4 * np.spacing(np.abs(before)))


def test_gemm_hands_what_blas_cannot_take_to_numpy():
    strided = np.arange(60.0).reshape(6, 10)[:, ::2]  # neither C- nor F-ordered
    b = np.ones((5, 3))
    np.testing.assert_array_equal(blas.gemm(strided, b), strided @ b)
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(blas.gemm(ints, ints.T), ints @ ints.T)
    target = np.ones((2, 2), dtype=np.int64)
    blas.gemm(ints, ints.T, alpha=2, out=target, beta=1.0)
    np.testing.assert_array_equal(target, 1 + 2 * (ints @ ints.T))


def test_import_leaves_scipy_for_the_first_optimizer():
    import subprocess
    import sys

    code = ("import sys, nnblocks as nb; assert 'scipy' not in sys.modules, 'import nnblocks loaded SciPy'; "
            "m = nb.nn.Linear(784, 100); nb.optim.SGD(m.parameters(), lr=0.1); print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("True" if _has_scipy() else "False")


def _has_scipy():
    try:
        import scipy  # noqa: F401
    except ImportError:
        return False
    return True


def test_float32_training_step_never_makes_a_float64_array(monkeypatch):
    # Audit: every array an op returns, every gradient and every parameter after a step is float32.
    from nnblocks.ops.base import Function

    seen = []
    original = Function.apply.__func__

    def recording_apply(cls, *inputs, **options):
        out = original(cls, *inputs, **options)
        seen.append((cls.__name__, out.data.dtype))
        return out

    monkeypatch.setattr(Function, "apply", classmethod(recording_apply))
    model = _model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(3)
    x = nb.from_numpy(rng.random((16, 784), dtype=np.float32))
    y = nb.from_numpy(rng.integers(0, 10, 16))
    for _ in range(2):
        optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        optimizer.step()
    assert seen and all(dtype == np.float32 for _, dtype in seen), [s for s in seen if s[1] != np.float32]
    for p in model.parameters():
        assert p.data.dtype == np.float32 and p.grad.data.dtype == np.float32


def _numpy_reference_run(weights, batches, lr):
    """The same MLP trained with the formulas nnblocks used before issue 14 (X W^T, NumPy's two-pass update)."""
    w1, b1, w2, b2 = (w.copy() for w in weights)
    for x, y in batches:
        h = np.maximum(x @ w1.T + b1, 0)
        z = h @ w2.T + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        g = p / np.float32(len(y))
        dh = (g @ w2) * (h > 0)
        for w, d in ((w2, g.T @ h), (b2, g.sum(0)), (w1, dh.T @ x), (b1, dh.sum(0))):
            w += d * np.float32(-lr)
    return w1, b1, w2, b2


def test_trained_weights_agree_with_the_run_before_the_fast_paths():
    rng = np.random.default_rng(4)
    model = _model(seed=5, sizes=(784, 200, 10))
    weights = [p.data.copy() for p in model.parameters()]
    batches = [(rng.random((b, 784), dtype=np.float32), rng.integers(0, 10, b)) for b in (32, 32, 64, 100, 7)]
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    for x, y in batches:
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(nb.from_numpy(x)), nb.from_numpy(y)).backward()
        optimizer.step()
    expected = _numpy_reference_run(weights, batches, 0.05)
    for p, w, w0 in zip(model.parameters(), expected, weights):
        # five steps of float32 rounding differences (see the module docstring): within 1e-5 of the weights' scale,
        # while the training itself moved them by far more
        scale = np.abs(w0).max()
        assert np.abs(p.data - w).max() <= 1e-5 * scale
        assert np.abs(w - w0).max() > 10 * 1e-5 * scale


def test_same_seed_same_run_bit_for_bit():
    def run():
        model = _model(seed=6, sizes=(784, 100, 10))
        optimizer = optim.SGD(model.parameters(), lr=0.05)
        rng = np.random.default_rng(7)
        for _ in range(3):
            x, y = rng.random((48, 784), dtype=np.float32), rng.integers(0, 10, 48)
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(nb.from_numpy(x)), nb.from_numpy(y)).backward()
            optimizer.step()
        return [p.data.copy() for p in model.parameters()]

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_threads_can_be_asked_for_before_the_first_product():
    # the engine's BLAS is SciPy's, loaded by the first optimizer or product: asking for threads before either must
    # still find it (it once stayed "not found" for the whole process)
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy")
    import subprocess
    import sys

    code = ("import nnblocks as nb; from nnblocks.ops import blas; found = blas.controller(); "
            "print(found is not None and found.filepath == blas.controller('scipy').filepath)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # SciPy's wheels bundle OpenBLAS; a SciPy built on another BLAS leaves nothing for threadpoolctl to set
    from threadpoolctl import threadpool_info

    import scipy.linalg  # noqa: F401 - so that threadpool_info sees SciPy's BLAS in this process too
    has_openblas = any(i.get("internal_api") == "openblas" and "scipy" in i.get("filepath", "") for i in threadpool_info())
    assert out.strip() == str(has_openblas)


def test_batch_rows_gathered_by_take_are_the_fancy_indexing_copy():
    rng = np.random.default_rng(9)
    data = rng.standard_normal((50, 7)).astype(np.float32)
    index = np.array([3, -1, 3, 0], dtype=np.int64)
    x = nb.Tensor(data, requires_grad=True)
    rows = x[nb.from_numpy(index)]
    np.testing.assert_array_equal(rows.data, data[index])
    assert rows.data.dtype == np.float32 and not np.shares_memory(rows.data, data)
    rows.sum().backward()
    expected = np.zeros_like(data)
    np.add.at(expected, index, 1.0)  # row 3 picked twice: twice the gradient
    np.testing.assert_array_equal(x.grad.data, expected)
    with pytest.raises(nb.errors.ShapeError, match=r"does not fit shape \(50, 7\)"):
        x[nb.from_numpy(np.array([50]))]
    from nnblocks.data import TensorDataset

    labels = np.arange(50)
    batch = TensorDataset(data, labels).get_batch(index)
    np.testing.assert_array_equal(batch[0], data[index])
    np.testing.assert_array_equal(batch[1], labels[index])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_empty_batch_trains_as_a_no_op(dtype):
    # SciPy's gemm refuses empty operands: they go to NumPy (PyTorch gives (0, out) and zero gradients too)
    layer = nn.Linear(784, 300, dtype=dtype)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    before = layer.weight.data.copy()
    out = layer(nb.Tensor(np.zeros((0, 784), dtype)))
    assert out.shape == (0, 300) and out.dtype == layer.weight.dtype
    out.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.data, np.zeros((300, 784), dtype))
    optimizer.step()
    np.testing.assert_array_equal(layer.weight.data, before)
    assert nn.Linear(0, 5, dtype=dtype)(nb.Tensor(np.zeros((3, 0), dtype))).shape == (3, 5)
