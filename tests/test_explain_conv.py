"""The chain-rule trace of a tiny convolutional network (``nnblocks explain --network conv``): every filter weight,
bias and pooled pixel gets its own line, whose products add up to the engine's gradient and agree with central
finite differences; the op spells out its sums itself (``Function.terms``), the trace knows no op by name."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks.cli import main
from nnblocks.cli.explain import build_problem
from nnblocks.viz import explain


def conv_trace(max_elements: int = 100, **options):
    model, x, y, loss_fn = build_problem("conv", **options)
    return model, loss_fn, explain(loss_fn, dict(model.named_parameters()), max_elements=max_elements)


def test_conv_trace_rows_add_up_to_the_engines_gradients_and_finite_differences():
    model, loss_fn, trace = conv_trace(activation="relu", batch=2)
    model.zero_grad()
    loss_fn().backward()
    np.testing.assert_allclose(trace.gradients["K"], model[0].weight.grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trace.gradients["bK"], model[0].bias.grad, rtol=1e-12, atol=1e-15)
    kernel_rows = trace.rows("K")
    assert len(kernel_rows) == 18  # 2 filters x 1 channel x 3 x 3: one line each
    for row in kernel_rows + trace.rows("bK"):
        assert sum(a * b for a, b in row.terms) == pytest.approx(row.value, abs=1e-12)
        assert abs(row.value - row.fd) < 1e-8  # float64 central differences, h = 1e-4
    # a weight's sum runs over every output pixel of its filter: 2 images x 4 x 4 positions
    assert all(len(row.terms) == 32 for row in kernel_rows)


def test_conv_lines_read_like_the_hand_derivation():
    _, _, trace = conv_trace(activation="relu")
    text = trace.to_text()
    assert "conv2d1[n,o,y,x] = sum_c,i,j K[o,c,i,j] x[n,c,y+i,x+j] + bK[o]" in text
    line = next(r for r in trace.rows("K") if r.gradient == "dL/dK[1,2,1]")
    assert line.expression.startswith("sum_n,y,x dL/dconv2d1[n,1,y,x] x x[n,0,y+2,x+1] = (")
    pooled = [r for s in trace.steps if s.title.startswith("maxpool2d1") for r in s.rows]
    assert len(pooled) == 32  # every pixel of the 2 x 4 x 4 convolution output
    for row in pooled:  # each pixel is in one 2x2 window: it gets that window's gradient if it won, else 0
        assert len(row.terms) == 1 and row.terms[0][1] in (0.0, 1.0)
        assert row.value == row.terms[0][0] * row.terms[0][1]
    assert sum(r.terms[0][1] for r in pooled) == 8  # one winner per window: 2 channels x 2 x 2 windows


def test_cli_explains_the_conv_network(capsys):
    assert main(["explain", "--network", "conv", "--activation", "relu", "--max-elements", "2"]) == 0
    out = capsys.readouterr().out
    assert "step 6: conv2d1 = conv2d(x, K, bK)" in out and "dL/dK[0,0,0] = sum_n,y,x" in out
    assert main(["explain", "--network", "conv", "--loss", "cross-entropy", "--batch", "3"]) == 0
    assert main(["explain", "--network", "conv", "--loss", "bce-logits"]) == 2
    assert "use --loss mse or cross-entropy" in capsys.readouterr().err
