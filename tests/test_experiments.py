"""Experiments of chapters 2 and 3: toy-sum's first step redone by hand, the annealing schedule's cuts on a scripted
validation-loss sequence, penalties and their gradients, a diverging variant recorded while the others run, and
every study run end to end (1 epoch, tiny subsets) on small synthetic IDX files, with its report and figures."""
from __future__ import annotations

import gzip
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from nnblocks import nn
from nnblocks.errors import DataError, InvalidValueError
from nnblocks.experiments import RunConfig, get, names, run_all
from nnblocks.experiments import chapter3
from nnblocks.experiments.base import MLP, RAW, Opt, Penalty, Study, Variant
from nnblocks.experiments.chapter2 import ToySum, build_model
from nnblocks.experiments.data import load_data
from nnblocks.experiments.runner import PenalizedLoss
from nnblocks.experiments.suite import run_study
from nnblocks.optim import SGD
from nnblocks.tensor import Tensor
from nnblocks.train import LRSchedulerCallback, current_lr

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STUDIES = ["scaling", "batch-size", "optimizer", "learning-rate", "lr-annealing", "depth", "batchnorm", "dropout",
           "regularization"]
CHAPTER4 = ["translation", "augmentation", "feature-maps"]  # tested in test_experiments_chapter4.py


# ---- synthetic Fashion-MNIST-format data ----------------------------------------------------------------------------
def _write_idx(folder: Path, prefix: str, n: int, seed: int, gz: bool) -> None:
    """n 28x28 uint8 images whose class k has a bright 7x7 block at one of 10 places, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    images = rng.integers(0, 60, size=(n, 28, 28))
    for k in range(10):
        r, c = 7 * (k // 4), 7 * (k % 4)
        images[labels == k, r:r + 7, c:c + 7] += 180
    image_bytes = struct.pack(">IIII", 2051, n, 28, 28) + images.astype(np.uint8).tobytes()
    label_bytes = struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes()
    for name, data in ((f"{prefix}-images-idx3-ubyte", image_bytes), (f"{prefix}-labels-idx1-ubyte", label_bytes)):
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fashion")
    _write_idx(folder, "train", 300, seed=1, gz=True)
    _write_idx(folder, "t10k", 60, seed=2, gz=False)
    return folder


@pytest.fixture(scope="module")
def all_run(idx_dir, tmp_path_factory):
    """Every experiment, 1 epoch, 60 training / 10 validation images of the synthetic IDX set."""
    out = tmp_path_factory.mktemp("out")
    config = RunConfig(dataset="fashion-mnist", data_dir=str(idx_dir), epochs=1, subset=60, seed=0, out=out)
    results, summary, seconds = run_all(config)
    return {r.name: r for r in results}, summary, out


# ---- registry ----------------------------------------------------------------------------------------------------------
def test_registry_lists_every_experiment_in_chapter_order():
    assert names() == ["toy-sum"] + STUDIES + CHAPTER4
    assert get("dropout") is chapter3.DROPOUT
    with pytest.raises(InvalidValueError, match="unknown experiment 'nope'.*toy-sum"):
        get("nope")


# ---- chapter 2 ---------------------------------------------------------------------------------------------------------
def test_toy_sum_first_step_matches_a_hand_computed_sgd_step():
    result = ToySum().run(RunConfig(epochs=2, seed=7))
    first = result.extra["first_step"]
    w = {k: v.astype(np.float64) for k, v in first["initial"].items()}
    # the recorded initial weights are the seeded initialisation
    for key, value in build_model(7).state_dict().items():
        np.testing.assert_array_equal(first["initial"][key], value)
    x = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=np.float64)
    y = np.array([[3], [7], [11], [15]], dtype=np.float64)
    pre = x @ w["0.weight"].T + w["0.bias"]
    h = np.maximum(pre, 0)
    out = h @ w["2.weight"].T + w["2.bias"]
    loss = np.mean((out - y) ** 2)
    d_out = 2 * (out - y) / len(x)
    d_pre = (d_out @ w["2.weight"]) * (pre > 0)
    grads = {"2.weight": d_out.T @ h, "2.bias": d_out.sum(0), "0.weight": d_pre.T @ x, "0.bias": d_pre.sum(0)}
    np.testing.assert_allclose(first["output"], out, rtol=1e-5)
    assert first["loss"] == pytest.approx(loss, rel=1e-5)
    for key, grad in grads.items():
        np.testing.assert_allclose(first["after"][key], w[key] - 0.001 * grad, rtol=1e-5, atol=1e-7)
    # the step really moved the weights (otherwise the comparison above would be vacuous)
    assert np.abs(first["after"]["2.weight"] - first["initial"]["2.weight"]).max() > 1e-4


def test_toy_sum_learns_the_sum_and_its_checks_hold(tmp_path):
    result = ToySum().run(RunConfig(seed=0, out=tmp_path))
    full, pairs = result.variants
    assert len(full.history) == 50 and len(pairs.history) == 50
    assert full.history["loss"][-1] < full.history["loss"][0] / 100
    assert result.extra["prediction"] == pytest.approx(21, abs=1.5)
    np.testing.assert_array_equal(result.extra["hidden_hook"], result.extra["hidden_direct"])
    assert result.extra["hidden_hook"].shape == (4, 8) and (result.extra["hidden_hook"] >= 0).all()
    ckpt = result.extra["checkpoint"]
    assert ckpt["max_abs_difference"] == 0.0 and ckpt["history_restored"]
    assert ckpt["prediction_after_load"] == pytest.approx(result.extra["prediction"], abs=0)
    assert ckpt["prediction_before_load"] != pytest.approx(ckpt["prediction_after_load"], abs=1e-3)
    report = (tmp_path / "report.md").read_text()
    assert "full batch" in report and "batch size 2" in report and "total parameters: 33" in report
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "toy-sum.npz").stat().st_size > 0


# ---- chapter 3: the pieces -------------------------------------------------------------------------------------------------
def test_annealing_cuts_on_a_scripted_validation_loss_sequence():
    variant = next(v for v in chapter3.LR_ANNEALING.variants if v.scheduler is not None)
    model = nn.Linear(3, 2, seed=0)
    optimizer = variant.optimizer(model.parameters())
    scheduler = variant.scheduler(optimizer)
    callback = LRSchedulerCallback(scheduler, monitor="val_loss")  # as runner.train_variant wires it
    # best so far must drop by more than 0.001 (absolute) to count as an improvement; patience 0 -> cut at once
    val_losses = [1.0, 0.9, 0.8995, 0.85, 0.8495, 0.8, 0.9, 0.9, 0.7, 0.7, 0.7, 0.7, 0.7]
    lrs = []
    for epoch, val in enumerate(val_losses):
        callback.on_epoch_end(epoch, {"loss": 0.0, "val_loss": val})
        lrs.append(current_lr(optimizer))
    expected = [(3, 1e-3, 5e-4), (5, 5e-4, 2.5e-4), (7, 2.5e-4, 1.25e-4), (8, 1.25e-4, 6.25e-5),
                (10, 6.25e-5, 3.125e-5), (11, 3.125e-5, 1.5625e-5), (12, 1.5625e-5, 1e-5)]
    assert [c[0] for c in scheduler.cuts] == [e for e, _, _ in expected]
    for (epoch, old, new), cut in zip(expected, scheduler.cuts):
        assert cut[1] == pytest.approx(old, rel=1e-12) and cut[2] == pytest.approx(new, rel=1e-12)
    assert lrs[-1] == pytest.approx(1e-5) and lrs[-2] == pytest.approx(1e-5)  # min_lr: the 13th epoch cuts nothing


def test_same_seed_gives_the_same_initial_weights_across_variants():
    base = MLP()(64, 10, seed=3)
    dropped = MLP(dropout=0.25)(64, 10, seed=3)
    deeper = MLP(hidden=(1000, 1000))(64, 10, seed=3)
    with_bn = MLP(batchnorm=True)(64, 10, seed=3)
    assert [type(m).__name__ for m in dropped] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [type(m).__name__ for m in with_bn] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    np.testing.assert_array_equal(base[0].weight.data, dropped[1].weight.data)
    np.testing.assert_array_equal(base[2].weight.data, dropped[4].weight.data)
    np.testing.assert_array_equal(base[0].weight.data, deeper[0].weight.data)
    np.testing.assert_array_equal(base[2].weight.data, with_bn[3].weight.data)
    assert not np.array_equal(base[0].weight.data, MLP()(64, 10, seed=4)[0].weight.data)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalty_value_gradient_and_train_only(kind):
    model = MLP(hidden=(5,))(4, 3, seed=0)
    penalty = Penalty(kind, 0.01)
    params = [p.data.astype(np.float64) for p in model.parameters()]
    by_hand = 0.01 * sum((np.abs(p).sum() if kind == "l1" else (p * p).sum()) for p in params)
    term = penalty(model)
    assert term.item() == pytest.approx(by_hand, rel=1e-5)
    term.backward()
    for p, p64 in zip(model.parameters(), params):
        expected = 0.01 * (np.sign(p64) if kind == "l1" else 2 * p64)
        np.testing.assert_allclose(p.grad, expected, rtol=1e-5, atol=1e-9)
    # added while training, absent in eval mode (validation measures the data loss only)
    loss = PenalizedLoss(nn.CrossEntropyLoss(), model, penalty)
    x, y = Tensor(np.ones((2, 4), dtype=np.float32)), Tensor(np.array([0, 2]))
    ce = nn.CrossEntropyLoss()(model(x), y).item()
    model.train()
    assert loss(model(x), y).item() == pytest.approx(ce + by_hand, rel=1e-5)
    model.eval()
    assert loss(model(x), y).item() == pytest.approx(ce, rel=1e-6)


def test_decoupled_weight_decay_is_adamw_with_twice_the_l2_weight():
    variant = next(v for v in chapter3.REGULARIZATION.variants if v.optimizer.kind == "AdamW")
    optimizer = variant.optimizer(nn.Linear(2, 2, seed=0).parameters())
    assert type(optimizer).__name__ == "AdamW"
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(2 * 1e-2)
    text = chapter3.REGULARIZATION.description
    assert "squared" in text and "unsquared" in text and "weight_decay = 0.02" in text


def test_a_diverging_variant_is_recorded_and_the_others_still_run(tmp_path):
    study = Study("diverge", "one variant explodes", "SGD at lr 1e20 on raw pixels overflows to NaN.",
                  variants=(Variant("explodes", inputs=RAW, optimizer=Opt("SGD", 1e20)), Variant("fine")),
                  epochs=2, notice=())
    result = run_study(study, RunConfig(dataset="digits", subset=100, out=tmp_path))
    bad, good = result.variants
    assert bad.status == "diverged" and "diverged" in bad.diverged and "epoch 1" in bad.diverged
    assert len(bad.history) == 0 and math.isnan(bad.final["val_accuracy"])
    assert good.status == "ok" and len(good.history) == 2
    assert all(math.isfinite(v) for v in good.history["val_loss"])
    report = (tmp_path / "report.md").read_text()
    assert "**Diverged**" in report and "| explodes | diverged |" in report and "| fine | ok |" in report


def test_same_seed_same_run_and_subset_sizes():
    config = RunConfig(dataset="digits", subset=120, epochs=1, seed=5)
    data = load_data("digits", subset=120, seed=5)
    assert len(data.y_train) == 120 and len(data.y_val) == 20 and data.n_features == 64
    first = run_study(chapter3.SCALING, config, data)
    second = run_study(chapter3.SCALING, config, load_data("digits", subset=120, seed=5))
    for a, b in zip(first.variants, second.variants):
        assert a.history == b.history


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as info:
        load_data("fashion-mnist", data_dir=str(tmp_path))
    text = str(info.value)
    assert "--download" in text and "--dataset digits" in text and str(tmp_path) in text


# ---- chapter 3: every study end to end -----------------------------------------------------------------------------------
def test_run_all_writes_every_report_and_figure(all_run):
    results, summary, out = all_run
    assert sorted(results) == sorted(["toy-sum"] + STUDIES + CHAPTER4)
    summary_text = summary.read_text()
    for name in STUDIES:
        folder = out / name
        report = (folder / "report.md").read_text()
        assert report.startswith(f"# `{name}`")
        assert "60 training and 10 validation images, 784 inputs" in report
        assert (folder / "curves.png").read_bytes().startswith(PNG_MAGIC)
        for v in get(name).variants:
            assert f"| {v.name} |" in report and f"### {v.name}" in report
            assert f"| {name} | {v.name} |" in summary_text
        data = json.loads((folder / "results.json").read_text())
        assert [v["name"] for v in data["variants"]] == [v.name for v in get(name).variants]
        for v in results[name].variants:
            assert len(v.history) == 1 and 0 <= v.final["val_accuracy"] <= 1
    for name in ("learning-rate", "dropout", "regularization"):
        assert (out / name / "weights.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "batchnorm" / "activations.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "toy-sum" / "report.md").stat().st_size > 0
    assert "weight updates per epoch: batch-32 2, batch-10000 1 (batch 10,000 is larger than the 60 training " \
        "images" in (out / "batch-size" / "report.md").read_text()


def test_penalized_history_splits_data_loss_and_penalty(all_run):
    results, _, _ = all_run
    by_name = {v.name: v for v in results["regularization"].variants}
    for name in ("L1 1e-4", "L2 1e-2"):
        h = by_name[name].history
        assert h["penalty"][0] > 0
        assert h["loss"][0] == pytest.approx(h["data_loss"][0] + h["penalty"][0], rel=1e-5)
    assert "penalty" not in by_name["none"].history
    # on the same first batches, the L2 run's logged loss exceeds its data loss by the (large) penalty
    assert by_name["L2 1e-2"].history["penalty"][0] > 1.0


def test_learning_rate_column_follows_the_logged_cuts(idx_dir, tmp_path):
    config = RunConfig(dataset="fashion-mnist", data_dir=str(idx_dir), epochs=4, subset=60, seed=0)
    result = run_study(chapter3.LR_ANNEALING, config)
    constant, plateau = result.variants
    assert constant.history["lr"] == [1e-3] * 4 and constant.cuts == []
    lr, expected = 1e-3, []
    for epoch in range(1, 5):
        expected.append(lr)
        lr = next((new for e, _, new in plateau.cuts if e == epoch), lr)
    assert plateau.history["lr"] == pytest.approx(expected)


def test_toy_sum_rows_show_a_dash_where_nothing_was_measured_and_nan_only_for_divergence():
    from nnblocks.experiments.report import pct, summary_markdown, summary_rows, summary_text

    result = ToySum().run(RunConfig(epochs=2))
    for row in summary_rows([result]):
        # study, variant, status, train loss (eval), train acc (eval), val loss, val acc, time
        assert row[4:7] == ["—", "—", "—"], row
        assert float(row[3]) == pytest.approx(result.variants[row[1] == "batch size 2"].final["train_loss_eval"],
                                              rel=5e-4)  # 4 significant digits
    assert "nan" not in summary_text([result], 1.0) and "nan" not in summary_markdown([result], 1.0).split("\n\n")[2]
    assert (pct(None), pct(float("nan")), pct(0.5)) == ("—", "nan", "50.00 %")
