"""Tests for nnblocks.experiments.chapter1 (the chapter's two experiments, finite differences compared with the chain
rule at every step) and viz.curves."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks.experiments.chapter1 import explain_element, format_report, run_demo
from nnblocks.fundamentals import chain_rule_gradients, finite_difference_gradients, network_231


@pytest.fixture(scope="module")
def faithful():
    return run_demo()


def neuron_w_b(weights):
    return float(np.ravel(weights[0])[0]), float(np.ravel(weights[1])[0])


def test_network_experiment_faithful_numbers(faithful):
    h = faithful.network.history
    assert h.epochs == 100
    assert f"{float(h.losses[0]):.8g}" == "0.33455009"
    # measured on the faithful run (float64 losses from float32 weights); loose enough for BLAS summation order
    assert float(h.losses[-1]) == pytest.approx(3.2770673e-4, rel=1e-6)
    assert float(h.final_loss) == pytest.approx(3.0548407e-4, rel=1e-6)
    assert np.all(np.diff(h.losses) < 0)
    # the chain-rule run ends within 1 % of the finite-difference one
    assert float(faithful.network.chain_history.final_loss) == pytest.approx(float(h.final_loss), rel=1e-2)


def test_network_finite_differences_agree_with_chain_rule_every_step(faithful):
    net = faithful.network
    assert len(net.comparisons) == 100 and not net.findings
    worst, epoch = net.max_relative_difference
    assert 1e-5 < worst < 1e-2  # not exact (forward difference, float32 nudges) but well within 1 %
    assert net.comparisons[0].max_relative_difference < 1e-3


def test_learning_rate_study_faithful(faithful):
    study = faithful.study
    assert sorted(study) == [0.01, 0.1, 1.0]
    # first step at lr 0.01: W = -0.01 * (-45 + 7.5e-4) ~ 0.4499925, b ~ 0.149999 (see test_fundamentals)
    w1, b1 = neuron_w_b(study[0.01].history.weights[1])
    assert w1 == pytest.approx(0.4499925, abs=5e-8) and b1 == pytest.approx(0.149999, abs=5e-8)
    # after 10 epochs, measured; the chain rule gives 2.265612, 0.7404439 (float32 weights)
    w, b = neuron_w_b(study[0.01].history.final_weights)
    assert (w, b) == pytest.approx((2.265477, 0.7404298), abs=2e-6)
    w, b = neuron_w_b(study[0.1].history.final_weights)
    assert (w, b) == pytest.approx((2.721776, 0.6589097), abs=2e-6)
    for lr in (0.01, 0.1):
        assert not study[lr].findings
        assert study[lr].history.final_loss < study[lr].history.losses[0]


def test_learning_rate_1_diverges_and_finite_differences_freeze(faithful):
    run = faithful.study[1.0]
    weights = [neuron_w_b(ws) for ws in run.history.weights]
    # epochs 0-2 blow up (-654 after two steps), then W ~ 12755 is too large for a float32 nudge of 1e-4
    assert weights[2][0] == pytest.approx(-654.2238, abs=1e-3)
    assert weights[3] == pytest.approx((12755.16, 3765.972), abs=1e-2)
    assert all(w == weights[3] for w in weights[3:])  # frozen, bit for bit
    assert all(all(np.all(g == 0) for g in grads) for grads in run.history.gradients[3:])
    reasons = {(f.epoch, f.name): f.reason for f in run.findings}
    assert reasons[(2, "W")] == "nudge distorted" and reasons[(3, "W")] == "nudge lost"
    assert sum(f.finite_difference == 0 for f in run.findings) == 14  # 7 frozen epochs x 2 weights
    # the chain rule keeps diverging
    cw, cb = neuron_w_b(run.chain_history.final_weights)
    assert abs(cw) > 1e12 and abs(cb) > 1e11
    assert run.chain_history.final_loss > 1e25 > run.history.final_loss


def test_explain_element_reasons():
    x, y = np.array([[1.0]], np.float32), np.array([[0.0]], np.float32)
    for value, reason in [(4096.0, "nudge lost"), (1000.0, "nudge distorted")]:
        w = [np.array([[value]], np.float32), np.zeros(1, np.float32)]
        fd = float(finite_difference_gradients(x, y, w)[0][0, 0])
        got, text = explain_element(x, y, w, 0, (0, 0), fd, 2 * value, np.float32(value**2), 1e-4, 1e-2)
        assert got == reason and f"{value:.7g}" in text
    # float64 and a tiny gradient: only the forward difference's own error h/2 * L'' = 1e-4 is left
    x, y = np.array([[1.0]]), np.array([[0.0]])
    w = [np.array([[1e-3]]), np.zeros(1)]
    fd = float(finite_difference_gradients(x, y, w)[0][0, 0])  # (L(w + h) - L(w)) / h = 2w + h = 2.1e-3
    assert fd == pytest.approx(2.1e-3, rel=1e-9)
    got, text = explain_element(x, y, w, 0, (0, 0), fd, 2e-3, np.float64(1e-6), 1e-4, 1e-2)
    assert got == "truncation" and "0.0001" in text
    # float32 loss of a network: rounding of the loss, not truncation
    x32, y32, w32 = network_231("float32")
    fd32 = finite_difference_gradients(x32, y32, w32)
    ref = chain_rule_gradients(*network_231("float64")[:2], [a.astype(np.float64) for a in w32])
    i, index = 0, (0, 2)
    got, _ = explain_element(x32, y32, w32, i, index, float(fd32[i][index]), float(ref[i][index]),
                             np.float32(0.33455008), 1e-4, 1e-3)
    assert got == "loss rounding"


def test_float32_and_float64_modes():
    r32 = run_demo(precision="float32")
    assert f"{float(r32.network.history.losses[0]):.8g}" == "0.33455008"
    assert r32.network.findings and {f.reason for f in r32.network.findings} <= {"loss rounding", "truncation"}
    r64 = run_demo(precision="float64", method="chain")
    assert r64.network.history.losses.dtype == np.float64
    assert f"{float(r64.network.history.losses[0]):.8g}" == "0.33455011"
    assert not r64.study[1.0].findings or all(f.reason != "nudge lost" for f in r64.study[1.0].findings)


def test_run_demo_rejects_bad_options():
    with pytest.raises(ValueError, match="precision"):
        run_demo(precision="float16")
    with pytest.raises(ValueError, match="method"):
        run_demo(method="adam")


def test_report_mentions_the_measurements(faithful):
    text = format_report(faithful)
    assert "initial loss 0.33455009" in text
    assert "dL/db2" in text and "[-1.1568]" in text
    assert "largest relative difference at the initial weights" in text
    assert "final W = 2.265477, b = 0.7404298" in text
    assert "final W = 12755.16, b = 3765.972" in text
    assert "nudge lost" in text and "nudge distorted" in text and "freeze from epoch 3" in text


def test_curves_pick_log_scales():
    from nnblocks.viz.curves import learning_rate_study_figure, loss_curve_figure

    fig = loss_curve_figure({"a": [1.0, 1e-4]})
    assert fig.axes[0].get_yscale() == "log"
    assert loss_curve_figure({"a": [3.0, 1.0]}).axes[0].get_yscale() == "linear"
    fig = learning_rate_study_figure({0.1: {"W": [0, 1, 2], "loss": [5, 2, 1]},
                                      1.0: {"W": [1, -1e6, 1e9], "loss": [5, 1e8, 1e12]}})
    scales = [ax.get_yscale() for ax in fig.axes]
    assert scales == ["linear", "linear", "symlog", "log"]
    with pytest.raises(ValueError):
        loss_curve_figure({})
