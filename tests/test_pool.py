"""max_pool2d, avg_pool2d, adaptive_avg_pool2d: hand-computed values, PyTorch's tie and NaN rules, float64 gradcheck
and PyTorch parity (values, gradients, indices) over a hypothesis grid of kernels, strides, paddings, dilations and
ceil_mode, and the errors they raise."""
from __future__ import annotations

import numpy as np
import pytest
from conv_cases import close, pool_geometry, record_gradcheck, report_worst
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nnblocks as nb
from nnblocks import ops
from nnblocks.errors import InvalidValueError, ShapeError


@pytest.fixture(scope="module", autouse=True)
def _parity_report():
    yield
    report_worst("pooling")


# ---- by hand --------------------------------------------------------------------------------------------------------
def test_max_pool_by_hand_routes_the_gradient_to_each_window_max():
    x = nb.Tensor(np.array([[1.0, 5.0, 2.0, 0.0],
                            [3.0, 4.0, 8.0, 7.0],
                            [0.0, 0.0, 1.0, 1.0],
                            [9.0, 0.0, 1.0, 1.0]]).reshape(1, 1, 4, 4), requires_grad=True)
    z, where = ops.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(z.data[0, 0], [[5, 8], [9, 1]])
    # flat indices h * 4 + w; the last window is all ones: the first one (row 2, column 2) wins, as in PyTorch
    np.testing.assert_array_equal(where.data[0, 0], [[1, 6], [12, 10]])
    z.backward(np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2))
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 40, 0], [30, 0, 0, 0]])


def test_overlapping_windows_add_up_the_gradients_of_a_shared_max():
    x = nb.Tensor(np.array([0.0, 9.0, 0.0, 0.0]).reshape(1, 1, 1, 4), requires_grad=True)
    z = ops.max_pool2d(x, (1, 2), stride=1)  # windows [0, 9], [9, 0], [0, 0]
    np.testing.assert_array_equal(z.data.ravel(), [9, 9, 0])
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.ravel(), [0, 2, 1, 0])  # the 9 won twice; the last window's first 0 once


def test_nan_wins_its_window_as_in_pytorch():
    x = nb.Tensor(np.array([1.0, np.nan, 3.0, np.nan, 7.0, 2.0]).reshape(1, 1, 1, 6), requires_grad=True)
    z, where = ops.max_pool2d(x, (1, 3), return_indices=True)
    assert np.isnan(z.data.ravel()).all()
    np.testing.assert_array_equal(where.data.ravel(), [1, 3])  # PyTorch's scan: val > max or isnan(val)


def test_minus_infinity_and_windows_of_padding_alone_pick_the_index_pytorch_picks():
    # -inf inputs tie with the -inf padding: the first tap inside the image wins, not the padding; a window that
    # reads padding alone (dilation 2 jumps over a 1-pixel image) outputs -inf, as PyTorch, with no gradient
    x = nb.Tensor(np.full((1, 1, 1, 3), -np.inf), requires_grad=True)
    z, where = ops.max_pool2d(x, (1, 3), stride=1, padding=(0, 1), return_indices=True)
    np.testing.assert_array_equal(where.data.ravel(), [0, 0, 1])
    one = nb.Tensor(np.ones((1, 1, 1, 1)), requires_grad=True)
    z, where = ops.max_pool2d(one, (1, 2), stride=1, padding=(0, 1), dilation=(1, 2), return_indices=True)
    assert z.data.ravel().tolist() == [-np.inf]
    assert where.data.ravel().tolist() == [1]  # PyTorch's too: the tap after the padding, outside the 1-pixel plane
    z.sum().backward()
    assert one.grad.ravel().tolist() == [0.0]


def test_avg_pool_by_hand_padding_counts_unless_told_not_to():
    x = nb.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    # kernel 2, stride 2, padding 1: every window holds one real pixel and three zeros of padding
    np.testing.assert_array_equal(ops.avg_pool2d(x, 2, padding=1).data[0, 0], np.full((2, 2), 0.25))
    np.testing.assert_array_equal(ops.avg_pool2d(x, 2, padding=1, count_include_pad=False).data[0, 0], np.ones((2, 2)))
    np.testing.assert_array_equal(ops.avg_pool2d(x, 2, divisor_override=1).data, [[[[4.0]]]])
    z = ops.avg_pool2d(x, 2, stride=1, padding=1)  # 3x3 windows over the padded 4x4: the middle one is all real
    z.sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], np.full((2, 2), 1.0))  # each pixel is in 4 windows, each gives 1/4


def test_adaptive_avg_pool_tiles_the_input():
    x = nb.Tensor(np.arange(10.0).reshape(1, 1, 1, 10))
    # 10 columns into 3: windows 0..3, 3..6, 6..9 (floor(i*10/3) .. ceil((i+1)*10/3) - 1), overlapping by one
    np.testing.assert_allclose(ops.adaptive_avg_pool2d(x, (1, 3)).data.ravel(), [1.5, 4.5, 7.5])
    assert ops.adaptive_avg_pool2d(nb.Tensor(np.ones((2, 3, 7, 5))), 1).shape == (2, 3, 1, 1)
    assert ops.adaptive_avg_pool2d(nb.Tensor(np.ones((2, 3, 7, 5))), (None, 2)).shape == (2, 3, 7, 2)


# ---- gradcheck and PyTorch parity over the grid ----------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(geometry=pool_geometry(), seed=st.integers(0, 2**16))
def test_max_pool_gradcheck(geometry, seed):
    # distinct values far apart, so no nudge of 1e-6 changes which input is a window's max
    rng = np.random.default_rng(seed)
    x = nb.Tensor(rng.permutation(int(np.prod(geometry["x"]))).reshape(geometry["x"]) * 0.01, requires_grad=True)
    assume(np.isfinite(ops.max_pool2d(x, **geometry["options"]).data).all())  # no window of padding alone (-inf)
    record_gradcheck(nb.gradcheck(lambda t: ops.max_pool2d(t, **geometry["options"]), [x], atol=1e-7, rtol=1e-6,
                                  seed=seed))


@settings(max_examples=30, deadline=None)
@given(geometry=pool_geometry(dilation=False), include=st.booleans(), seed=st.integers(0, 2**16))
def test_avg_pool_gradcheck(geometry, include, seed):
    x = nb.Tensor(np.random.default_rng(seed).standard_normal(geometry["x"]), requires_grad=True)
    record_gradcheck(nb.gradcheck(lambda t: ops.avg_pool2d(t, **geometry["options"], count_include_pad=include), [x],
                                  atol=1e-7, rtol=1e-6, seed=seed))


def _both(x: np.ndarray, ours, theirs, seed: int):
    """Run ``ours`` and ``theirs`` (a torch function) on x, backpropagate the same random gradient, return all."""
    torch = pytest.importorskip("torch")
    xo = nb.Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_o, out_t = ours(xo), theirs(torch, xt)
    extra = None
    if isinstance(out_o, tuple):
        (out_o, extra), (out_t, extra_t) = out_o, out_t
        extra = (extra, extra_t)
    g = np.random.default_rng(seed).standard_normal(out_o.shape).astype(x.dtype)
    out_o.backward(g)
    out_t.backward(torch.from_numpy(g))
    return out_o, out_t, xo.grad, xt.grad, extra


@settings(max_examples=60, deadline=None)
@given(geometry=pool_geometry(), dtype=st.sampled_from([np.float64, np.float32]), ties=st.booleans(),
       seed=st.integers(0, 2**16))
def test_max_pool_matches_pytorch_values_gradients_and_indices(geometry, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    # with ties (small integers) the gradient goes to the same one of the equal values as in PyTorch
    x = (rng.integers(0, 3, geometry["x"]) if ties else rng.standard_normal(geometry["x"])).astype(dtype)
    # A window of padding alone outputs -inf and an index outside its plane, where PyTorch's backward would write out
    # of bounds: such windows are compared by hand above, and PyTorch is not run on them.
    assume(np.isfinite(ops.max_pool2d(nb.Tensor(x), **geometry["options"]).data).all())
    o, t, gx, gt, (idx, idx_t) = _both(x, lambda a: ops.max_pool2d(a, **geometry["options"], return_indices=True),
                                       lambda torch, a: torch.nn.functional.max_pool2d(
                                           a, **geometry["options"], return_indices=True), seed)
    what = f"max_pool2d {geometry} ties={ties}"
    close(o, t, what + " forward")
    close(gx, gt, what + " dL/dx")
    np.testing.assert_array_equal(idx.data, idx_t.numpy())


@settings(max_examples=60, deadline=None)
@given(geometry=pool_geometry(dilation=False), dtype=st.sampled_from([np.float64, np.float32]),
       include=st.booleans(), override=st.sampled_from([None, 1, 3]), seed=st.integers(0, 2**16))
def test_avg_pool_matches_pytorch(geometry, dtype, include, override, seed):
    x = np.random.default_rng(seed).standard_normal(geometry["x"]).astype(dtype)
    options = dict(geometry["options"], count_include_pad=include, divisor_override=override)
    o, t, gx, gt, _ = _both(x, lambda a: ops.avg_pool2d(a, **options),
                            lambda torch, a: torch.nn.functional.avg_pool2d(a, **options), seed)
    close(o, t, f"avg_pool2d {options} forward")
    close(gx, gt, f"avg_pool2d {options} dL/dx")


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
       out=st.tuples(st.integers(1, 6), st.integers(1, 6)), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_adaptive_avg_pool_matches_pytorch_and_gradcheck(shape, out, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    o, t, gx, gt, _ = _both(x.astype(dtype), lambda a: ops.adaptive_avg_pool2d(a, out),
                            lambda torch, a: torch.nn.functional.adaptive_avg_pool2d(a, out), seed)
    close(o, t, f"adaptive_avg_pool2d {shape} -> {out} forward")
    close(gx, gt, f"adaptive_avg_pool2d {shape} -> {out} dL/dx")
    record_gradcheck(nb.gradcheck(lambda a: ops.adaptive_avg_pool2d(a, out), [nb.Tensor(x, requires_grad=True)],
                                  atol=1e-7, rtol=1e-6, seed=seed))


# ---- errors ---------------------------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_fix():
    with pytest.raises(ShapeError, match=r"max_pool2d: expected a batch of images .* \(64, 26, 26\).*x\[None\]"):
        ops.max_pool2d(nb.Tensor(np.ones((64, 26, 26))), 2)
    with pytest.raises(InvalidValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half the kernel"):
        ops.max_pool2d(nb.Tensor(np.ones((1, 1, 8, 8))), 3, padding=2)
    with pytest.raises(ShapeError, match=r"avg_pool2d: the kernel \(5, 5\).*larger than the padded input"):
        ops.avg_pool2d(nb.Tensor(np.ones((1, 1, 3, 3))), 5)
    with pytest.raises(InvalidValueError, match="divisor_override must be a non-zero int"):
        ops.avg_pool2d(nb.Tensor(np.ones((1, 1, 4, 4))), 2, divisor_override=0)
    with pytest.raises(InvalidValueError, match="output_size must be at least 1"):
        ops.adaptive_avg_pool2d(nb.Tensor(np.ones((1, 1, 4, 4))), 0)
