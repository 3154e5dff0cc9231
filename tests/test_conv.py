"""conv2d: hand-computed values, float64 gradcheck and PyTorch parity over a hypothesis grid of shapes, strides,
paddings (int, pair, "same", "valid"), dilations and groups, the errors it raises, and the reused im2col workspace.

Run with NNBLOCKS_PARITY_REPORT=1 (and -s) to print the largest relative errors measured against PyTorch.
"""
from __future__ import annotations

import numpy as np
import pytest
from conv_cases import close, conv_geometry, record_gradcheck, report_worst
from hypothesis import given, settings
from hypothesis import strategies as st

import nnblocks as nb
from nnblocks import nn, ops
from nnblocks.errors import DTypeError, InvalidValueError, ShapeError
from nnblocks.ops.windows import WORKSPACE, Workspace


@pytest.fixture(scope="module", autouse=True)
def _parity_report():
    yield
    report_worst("conv2d")


def _tensors(geometry: dict, dtype=np.float64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = nb.Tensor(rng.standard_normal(geometry["x"]).astype(dtype), requires_grad=True)
    w = nb.Tensor(rng.standard_normal(geometry["w"]).astype(dtype), requires_grad=True)
    b = nb.Tensor(rng.standard_normal(geometry["w"][0]).astype(dtype), requires_grad=True) if geometry["bias"] else None
    return x, w, b


# ---- by hand --------------------------------------------------------------------------------------------------------
def test_one_image_one_filter_by_hand():
    # the sliding window written out: each output is the sum of the 2x2 patch times the kernel, plus the bias
    x = nb.Tensor(np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)
    w = nb.Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    b = nb.Tensor(np.array([0.5]), requires_grad=True)
    z = ops.conv2d(x, w, b)
    # [0 1; 3 4] . [1 2; 3 4] = 0 + 2 + 9 + 16 = 27, then 37, 57, 67 (each step right adds 1+2+3+4 = 10, down 30)
    np.testing.assert_array_equal(z.data, [[[[27.5, 37.5], [57.5, 67.5]]]])
    z.sum().backward()
    # dL/dW[i,j] = sum of the pixels the tap (i, j) read: top-left 0+1+3+4 = 8, then 12, 20, 24
    np.testing.assert_array_equal(w.grad, [[[[8.0, 12.0], [20.0, 24.0]]]])
    np.testing.assert_array_equal(b.grad, [4.0])  # one per output pixel
    # dL/dx: the centre pixel is read by all four windows (1+2+3+4), the corners by one tap each
    np.testing.assert_array_equal(x.grad, [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]])


def test_stride_padding_and_same_by_hand():
    x = nb.Tensor(np.ones((1, 1, 4, 4)))
    w = nb.Tensor(np.ones((1, 1, 3, 3)))
    # padding 1: a corner window sees 4 ones, an edge window 6, an inner window 9
    np.testing.assert_array_equal(ops.conv2d(x, w, padding=1).data[0, 0], [[4, 6, 6, 4], [6, 9, 9, 6],
                                                                        [6, 9, 9, 6], [4, 6, 6, 4]])
    np.testing.assert_array_equal(ops.conv2d(x, w, padding="same").data, ops.conv2d(x, w, padding=1).data)
    np.testing.assert_array_equal(ops.conv2d(x, w, padding=1, stride=2).data[0, 0], [[4, 6], [6, 9]])
    assert ops.conv2d(x, w, padding="valid").shape == (1, 1, 2, 2)
    # "same" with an even kernel pads the odd pixel at the bottom/right, as PyTorch: the last row/column sees less
    np.testing.assert_array_equal(ops.conv2d(x, nb.Tensor(np.ones((1, 1, 2, 2))), padding="same").data[0, 0],
                                  [[4, 4, 4, 2], [4, 4, 4, 2], [4, 4, 4, 2], [2, 2, 2, 1]])


def test_dilation_and_groups_by_hand():
    x = nb.Tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    w = nb.Tensor(np.array([[[[1.0, 0.0], [0.0, -1.0]]]]))
    # dilation 2: the taps are 2 pixels apart, so each output is x[y, x] - x[y+2, x+2] = -12 everywhere
    np.testing.assert_array_equal(ops.conv2d(x, w, dilation=2).data, np.full((1, 1, 3, 3), -12.0))
    # groups=2: channel 0 only sees input 0 (times 1), channel 1 only input 1 (times 10)
    x2 = nb.Tensor(np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])[None])
    w2 = nb.Tensor(np.array([1.0, 10.0]).reshape(2, 1, 1, 1))
    out = ops.conv2d(x2, w2, groups=2).data
    np.testing.assert_array_equal(out[0, 0], np.ones((3, 3)))
    np.testing.assert_array_equal(out[0, 1], 20 * np.ones((3, 3)))


# ---- gradcheck and PyTorch parity over the grid ----------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(geometry=conv_geometry(), seed=st.integers(0, 2**16))
def test_gradcheck_over_the_grid(geometry, seed):
    x, w, b = _tensors(geometry, seed=seed)
    inputs = [x, w] if b is None else [x, w, b]
    # tolerances 100x tighter than gradcheck's defaults: float64 central differences are good to ~1e-9 here
    report = nb.gradcheck(lambda *t: ops.conv2d(*t, **geometry["options"]), inputs, atol=1e-7, rtol=1e-6, seed=seed)
    record_gradcheck(report)


@settings(max_examples=60, deadline=None)
@given(geometry=conv_geometry(), dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_forward_and_gradients_match_pytorch(geometry, dtype, seed):
    torch = pytest.importorskip("torch")
    x, w, b = _tensors(geometry, dtype, seed)
    out = ops.conv2d(x, w, b, **geometry["options"])
    g = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    tx, tw = (torch.tensor(t.data, requires_grad=True) for t in (x, w))
    tb = None if b is None else torch.tensor(b.data, requires_grad=True)
    theirs = torch.nn.functional.conv2d(tx, tw, tb, **geometry["options"])
    theirs.backward(torch.from_numpy(g))
    what = f"conv2d {geometry}"
    close(out, theirs, what + " forward")
    close(x.grad, tx.grad, what + " dL/dx")
    close(w.grad, tw.grad, what + " dL/dW")
    if b is not None:
        close(b.grad, tb.grad, what + " dL/db")


def test_float32_stays_float32_and_output_is_an_nchw_view_of_channels_last_memory():
    x = nb.Tensor(np.ones((2, 3, 5, 5), np.float32), requires_grad=True)
    w = nb.Tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
    out = ops.conv2d(x, w)
    assert out.dtype == np.float32 and out.shape == (2, 4, 3, 3)
    assert out.data.transpose(0, 2, 3, 1).flags.c_contiguous  # channels-last memory (see ops/windows.py)
    out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


# ---- errors ---------------------------------------------------------------------------------------------------------
def test_errors_name_the_op_the_shapes_and_the_fix():
    w = nb.Tensor(np.ones((8, 3, 3, 3)))
    with pytest.raises(ShapeError, match=r"conv2d: expected a batch of images .* got shape \(3, 28, 28\).*x\[None\]"):
        ops.conv2d(nb.Tensor(np.ones((3, 28, 28))), w)
    with pytest.raises(ShapeError, match=r"expected 3 input channels .* \(2, 1, 28, 28\) with 1 channels"):
        ops.conv2d(nb.Tensor(np.ones((2, 1, 28, 28))), w)
    with pytest.raises(ShapeError, match=r"kernel \(3, 3\).* larger than the padded input.*padded to 2"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 2, 2))), w)
    assert ops.conv2d(nb.Tensor(np.ones((1, 3, 2, 2))), w, padding=1).shape == (1, 8, 2, 2)  # the fix works
    with pytest.raises(InvalidValueError, match="padding='same' needs stride 1"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8))), w, stride=2, padding="same")
    with pytest.raises(InvalidValueError, match="padding must be an int, a pair, 'same' or 'valid'"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8))), w, padding="full")
    with pytest.raises(ShapeError, match="out_channels 8 .* not divisible by groups 3"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8))), nb.Tensor(np.ones((8, 1, 3, 3))), groups=3)
    with pytest.raises(DTypeError, match="input dtype float32 differs from weight dtype float64"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8), np.float32)), w)
    with pytest.raises(InvalidValueError, match="stride must be at least 1"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8))), w, stride=0)
    with pytest.raises(ShapeError, match="bias must have shape \\(8,\\)"):
        ops.conv2d(nb.Tensor(np.ones((1, 3, 8, 8))), w, nb.Tensor(np.ones(3)))


# ---- the graph and the workspace --------------------------------------------------------------------------------------
def test_second_backward_through_a_retained_graph_gives_the_same_gradients():
    # backward writes dL/dcols into the im2col buffer; a second backward must rebuild the columns, not reuse them
    rng = np.random.default_rng(0)
    x = nb.Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = nb.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    loss = (ops.conv2d(x, w, padding=1) ** 2).sum()
    loss.backward(retain_graph=True)
    first = w.grad.data.copy(), x.grad.data.copy()
    w.grad = x.grad = None
    loss.backward()
    np.testing.assert_array_equal(w.grad, first[0])
    np.testing.assert_array_equal(x.grad, first[1])


def test_im2col_buffers_are_reused_from_step_to_step():
    # each training step takes its im2col buffers from the workspace and gives them back after backward: from the
    # second step on, the same arrays serve again (memory per step is bounded, nothing is reallocated)
    model = nn.CNN((1, 12, 12), channels=[4, 6], hidden=[8], out=3, seed=0)
    x, y = nb.Tensor(np.random.default_rng(0).random((5, 1, 12, 12), np.float32)), nb.Tensor(np.arange(5) % 3)
    WORKSPACE.free.clear()
    seen = []
    for _ in range(3):
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        seen.append({id(a) for arrays in WORKSPACE.free.values() for a in arrays})
    assert len(seen[0]) == 2 and seen[0] == seen[1] == seen[2]
    with nb.no_grad():  # no graph, so no backward: each layer gives its buffer back at once
        model(x)
    assert {id(a) for arrays in WORKSPACE.free.values() for a in arrays} == seen[0]


def test_workspace_keeps_a_bounded_number_of_arrays():
    space = Workspace(per_shape=2, shapes=3)
    arrays = [space.take((4, 4), np.float32) for _ in range(4)]
    for a in arrays:
        space.give(a)
    assert len(space.free[((4, 4), np.dtype(np.float32).str)]) == 2
    assert space.take((4, 4), np.float32) is arrays[1]  # the last one kept comes back first
    for n in range(5, 10):
        space.give(np.empty((n,), np.float64))
    assert len(space.free) == 3 and space.nbytes() == (7 + 8 + 9) * 8  # the least recently used shapes are dropped


def test_workspace_hands_each_array_to_one_taker_across_threads():
    # runs may train in threads (the playground): an array in use must never be handed to a second taker
    import threading
    import time

    space = Workspace(per_shape=4)
    clashes = []

    def worker(mark: float) -> None:
        for _ in range(500):
            array = space.take((16,), np.float64)
            array[...] = mark
            time.sleep(0)  # let the other threads run while this one holds the array
            if not np.all(array == mark):
                clashes.append(mark)
            space.give(array)

    threads = [threading.Thread(target=worker, args=(float(k),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clashes == [] and 1 <= len(space.free[((16,), np.dtype(np.float64).str)]) <= 4
