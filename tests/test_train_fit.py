"""fit, History, metrics and callbacks: values checked by hand, not just "it runs"."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.data import DataLoader, TensorDataset, moons
from nnblocks.errors import InvalidValueError, NNBlocksError, ShapeError
from nnblocks.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from nnblocks.train import (
    Callback,
    EarlyStopping,
    History,
    LRSchedulerCallback,
    MetricSums,
    TrainingDiverged,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
)
from nnblocks.train.metrics import binary_threshold


def mlp(seed: int = 0, dropout: float = 0.0) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers = [nn.Linear(2, 16, seed=rng), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout, seed=np.random.default_rng(seed + 100)))
    return nn.Sequential(*layers, nn.Linear(16, 2, seed=rng))


def moons_loaders(n: int = 400, batch: int = 32) -> tuple[DataLoader, DataLoader]:
    X, y = moons(n, noise=0.1, seed=0)
    train = DataLoader(TensorDataset(X[:300], y[:300]), batch_size=batch, shuffle=True, seed=1)
    val = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64)
    return train, val


# ---- fit ---------------------------------------------------------------------------------------------------------------
def test_fit_on_moons_reduces_loss_and_reaches_97_percent():
    train, val = moons_loaders()
    model = mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02), train, val, epochs=40,
                  progress=False)
    assert len(history) == 40 and history["epoch"] == list(range(1, 41))
    assert history["loss"][-1] < 0.25 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.97
    assert history["lr"] == [0.02] * 40
    assert len(history.times) == 40
    assert model.training  # left in training mode after the last validation


def test_train_loss_is_the_sample_weighted_mean_of_batch_losses():
    # 3 samples in batches of 2 and 1; lr = 0 keeps the weights, so every loss is known in advance.
    X = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], dtype=np.float32)
    y = np.array([[1.0], [0.0], [2.0]], dtype=np.float32)
    model = nn.Linear(2, 1, seed=0)
    w, b = model.weight.data.astype(np.float64), model.bias.data.astype(np.float64)
    per_sample = ((X @ w.T + b - y) ** 2).ravel()
    batch1, batch2 = per_sample[:2].mean(), per_sample[2]
    loader = DataLoader(TensorDataset(X, y), batch_size=2)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.0), loader, epochs=1, metrics=None,
                  record_batches=True, progress=False)
    expected = (2 * batch1 + 1 * batch2) / 3
    assert history["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert history["loss"][0] == pytest.approx(per_sample.mean(), rel=1e-6)
    assert abs(history["loss"][0] - (batch1 + batch2) / 2) > 1e-3  # not the plain mean of batch means
    assert history.batch_loss == pytest.approx([batch1, batch2], rel=1e-6)
    assert "accuracy" not in history


def test_train_loss_matches_a_hand_written_loop_while_weights_change():
    X, y = moons(50, seed=3)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)  # 16, 16, 16, 2
    model, twin = mlp(1), mlp(1)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), loader, epochs=2,
                  progress=False)
    opt, loss_fn = optim.SGD(twin.parameters(), lr=0.5), nn.CrossEntropyLoss()
    for epoch in range(2):
        total = correct = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            out = twin(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            correct += (out.data.argmax(1) == yb.data).sum()
        assert history["loss"][epoch] == total / 50
        assert history["accuracy"][epoch] == correct / 50


def test_validation_runs_in_eval_mode_without_a_graph():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append((self.training, nb.is_grad_enabled()))
            return x

    model = nn.Sequential(nn.Linear(2, 16, seed=0), nn.ReLU(), nn.Dropout(0.5, seed=1), Spy(), nn.Linear(16, 2, seed=2))
    X, y = moons(200, seed=0)
    train = DataLoader(TensorDataset(X[:120], y[:120]), batch_size=60)
    val = DataLoader(TensorDataset(X[120:], y[120:]), batch_size=80)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0), train, val, epochs=2,
                  progress=False)
    # per epoch: 2 training batches (train mode, grad on), then 1 validation batch (eval mode, grad off)
    assert seen == [(True, True), (True, True), (False, False)] * 2
    # lr 0: the weights never change, so validation (dropout off) gives the same loss both epochs ...
    assert history["val_loss"][0] == history["val_loss"][1]
    # ... equal to the deterministic loss of the whole validation set, while training losses vary with dropout
    with nb.no_grad():
        model.eval()
        direct = nn.CrossEntropyLoss()(model(nb.Tensor(X[120:])), nb.Tensor(y[120:])).item()
        model.train()
    assert history["val_loss"][0] == pytest.approx(direct, rel=1e-6)
    assert history["loss"][0] != history["loss"][1]
    assert model.training


def test_nan_input_stops_at_the_named_epoch_and_batch():
    X, y = moons(100, seed=0)
    X[70, 0] = np.nan  # sample 70 is in batch 3 (samples 64..95) of batch size 32, no shuffle
    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    before = model.state_dict()
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=3, progress=False)
    exc = info.value
    assert (exc.epoch, exc.batch) == (1, 3)
    assert "epoch 1, batch 3 of 4" in str(exc) and "NaN or inf" in str(exc)
    assert isinstance(exc, FloatingPointError) and isinstance(exc, NNBlocksError)
    assert isinstance(exc.history, History) and len(exc.history) == 0
    assert all(np.all(np.isfinite(v)) for v in model.state_dict().values())  # the failing step was not taken
    assert any(not np.array_equal(before[k], v) for k, v in model.state_dict().items())  # batches 1-2 were


def test_huge_learning_rate_diverges_with_a_clear_message():
    X, y = moons(200, seed=0)
    X = X * 255  # unscaled inputs, as raw pixels would be
    model = nn.Sequential(nn.Linear(2, 16, seed=0), nn.ReLU(), nn.Linear(16, 2, seed=1))
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e6), loader, epochs=20, progress=False)
    exc = info.value
    message = str(exc)
    assert f"epoch {exc.epoch}, batch {exc.batch} of 7" in message
    assert "learning rate 1e+06 may be too high" in message
    # moons x 255 are large but not whole numbers: named as large, with a hint that holds whether or not they are scaled
    assert re.search(r"inputs as large as \|x\| = \d+ \(if they are not scaled yet, standardize", message)
    assert not math.isfinite(exc.loss)
    assert len(exc.history) == exc.epoch - 1  # the epochs completed before the failure


def test_record_batches_and_metrics_none():
    train, _ = moons_loaders()
    model = mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=2, metrics=None,
                  record_batches=True, progress=False)
    assert len(history.batch_loss) == 2 * len(train) == 20
    assert sorted(history.keys()) == ["epoch", "loss", "lr"]


def test_default_accuracy_is_dropped_for_regression_but_explicit_request_fails():
    X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(-1, 1)
    loader = DataLoader(TensorDataset(X, 3 * X + 0.5), batch_size=8)
    model = nn.Linear(1, 1, seed=0)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=30, progress=False)
    assert "accuracy" not in history and history["loss"][-1] < 1e-3
    with pytest.raises(ValueError, match="accuracy needs class targets.*metrics=None"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, metrics=["accuracy"], progress=False)



def test_divergence_carries_the_facts_and_names_no_command_line_flag():
    X, y = moons(200, seed=0)
    X = X * 255
    model = nn.Sequential(nn.Linear(2, 16, seed=0), nn.ReLU(), nn.Linear(16, 2, seed=1))
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e6), loader, epochs=20, progress=False)
    exc = info.value
    assert exc.lr == 1e6 and exc.input_finite is True and exc.weights_finite is True
    batch = X[(exc.batch - 1) * 32:exc.batch * 32]
    assert exc.max_abs_input == float(np.abs(batch).max()) > 10
    assert "--" not in str(exc)  # the library names no flag: the command line phrases its own advice

    X[70, 0] = np.nan  # batch 3: the input itself is bad
    with pytest.raises(TrainingDiverged) as info:
        fit(mlp(), nn.CrossEntropyLoss(), optim.SGD(mlp().parameters(), lr=0.01), loader, epochs=1, progress=False)
    exc = info.value
    assert (exc.batch, exc.input_finite, exc.weights_finite, exc.lr) == (3, False, True, 0.01)
    assert exc.max_abs_input == float(np.nanmax(np.abs(X[64:96])))
    assert "learning rate" not in str(exc)  # 0.01 is not suspicious: the input is named alone

    broken = mlp()
    broken[0].weight.data[0, 0] = np.nan
    with pytest.raises(TrainingDiverged, match="some weights are already NaN/inf") as info:
        fit(broken, nn.CrossEntropyLoss(), optim.SGD(broken.parameters(), lr=0.01), loader, epochs=1, progress=False)
    assert (info.value.batch, info.value.weights_finite) == (1, False)


def digits_run(lr, momentum, scale, epochs=40):
    from nnblocks import recipe

    config = recipe.TrainConfig(optimizer="sgd", lr=lr, momentum=momentum, scale=scale, epochs=epochs, hidden=[32])
    splits = recipe.load_data(config)
    config = config.with_data(splits)
    model = recipe.build_model(config)
    train, val, _ = recipe.make_loaders(splits, config)
    return fit(model, recipe.make_loss(config.loss), recipe.make_optimizer(config, model.parameters()), train, val,
               epochs=epochs, metrics=config.metrics, progress=False)


def test_divergence_is_caught_when_the_loss_has_grown_by_orders_of_magnitude_not_at_inf():
    # Standardized digits, SGD lr 0.5 with momentum 0.9: the epoch losses grow ~100x per epoch and reached inf only in
    # epoch 18 before the growth check; now the run stops in epoch 2, with finite weights worth keeping.
    with pytest.raises(TrainingDiverged) as info:
        digits_run(0.5, 0.9, "standard")
    exc = info.value
    assert exc.epoch == 2 and math.isfinite(exc.loss) and exc.weights_finite and len(exc.history) == 1
    first = exc.history["loss"][0]
    assert exc.loss > max(100 * first, 10 * first)
    message = str(exc)
    assert re.search(r"the loss grew to [\d.e+]+ at epoch 2, batch \d+ of 40: over 100 times its best epoch", message)
    assert "learning rate 0.5 with momentum 0.9 (steps up to 5 times the gradient) may be too high" in message
    assert "unscaled" not in message and "255" not in message  # the inputs are standardized


@pytest.mark.parametrize("batch, words", [
    # the digits' raw 0..16 counts: unscaled, and the advice is their own maximum, not /255
    (np.array([[0.0, 16.0, 3.0], [12.0, 0.0, 7.0]], np.float32),
     "the inputs look unscaled: whole numbers from 0 to 16, as raw pixels or counts are (divide them by 16"),
    # standardized digits reach |z| = 20.5 on a nearly constant pixel: large, but not called unscaled
    (np.array([[-0.3, 20.46, 1.2], [0.8, -1.1, -0.4]], np.float32),
     "inputs as large as |x| = 20.5 (if they are not scaled yet, standardize each feature)"),
])
def test_the_input_hint_is_true_for_the_data_at_hand(batch, words):
    from nnblocks.train.divergence import diverged_in_training

    exc = diverged_in_training(History(), 1, 1, 1, float("nan"), 0.01, nb.tensor(batch), mlp())
    assert words in str(exc) and exc.max_abs_input == pytest.approx(np.abs(batch).max())
    assert ("unscaled" in str(exc)) == (batch.min() >= 0) and "255" not in str(exc)


def test_a_healthy_run_is_not_stopped_by_the_growth_check():
    # Adam on moons drives the loss to ~1e-3 with occasional spikes late in training; none is a blow-up
    X, y = moons(400, noise=0.1, seed=0)
    model = nn.Sequential(nn.Linear(2, 32, seed=0), nn.ReLU(), nn.Linear(32, 2, seed=1))
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.03),
                  DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=0), epochs=150, progress=False,
                  record_batches=True)
    assert len(history) == 150 and min(history["loss"]) < 0.02
    assert max(history.batch_loss[25 * 10:]) > 10 * min(history["loss"])  # spikes there were, far below the limit


def test_loss_watch_takes_a_resumed_history_into_account():
    from nnblocks.train.divergence import LossWatch

    assert LossWatch(History()).limit == math.inf  # nothing to compare with before the first epoch
    h = History()
    for epoch, loss in enumerate([2.0, 0.5, 0.01], 1):
        h.append({"epoch": epoch, "loss": loss})
    watch = LossWatch(h)
    assert (watch.first, watch.best, watch.limit) == (2.0, 0.01, 20.0)  # max(100 x 0.01, 10 x 2.0)
    watch.epoch_done(float("nan"))
    watch.epoch_done(0.001)
    assert (watch.best, watch.limit) == (0.001, 20.0)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf inputs in validation, on purpose
def test_a_diverging_validation_loss_is_named_as_such():
    X, y = moons(100, seed=0)
    model = mlp()
    val = DataLoader(TensorDataset(np.full((10, 2), np.inf, dtype=np.float32), y[:10]), batch_size=10)
    with pytest.raises(TrainingDiverged, match="validation loss is nan after epoch 1") as info:
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(X, y)),
            val, epochs=2, progress=False)
    assert info.value.batch is None and info.value.lr == 0.1 and len(info.value.history) == 0


def test_metrics_are_decided_before_training_without_drawing_from_the_loader():
    X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(-1, 1)
    model = nn.Linear(1, 1, seed=0)
    before = model.state_dict()

    def run(**metrics):
        loader = DataLoader(TensorDataset(X, 3 * X + 0.5), batch_size=8, shuffle=True, seed=3)
        return fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=3, record_batches=True,
                   progress=False, **metrics)

    with pytest.raises(InvalidValueError, match="accuracy needs class targets"):
        run(metrics=["accuracy"])
    for key, value in model.state_dict().items():  # refused before the first step, not after it
        np.testing.assert_array_equal(value, before[key])
    default = run()
    model.load_state_dict(before)
    assert "accuracy" not in default and default == run(metrics=None)  # deciding drew nothing from the loader


def test_an_empty_loader_is_refused():
    X, y = moons(10, seed=0)
    model = mlp()
    empty = DataLoader(TensorDataset(X, y), batch_size=32, drop_last=True)
    with pytest.raises(InvalidValueError, match="yielded no samples.*drop_last"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), empty, progress=False)
    with pytest.raises(InvalidValueError, match="yielded no samples"):
        evaluate(model, empty, nn.CrossEntropyLoss())

# ---- callbacks --------------------------------------------------------------------------------------------------------
class Scripted(Callback):
    """Replaces the logged val_loss with a scripted sequence and snapshots the weights after each epoch."""

    def __init__(self, values):
        self.values, self.snapshots = values, []

    def on_epoch_end(self, epoch, logs):
        logs["val_loss"] = self.values[epoch]
        self.snapshots.append(self.ctx.model.state_dict())


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    train, val = moons_loaders()
    model = mlp()
    script = Scripted([1.0, 0.8, 0.9, 0.85, 0.81, 0.5, 0.4])
    stopper = EarlyStopping(patience=3)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=7,
                  callbacks=[script, stopper], progress=False)
    # best 0.8 at epoch 2; epochs 3, 4, 5 do not improve -> stop after epoch 5
    assert len(history) == 5 and stopper.stopped_epoch == 5
    assert stopper.best_epoch == 2 and stopper.best == 0.8
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, script.snapshots[1][key])


def test_early_stopping_min_delta_and_mode_max():
    stopper = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1, restore_best=False)
    stops = [stopper.on_epoch_end(e, {"val_loss": v}) for e, v in enumerate([1.0, 0.95, 0.85, 0.8])]
    # 0.95 is not 0.1 better than 1.0; 0.85 is (-0.15); 0.8 is not 0.1 better than 0.85 -> wait 1 of 2
    assert stops == [False, False, False, False] and stopper.wait == 1 and stopper.best == 0.85
    acc = EarlyStopping(monitor="val_accuracy", patience=1, restore_best=False)
    assert [acc.on_epoch_end(e, {"val_accuracy": v}) for e, v in enumerate([0.5, 0.7, 0.6])] == [False, False, True]
    with pytest.raises(InvalidValueError, match="val_loss.*pass a val_loader"):
        EarlyStopping().on_epoch_end(0, {"loss": 1.0})


def test_scheduler_is_stepped_once_per_epoch_and_its_lr_logged():
    train, val = moons_loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=5, scheduler=StepLR(opt, step_size=2, gamma=0.5),
                  progress=False)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)  # 5 steps of step_size 2: 0.1 * 0.5 ** (5 // 2)


def test_plateau_scheduler_gets_the_monitored_value():
    train, val = moons_loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = ReduceLROnPlateau(opt, patience=0, factor=0.5)
    script = Scripted([1.0, 2.0, 3.0, 0.5])
    # the scripted callback runs first and rewrites val_loss; the plateau scheduler must see the rewritten value
    fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=4,
        callbacks=[script, LRSchedulerCallback(plateau, monitor="val_loss")], progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)  # cut after epochs 2 and 3, not after 1 or 4
    assert plateau.best == 0.5


# ---- metrics ----------------------------------------------------------------------------------------------------------
def test_accuracy_from_logits_probabilities_and_one_hot():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 1, 0])) == 0.75
    assert accuracy(nb.Tensor(logits), nb.Tensor(np.array([0, 1, 2, 0]))) == 1.0
    assert accuracy(logits, np.eye(3)[[0, 0, 2, 0]]) == 0.75  # one-hot targets (MSE on classes)
    scores = np.array([[-0.5], [0.2], [3.0], [-2.0]])  # one logit per sample (BCE with logits): threshold 0
    assert accuracy(scores, np.array([[0.0], [1.0], [0.0], [0.0]])) == 0.75
    assert accuracy(np.array([0.4, 0.6]), np.array([1, 1]), threshold=0.5) == 0.5
    with pytest.raises(ShapeError):
        accuracy(logits, np.array([0, 1]))


def test_the_threshold_for_one_output_is_what_the_loss_declares():
    class ProbabilityLoss(nn.BCELoss):  # another class name, the same declaration
        pass

    assert binary_threshold(nn.BCELoss()) == binary_threshold(ProbabilityLoss()) == 0.5
    assert binary_threshold(nn.BCEWithLogitsLoss()) == binary_threshold(nn.MSELoss()) == binary_threshold(None) == 0.0
    model = nn.Sequential(nn.Linear(1, 1, seed=0), nn.Sigmoid())
    model[0].weight.data[...], model[0].bias.data[...] = 1.0, 0.0
    X = np.array([[-0.1], [0.1], [0.2], [-3.0]], dtype=np.float32)  # probabilities 0.475, 0.525, 0.55, 0.047
    y = np.array([[1.0], [1.0], [0.0], [0.0]], dtype=np.float32)
    result = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=4), ProbabilityLoss())
    assert result["accuracy"] == 0.5  # above 1/2: samples 1 and 2 predicted 1; 0 and 3 predicted 0


def test_evaluate_sums_every_metric_sample_weighted_over_uneven_batches():
    def mean_output(out, y):
        return float(out.mean())

    X, y = moons(50, seed=2)
    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=20)  # 20, 20, 10
    result = evaluate(model, loader, None, ["accuracy", mean_output])
    assert "loss" not in result and result["n"] == 50
    with nb.no_grad():
        model.eval()
        out = model(nb.Tensor(X)).data
    parts = [out[:20], out[20:40], out[40:]]
    expected = sum(float(p.mean()) * len(p) for p in parts) / 50
    assert result["mean_output"] == expected and result["accuracy"] == accuracy(out, y)
    sums = MetricSums([("mean_output", mean_output)])
    for p, t in zip(parts, (y[:20], y[20:40], y[40:])):
        sums.add(p, t, loss=1.0)
    assert sums.means() == {"loss": 1.0, "mean_output": expected} and sums.n == 50

def test_confusion_matrix_counts_by_hand():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(y_true, y_pred, 4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 2], expected[2, 0] = 1, 1, 1, 2, 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), expected[:3, :3])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        confusion_matrix(y_true, y_pred, 2)


def test_evaluate_matches_a_direct_computation_and_keeps_the_mode():
    X, y = moons(90, seed=5)
    model = mlp(dropout=0.5)
    loader = DataLoader(TensorDataset(X, y), batch_size=40)  # 40, 40, 10
    result = evaluate(model, loader, nn.CrossEntropyLoss(), return_predictions=True)
    model.eval()
    with nb.no_grad():
        out = model(nb.Tensor(X))
        loss = nn.CrossEntropyLoss()(out, nb.Tensor(y)).item()
    model.train()
    assert result["loss"] == pytest.approx(loss, rel=1e-6)
    assert result["accuracy"] == accuracy(out, y) and result["n"] == 90
    np.testing.assert_array_equal(result["y_pred"], out.data.argmax(1))
    assert model.training


# ---- history ----------------------------------------------------------------------------------------------------------
def test_history_round_trips_through_json_and_csv(tmp_path):
    h = History()
    h.append({"epoch": 1, "loss": 0.1 + 0.2, "accuracy": 0.5, "lr": 0.01}, seconds=1.5)
    h.append({"epoch": 2, "loss": 1 / 3, "accuracy": 0.75, "val_loss": 0.4, "lr": 0.01}, seconds=1.25)
    h.batch_loss = [0.7, 0.3]
    h.to_json(tmp_path / "h.json")
    back = History.from_json(tmp_path / "h.json")
    assert back == h and back["loss"] == [0.1 + 0.2, 1 / 3]  # exact floats
    assert math.isnan(back["val_loss"][0]) and back["val_loss"][1] == 0.4 and back.times == [1.5, 1.25]
    h.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,lr,val_loss,seconds"
    assert lines[2] == "2,0.3333333333333333,0.75,0.01,0.4,1.2500"
    assert h.best("loss") == (1, 0.1 + 0.2) and h.best("accuracy", mode="max") == (2, 0.75)


def test_progress_bar_prints_epoch_lines_only_when_asked(capsys):
    train, val = moons_loaders()
    model = mlp()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2  loss " in err and "epoch 2/2  loss " in err and "val_accuracy" in err
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=2)
    assert capsys.readouterr().err == ""  # None: quiet, since pytest's stderr is not a terminal
