"""Gradient spot checks during training: ``fit(check_gradients=N)``, ``history.spot_checks``, the warning, the CLI flag.

A deliberately broken op (a ReLU whose backward doubles the gradient) must be caught by the training-time check,
named by layer, parameter and index; correct models (with BatchNorm and Dropout in training mode) must pass with
small errors; the finite differences themselves are checked against a closed-form gradient.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from nnblocks import Tensor, nn, optim
from nnblocks.cli import main
from nnblocks.data import DataLoader, TensorDataset, digits
from nnblocks.nn import functional as F
from nnblocks.ops.base import Function
from nnblocks.train import History, fit
from nnblocks.gradcheck import relative_error
from nnblocks.train.spot_check import (
    DEFAULT_RTOL,
    SpotChecker,
    SpotCheckWarning,
    as_spot_checker,
    summarize,
)
from nnblocks.viz.spot_check import plot_spot_checks


class DoubledReLUOp(Function):
    """A wrong op on purpose: relu forward, but backward multiplies the gradient by 2."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.positive = a > 0
        return np.maximum(a, 0)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return 2 * g * self.positive


class BrokenReLU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return DoubledReLUOp.apply(x)


def blob_loader(n: int = 64, batch_size: int = 16, seed: int = 0) -> DataLoader:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)


def digits_loader(n: int = 256, batch_size: int = 32) -> DataLoader:
    X, y = digits(scale=16.0)
    return DataLoader(TensorDataset(X[:n].astype(np.float32), y[:n]), batch_size=batch_size, shuffle=True, seed=1)


def test_a_wrong_backward_is_caught_during_training_naming_layer_and_index():
    model = nn.Sequential(nn.Linear(4, 8, seed=0), BrokenReLU(), nn.Linear(8, 3, seed=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(SpotCheckWarning) as record:
        history = fit(model, nn.CrossEntropyLoss(), opt, blob_loader(), epochs=1, metrics=None, check_gradients=2)
    assert [r["step"] for r in history.spot_checks] == [1, 3]
    messages = [str(w.message) for w in record]
    first = [m for m in messages if "'0.weight'" in m]
    assert first, messages
    assert all("layer '0' (Linear)" in m for m in first)
    # only parameters upstream of the broken op get wrong gradients: layer 2's are right
    assert not any("'2.weight'" in m or "'2.bias'" in m for m in messages)
    # the message carries the index and both values, and the engine's value is twice the true one
    m = re.search(r"at index \((\d+), (\d+)\): engine gradient (\S+), float64 finite difference (\S+) ", first[0])
    assert m, first[0]
    assert 0 <= int(m.group(1)) < 8 and 0 <= int(m.group(2)) < 4
    engine, numeric = float(m.group(3)), float(m.group(4))
    assert engine == pytest.approx(2 * numeric, rel=1e-3)
    for r in history.spot_checks:
        assert r["errors"]["0.weight"] == pytest.approx(0.5, abs=1e-3)  # |2n - n| / |2n|
        assert r["errors"]["2.weight"] < 1e-4 and r["errors"]["2.bias"] < 1e-4


def test_correct_models_pass_with_small_errors_for_every_parameter():
    # BatchNorm (batch statistics) and Dropout (masks replayed) in training mode, on real data
    model = nn.Sequential(nn.Linear(64, 32, seed=0), nn.BatchNorm1d(32), nn.Tanh(), nn.Dropout(0.3, seed=5),
                          nn.Linear(32, 10, seed=1))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpotCheckWarning)
        history = fit(model, nn.CrossEntropyLoss(), opt, digits_loader(), epochs=2, check_gradients=3)
    names = [name for name, _ in model.named_parameters()]
    assert [r["step"] for r in history.spot_checks] == [1, 4, 7, 10, 13, 16]
    assert [r["epoch"] for r in history.spot_checks] == [1, 1, 1, 2, 2, 2]
    for r in history.spot_checks:
        assert list(r["errors"]) == names
        assert all(0 <= e < 1e-3 for e in r["errors"].values()), r  # well under the 1e-2 tolerance
    worst = summarize(history.spot_checks)
    assert max(worst.values()) > 0  # the check really compared numbers (not all exact zeros)
    assert history["loss"][1] < history["loss"][0]


def test_dropout_masks_are_replayed_and_training_is_unchanged_by_checks():
    def run(check):
        masks = np.random.default_rng(3)  # one generator shared by both Dropout layers, drawn from in turn
        model = nn.Sequential(nn.Linear(4, 16, seed=0), nn.ReLU(), nn.Dropout(0.5, seed=masks),
                              nn.Linear(16, 16, seed=1), nn.Tanh(), nn.Dropout(0.3, seed=masks),
                              nn.Linear(16, 3, seed=2))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = fit(model, nn.CrossEntropyLoss(), opt, blob_loader(), epochs=2, metrics=None, check_gradients=check)
        return model, h

    with warnings.catch_warnings():
        warnings.simplefilter("error", SpotCheckWarning)
        checked, h = run(1)
    assert len(h.spot_checks) == 8 and all(max(r["errors"].values()) < 1e-4 for r in h.spot_checks)
    plain, h0 = run(None)
    assert h0.spot_checks == [] and h["loss"] == h0["loss"]  # the checks draw nothing from the training RNGs
    for (_, a), (_, b) in zip(checked.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)


class GlobalDropoutNet(nn.Module):
    """Dropout through F.dropout on the global generator: randomness the checker cannot replay."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 16, seed=0), nn.Linear(16, 3, seed=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, training=self.training))


def test_unreplayable_randomness_is_reported_not_mistaken_for_a_wrong_gradient():
    model = GlobalDropoutNet()
    with pytest.warns(SpotCheckWarning, match="skipped: float64 re-evaluations give different losses .* cannot replay"):
        h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), blob_loader(), epochs=1,
                metrics=None, check_gradients=4)
    assert all("note" in r and all(np.isnan(e) for e in r["errors"].values()) for r in h.spot_checks)
    assert summarize(h.spot_checks) == {}
    # in eval mode (no dropout) the same model checks fine
    model.eval()
    x, y = next(iter(blob_loader()))
    model.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    checker = SpotChecker(1)
    assert checker.start_step(model)
    record = checker.check(model, nn.CrossEntropyLoss(), x, y, loss.item())
    assert "note" not in record and max(record["errors"].values()) < 1e-4


def test_finite_differences_match_the_closed_form_gradient():
    # y = W x + b with MSE: dL/dW = 2/(n m) (W x + b - y)^T x, so each sampled element can be checked exactly
    rng = np.random.default_rng(0)
    model = nn.Linear(3, 2, seed=0)
    X, Y = rng.standard_normal((10, 3)).astype(np.float32), rng.standard_normal((10, 2)).astype(np.float32)
    loss = nn.MSELoss()(model(Tensor(X)), Tensor(Y))
    loss.backward()
    checker = SpotChecker(1, samples=6)  # every element of the weight, 2 of 2 of the bias
    checker.start_step(model)
    record = checker.check(model, nn.MSELoss(), Tensor(X), Tensor(Y), loss.item(), epoch=1)
    W, b = model.weight.data.astype(np.float64), model.bias.data.astype(np.float64)
    residual = X.astype(np.float64) @ W.T + b - Y
    exact = {"weight": 2 / residual.size * residual.T @ X, "bias": 2 / residual.size * residual.sum(axis=0)}
    for c in checker.last:
        assert c.layer == "" and c.kind == "Linear"
        assert c.numeric == pytest.approx(exact[c.name][c.index], rel=1e-7, abs=1e-10)
        assert c.engine == pytest.approx(exact[c.name][c.index], rel=1e-5, abs=1e-7)
    assert record["step"] == 1 and record["epoch"] == 1 and set(record["errors"]) == {"weight", "bias"}


def test_relative_error_floor_and_arguments():
    # below the floor atol/rtol the error is measured against the floor (float32 cancellation noise is not a bug)
    assert relative_error(np.array([2e-8]), np.array([1e-8]), floor=1e-4)[0] == pytest.approx(1e-4)
    assert relative_error(np.array([2.0]), np.array([1.0]), floor=1e-4)[0] == pytest.approx(0.5)
    assert relative_error(np.array([0.0]), np.array([0.0]), floor=1e-4)[0] == 0.0
    assert relative_error(np.array([np.nan]), np.array([1.0]), floor=1e-4)[0] == np.inf
    assert as_spot_checker(None) is None and as_spot_checker(0) is None and as_spot_checker(7).every == 7
    with pytest.raises(ValueError, match="check_gradients must be an int >= 0"):
        as_spot_checker(-1)
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        SpotChecker(0)


def test_history_keeps_the_checks_through_json(tmp_path):
    h = History()
    h.append({"epoch": 1, "loss": 0.5})
    h.spot_checks.append({"step": 1, "epoch": 1, "errors": {"0.weight": 1.5e-6, "0.bias": 0.0}})
    h.to_json(tmp_path / "h.json")
    back = History.from_json(tmp_path / "h.json")
    assert back.spot_checks == h.spot_checks and back == h
    other = back.copy()
    other.spot_checks[0]["errors"]["0.bias"] = 1.0  # a deep copy: the original is untouched
    assert back.spot_checks[0]["errors"]["0.bias"] == 0.0 and other != back
    fig = plot_spot_checks(h)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["0.weight", "0.bias", "tolerance 0.01"]
    assert fig.axes[0].get_lines()[1].get_ydata()[0] == pytest.approx(1e-10)  # 0 drawn at the floor
    with pytest.raises(ValueError, match="no gradient spot checks recorded"):
        plot_spot_checks(History())


def test_cli_flag_reports_the_checks_and_writes_the_plot(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["train", "--dataset", "moons", "--samples", "200", "--hidden", "8", "--epochs", "2",
                 "--check-gradients", "3", "--out", str(out_dir), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (out_dir / "gradient_check.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"gradient check plot: {out_dir / 'gradient_check.png'}" in out
    match = re.search(r"gradient checks \((\d+) steps, largest relative error per parameter\): (.*); all below the "
                      r"tolerance 0\.01", out)
    assert match, out
    history = json.loads((out_dir / "history.json").read_text())
    assert len(history["spot_checks"]) == int(match.group(1)) > 1
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert re.search(rf"{re.escape(name)} \d\.\de-\d\d", match.group(2)), match.group(2)
    assert "warning" not in err
    assert max(summarize(history["spot_checks"]).values()) < DEFAULT_RTOL
