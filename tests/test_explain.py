"""The chain-rule trace: its numbers are the engine's gradients, the chapter's known values, the hand-derived
chain rule of ``nnblocks.fundamentals``, and central finite differences; the CLI prints it as text or a table."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import BackwardError, Tensor
from nnblocks.cli import main
from nnblocks.cli.explain import build_problem
from nnblocks.viz import explain


def chapter_trace():
    model, x, y, loss_fn = build_problem()
    return model, loss_fn, explain(loss_fn, dict(model.named_parameters()))


def engine_grads(model, loss_fn):
    model.zero_grad()
    loss_fn().backward()
    return {name: p.grad.data.copy() for name, p in model.named_parameters()}


def test_chapter_known_values_to_four_decimals():
    _, _, trace = chapter_trace()
    assert trace.loss == pytest.approx(0.33455, abs=1e-5)
    np.testing.assert_allclose(trace.gradients["b2"], [-1.1568], atol=5e-5)
    np.testing.assert_allclose(trace.gradients["W2"], [[-0.6814, -0.4255, -0.5364]], atol=5e-5)
    np.testing.assert_allclose(trace.gradients["y_hat"], [[-1.1568]], atol=5e-5)


def test_chapter_trace_equals_engine_and_fundamentals():
    model, loss_fn, trace = chapter_trace()
    grads = engine_grads(model, loss_fn)
    for symbol, name in [("W1", "0.weight"), ("b1", "0.bias"), ("W2", "2.weight"), ("b2", "2.bias")]:
        np.testing.assert_allclose(trace.gradients[symbol], grads[name], rtol=1e-12, atol=1e-14)
    from nnblocks import fundamentals
    x, y, w = fundamentals.network_231("float64")
    by_hand = fundamentals.chain_rule_gradients(x, y, w)  # layout (inputs, outputs): transposed weights
    np.testing.assert_allclose(trace.gradients["W1"], by_hand[0].T, atol=1e-12)
    np.testing.assert_allclose(trace.gradients["b1"], by_hand[1], atol=1e-12)
    np.testing.assert_allclose(trace.gradients["W2"], by_hand[2].T, atol=1e-12)
    np.testing.assert_allclose(trace.gradients["b2"], by_hand[3], atol=1e-12)


def test_chapter_lines_read_like_the_hand_derivation():
    _, _, trace = chapter_trace()
    text = trace.to_text()
    assert "dL/dW2[0] = dL/dy_hat (-1.1568) x h[0] (0.5890) = -0.6814" in text
    assert "dL/db2 = dL/dy_hat (-1.1568) x 1 = -1.1568" in text
    assert "dL/dz1[0] = dL/dh[0] (-0.1768) x h(1-h) (0.2421) = -0.0428" in text
    # from the loss back: MSE first, the first layer last
    titles = [s.title for s in trace.steps]
    assert titles == ["L = mse(y_hat, y)", "y_hat = linear(h, W2, b2)", "h = sigmoid(z1)", "z1 = linear(x, W1, b1)"]


def test_every_row_is_the_sum_of_its_products_and_matches_finite_differences():
    _, _, trace = chapter_trace()
    rows = trace.rows()
    assert len(rows) == 1 + 3 + 1 + 3 + 3 + 6 + 3  # y_hat, W2, b2, h, z1, W1, b1 (x needs no gradient)
    for row in rows:
        assert sum(a * b for a, b in row.terms) == pytest.approx(float(row.value), abs=1e-12)
    weight_rows = [r for r in rows if r.fd is not None]
    assert len(weight_rows) == 13
    for row in weight_rows:
        assert row.fd == pytest.approx(float(row.value), abs=1e-8)


@pytest.mark.parametrize("activation,loss", [("relu", "mse"), ("tanh", "cross-entropy"), ("sigmoid", "bce-logits")])
def test_random_networks_with_a_batch_equal_the_engine(activation, loss):
    model, _, _, loss_fn = build_problem("2-4-3-2", seed=3, activation=activation, loss=loss, batch=5)
    trace = explain(loss_fn, dict(model.named_parameters()), max_elements=100)
    grads = engine_grads(model, loss_fn)
    linears = ["0", "2", "4"]
    for k, prefix in enumerate(linears, 1):
        np.testing.assert_allclose(trace.gradients[f"W{k}"], grads[f"{prefix}.weight"], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(trace.gradients[f"b{k}"], grads[f"{prefix}.bias"], rtol=1e-10, atol=1e-13)
    assert "SUM over the samples" in trace.to_text()
    for row in trace.rows():
        assert sum(a * b for a, b in row.terms) == pytest.approx(float(row.value), abs=1e-12)
        if row.fd is not None:
            assert row.fd == pytest.approx(float(row.value), abs=1e-7)
    batch_rows = trace.rows("W1")
    assert len(batch_rows) == 8 and all(len(r.terms) == 5 for r in batch_rows)  # one product per sample


def test_elementwise_ops_and_a_plain_tensor_loss():
    a = Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True, name="a")
    b = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="b")
    c = Tensor(np.array([4.0, 5.0, 6.0]))
    loss = ((a * b + c).tanh()).sum()
    trace = explain(loss)  # a tensor and no way to recompute it: no finite-difference column
    assert all(r.fd is None for r in trace.rows()) and "Finite difference" not in trace.to_text()
    loss.backward()
    np.testing.assert_allclose(trace.gradients["a"], a.grad, rtol=1e-12)
    np.testing.assert_allclose(trace.gradients["b"], b.grad, rtol=1e-12)
    # d(tanh)/d(input) = 1 - tanh^2, and d(a*b)/da = b, as a learner writes them
    z = a.data * b.data + c.data
    np.testing.assert_allclose([r.terms[0][1] for r in trace.rows("add1")], 1 - np.tanh(z) ** 2, rtol=1e-12)
    assert "dL/da[1] = dL/dmul1[1] (0.0099) x b[1] (-1.0000) = -0.0099" in trace.to_text()
    # with a way to recompute, the finite differences appear and agree
    trace = explain(lambda: ((a * b + c).tanh()).sum())
    assert [r.fd for r in trace.rows("a")] == pytest.approx(a.grad.tolist(), abs=1e-6)  # O(h^2) truncation


def test_freed_graph_is_an_error_naming_the_fix():
    model, _, _, loss_fn = build_problem()
    loss = loss_fn()
    loss.backward()
    with pytest.raises(BackwardError, match="retain_graph"):
        explain(loss)


def test_cli_text(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "dL/dW2[0] = dL/dy_hat (-1.1568) x h[0] (0.5890) = -0.6814" in out
    assert "finite difference -0.6814" in out


def test_cli_markdown_table_and_figure(capsys, tmp_path):
    assert main(["explain", "--format", "markdown", "--figure", str(tmp_path / "g.svg")]) == 0
    out = capsys.readouterr().out
    assert "| gradient | upstream x local | value | finite difference | difference |" in out
    assert "| `dL/dW2[0]` | `dL/dy_hat (-1.1568) x h[0] (0.5890)` | -0.6814 | -0.6814 |" in out
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_cli_other_network_and_bad_flags(capsys):
    assert main(["explain", "--network", "2-4-3-1", "--seed", "1", "--activation", "relu", "--batch", "2"]) == 0
    assert "dL/dW3[0] = sum_n (over the 2 samples)" in capsys.readouterr().out
    assert main(["explain", "--network", "2-x-1"]) == 2
    assert "--network" in capsys.readouterr().err
    assert main(["explain", "--batch", "3"]) == 2  # the chapter has one sample


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    (["--max-elements", "-1"], "argument --max-elements: expected a positive integer, got '-1'"),
    (["--max-elements", "0"], "argument --max-elements: expected a positive integer, got '0'"),
    (["--batch", "-1"], "argument --batch: expected a positive integer, got '-1'"),
    (["--batch", "0"], "argument --batch: expected a positive integer, got '0'"),
])
def test_cli_bad_numbers_are_argparse_errors_naming_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["explain", "--network", "2-3-1", *argv])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and "usage:" in captured.err and captured.out == ""


def test_the_chapter_network_is_an_mlp_with_the_chapters_weights_and_seeded_labels():
    from nnblocks import fundamentals, nn

    _, _, weights = fundamentals.network_231("float64")
    model, x, _, _ = build_problem("chapter", activation="tanh")
    assert isinstance(model, nn.MLP) and [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    np.testing.assert_array_equal(model[0].weight.data, weights[0].T)  # the chapter's W is (inputs, outputs)
    np.testing.assert_array_equal(model[2].bias.data, weights[3].reshape(-1))
    # the bce-logits labels are drawn after random weights, as before nn.MLP (a generator fresh from the seed would
    # give 1 for seeds 4 and 5)
    labels = [build_problem("chapter", seed=seed, loss="bce-logits")[2].data.item() for seed in range(6)]
    assert labels == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_a_linear_layer_without_bias_states_no_bias_term():
    from nnblocks import nn
    from nnblocks.nn import functional as F

    layer = nn.Linear(2, 1, bias=False, dtype=np.float64, seed=0)
    x, y = Tensor(np.array([[1.0, 2.0]])), Tensor(np.array([[0.5]]))
    trace = explain(lambda: F.mse_loss(layer(x), y), dict(layer.named_parameters()))
    step = next(s for s in trace.steps if s.title.startswith("y_hat = linear("))
    assert step.formula == "y_hat = x W1^T;  dy_hat[i]/dW1[i,j] = x[j],  dy_hat[i]/dx[j] = W1[i,j]"
    w = layer.weight.data
    np.testing.assert_allclose(trace.gradients["W1"], 2 * (x.data @ w.T - y.data) * x.data, rtol=1e-14)


def test_a_per_sample_loss_is_pulled_back_whole_instead_of_failing():
    """Regression: a class loss with reduction='none' once raised IndexError in the trace (its output is (N,), its
    input (N, C), so no single element of the input has one upstream element)."""
    from nnblocks.nn import functional as F

    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    t = Tensor(np.array([0, 1, 3]))
    trace = explain(lambda: F.cross_entropy(x, t, reduction="none").sum())
    (row,) = trace.steps[1].rows
    assert row.expression == "dL/dcrossentropy1 pulled back through CrossEntropy"
    p = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(row.value, p - np.eye(4)[t.data], rtol=1e-13)  # softmax - onehot, per sample
