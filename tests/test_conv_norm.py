"""Batch norm over (N, C, H, W) and (N, C, L), and channel dropout: float64 gradcheck and PyTorch parity over a
hypothesis grid of shapes, in training (batch statistics, the gradient through them) and in eval mode."""
from __future__ import annotations

import numpy as np
import pytest
from conv_cases import close, record_gradcheck, report_worst
from hypothesis import given, settings
from hypothesis import strategies as st

import nnblocks as nb
from nnblocks.nn import functional as F


@pytest.fixture(scope="module", autouse=True)
def _parity_report():
    yield
    report_worst("batch norm over channels")


# At least 3 values per channel: with 2, x_hat = -1 and +1 whatever x is, so dL/dx is exactly 0 and both libraries
# return rounding noise (~1e-8 in float32), which no relative comparison can judge.
shapes = st.one_of(st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
                   st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 5))
                   ).filter(lambda shape: np.prod(shape) // shape[1] >= 3)


def _inputs(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return (rng.standard_normal(shape).astype(dtype) * 2 + 1, rng.uniform(0.5, 2, c).astype(dtype),
            rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, training=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_gradcheck(shape, training, seed):
    x, gamma, beta, mean, var = _inputs(shape, seed)
    tensors = [nb.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    # 10x tighter than gradcheck's defaults; normalising by the batch's own spread gives large third derivatives,
    # so the central differences' own error reaches ~5e-8 here (conv and pooling stay below 1e-8)
    report = nb.gradcheck(lambda a, g, b: F.batch_norm(a, mean.copy(), var.copy(), g, b, training=training),
                          tensors, atol=1e-6, rtol=1e-5, seed=seed)
    record_gradcheck(report)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, training=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_batch_norm_matches_pytorch(shape, training, dtype, seed):
    torch = pytest.importorskip("torch")
    x, gamma, beta, mean, var = _inputs(shape, seed, dtype)
    ours = [nb.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    run_mean, run_var = mean.copy(), var.copy()
    t_mean, t_var = torch.tensor(mean), torch.tensor(var)
    out = F.batch_norm(ours[0], run_mean, run_var, ours[1], ours[2], training=training, momentum=0.3)
    out_t = torch.nn.functional.batch_norm(theirs[0], t_mean, t_var, theirs[1], theirs[2], training=training,
                                           momentum=0.3)
    g = np.random.default_rng(seed + 1).standard_normal(shape).astype(dtype)
    out.backward(g)
    out_t.backward(torch.from_numpy(g))
    what = f"batch_norm {shape} training={training}"
    close(out, out_t, what + " forward")
    close(ours[0].grad, theirs[0].grad, f"{what} dL/dx")
    # dL/dgamma and dL/dbeta sum over the batch: judged against the sum of their terms' magnitudes
    axes = tuple(i for i in range(len(shape)) if i != 1)
    channel = (1, -1) + (1,) * (len(shape) - 2)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    centre, spread = ((x64.mean(axes), x64.var(axes)) if training else (mean.astype(np.float64), var.astype(np.float64)))
    x_hat = (x64 - centre.reshape(channel)) / np.sqrt(spread.reshape(channel) + 1e-5)
    close(ours[1].grad, theirs[1].grad, f"{what} dL/dgamma", terms=np.abs(g64 * x_hat).sum(axes))
    close(ours[2].grad, theirs[2].grad, f"{what} dL/dbeta", terms=np.abs(g64).sum(axes))
    close(run_mean, t_mean, what + " running mean")
    close(run_var, t_var, what + " running var")


def test_dropout2d_gradient_is_the_mask():
    x = nb.Tensor(np.random.default_rng(0).standard_normal((4, 5, 3, 3)), requires_grad=True)
    out = F.dropout2d(x, 0.4, seed=1)
    out.sum().backward()
    keep = out.data != 0
    np.testing.assert_array_equal(x.grad, keep / 0.6)  # 1/(1-p) where the channel was kept, 0 where dropped
    record_gradcheck(nb.gradcheck(lambda a: F.dropout2d(a, 0.4, seed=1), [x]))
