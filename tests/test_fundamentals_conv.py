"""The convolution chapter by hand (``nnblocks.fundamentals.convolution``): values worked out on paper, gradients
against central differences, and the loops against the engine's vectorised ops (each checks the other)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnblocks as nb
from nnblocks import ops
from nnblocks.fundamentals.convolution import (
    convolve,
    convolve_backward,
    finite_difference_check,
    max_pool,
    max_pool_backward,
    output_size,
    pad,
)

IMAGE = np.array([[0, 0, 1, 1],
                  [0, 0, 1, 1],
                  [0, 0, 1, 1],
                  [0, 0, 1, 1]], dtype=np.float64)
VERTICAL_EDGE = np.array([[-1, 1],
                          [-1, 1]], dtype=np.float64)


def test_a_vertical_edge_filter_by_hand():
    # the filter answers 2 where its window straddles the dark-to-bright edge, 0 on flat regions
    np.testing.assert_array_equal(convolve(IMAGE, VERTICAL_EDGE), [[0, 2, 0], [0, 2, 0], [0, 2, 0]])
    np.testing.assert_array_equal(convolve(IMAGE, VERTICAL_EDGE, bias=-1.0, stride=2), [[-1, -1], [-1, -1]])
    padded = convolve(IMAGE, VERTICAL_EDGE, padding=1)
    assert padded.shape == (5, 5) and padded[0, 4] == -1  # top-right: only the bright pixel under the -1 weight
    assert output_size(28, 3) == 26 and output_size(28, 3, stride=2, padding=1) == 14
    np.testing.assert_array_equal(pad(np.ones((1, 2)), 1), [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="does not fit"):
        convolve(np.ones((2, 2)), np.ones((3, 3)))


def test_gradients_by_hand():
    image = np.arange(9.0).reshape(3, 3)
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad_image, grad_kernel, grad_bias = convolve_backward(image, kernel, np.ones((2, 2)))
    np.testing.assert_array_equal(grad_kernel, [[8, 12], [20, 24]])  # sum of the pixels each weight met
    assert grad_bias == 4.0
    np.testing.assert_array_equal(grad_image, [[1, 3, 2], [4, 10, 6], [3, 7, 4]])  # the centre is in 4 windows


def test_max_pool_by_hand_first_maximum_wins():
    image = np.array([[1.0, 3.0, 2.0, 2.0],
                      [3.0, 0.0, 1.0, 0.0]])
    out, positions = max_pool(image, 2)
    np.testing.assert_array_equal(out, [[3, 2]])
    np.testing.assert_array_equal(positions, [[[0, 1], [0, 2]]])  # the first 3, the first 2 in reading order
    np.testing.assert_array_equal(max_pool_backward(np.array([[5.0, 7.0]]), positions, image.shape),
                                  [[0, 5, 7, 0], [0, 0, 0, 0]])


@settings(max_examples=25, deadline=None)
@given(h=st.integers(4, 7), w=st.integers(4, 7), k=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_chain_rule_against_finite_differences(h, w, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    # distinct non-zero values: no ties inside a pooling window, not even with the padding (whose outputs are the bias)
    image = (rng.permutation(h * w).reshape(h, w) + 1) / (h * w)
    kernel = rng.standard_normal((k, k))
    if output_size(h, k, stride, padding) < 2 or output_size(w, k, stride, padding) < 2:
        return  # nothing left to pool
    errors = finite_difference_check(image, kernel, bias=0.3, stride=stride, padding=padding, seed=seed)
    assert max(errors.values()) < 1e-7, errors


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
       k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_loops_and_engine_agree(n, c, o, h, w, k, stride, padding, seed):
    # a multi-channel convolution is a sum of one-image-one-filter convolutions: out[n, o] = sum_c conv(x[n,c], W[o,c])
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k)), rng.standard_normal(o)
    xt, wt, bt = (nb.Tensor(a, requires_grad=True) for a in (x, weight, bias))
    z = ops.conv2d(xt, wt, bt, stride=stride, padding=padding)
    g = rng.standard_normal(z.shape)
    z.backward(g)
    grad_x, grad_w, grad_b = np.zeros_like(x), np.zeros_like(weight), np.zeros_like(bias)
    for s in range(n):
        for out_c in range(o):
            by_hand = sum(convolve(x[s, ch], weight[out_c, ch], stride=stride, padding=padding) for ch in range(c))
            np.testing.assert_allclose(z.data[s, out_c], by_hand + bias[out_c], rtol=1e-12, atol=1e-12)
            for ch in range(c):
                gi, gk, gb = convolve_backward(x[s, ch], weight[out_c, ch], g[s, out_c], stride, padding)
                grad_x[s, ch] += gi
                grad_w[out_c, ch] += gk
            grad_b[out_c] += gb
    for ours, engine in ((grad_x, xt.grad), (grad_w, wt.grad), (grad_b, bt.grad)):
        np.testing.assert_allclose(engine, ours, rtol=1e-12, atol=1e-12)
    pooled = ops.max_pool2d(nb.Tensor(x), 2)
    for s in range(n):
        for ch in range(c):
            np.testing.assert_array_equal(pooled.data[s, ch], max_pool(x[s, ch], 2)[0])
