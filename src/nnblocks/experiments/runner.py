"""How a study runs: train each variant with ``nnblocks.train.fit`` from the same seed, keep going when one diverges,
and measure what the report will say (writing it down is ``report``'s part).

Done the careful way:

- ``fit`` trains in train mode and validates in eval mode (dropout off, batch norm on its running statistics).
- A penalty (L1/L2) is part of the *training objective* only: ``PenalizedLoss`` adds it while the model is in
  training mode and returns the bare cross-entropy in eval mode, so ``val_loss`` is comparable across variants.
  The history's ``loss`` of a penalized variant is cross-entropy + penalty; its ``data_loss`` and ``penalty``
  columns hold the two parts (epoch means over batches, measured as training went).
- After training, the final weights are evaluated on the training set too, in eval mode and without penalty
  (``train_loss_eval``, ``train_accuracy_eval``): the on-the-fly training numbers mix weights from the whole epoch
  and, with dropout, a thinned network, so they are not the right side of an overfitting comparison.
- A variant whose loss becomes NaN/inf (``TrainingDiverged``) is recorded with the epochs it completed and the
  message, and the study goes on with the other variants.
- The history's ``accuracy`` is counted during the epoch, with the weights changing under it (``fit``'s number).
  With ``--protocol book`` the study's ``BookProtocol`` adds the notebooks' way: ``train_accuracy``, a second pass
  over the training set after each epoch (``SecondPass``), training in eval mode from a given epoch
  (``EvalModeFrom``), and the unsquared L2 (``Study.variants_for``).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from nnblocks import nn, no_grad, random as nb_random
from nnblocks.data import DataLoader, TensorDataset
from nnblocks.experiments.base import BookProtocol, ExperimentResult, RunConfig, Study, Variant, VariantResult
from nnblocks.experiments.data import ExperimentData
from nnblocks.tensor import Tensor
from nnblocks.train import Callback, History, LRSchedulerCallback, TrainingDiverged, evaluate, fit

VAL_BATCH = 1000  # evaluation batch size: only memory depends on it (eval mode makes samples independent)


class PenalizedLoss:
    """``loss_fn(out, y) + penalty(model)`` while ``model`` trains; ``loss_fn(out, y)`` alone in eval mode.

    Keeps running sums of both parts (per sample) so ``PenaltyLog`` can record their epoch means.
    """

    def __init__(self, loss_fn: Any, model: nn.Module, penalty: Any) -> None:
        self.loss_fn, self.model, self.penalty = loss_fn, model, penalty
        self.data_sum = self.penalty_sum = 0.0
        self.seen = 0

    def __call__(self, out: Any, y: Any) -> Any:
        data_loss = self.loss_fn(out, y)
        if not self.model.training:
            return data_loss
        term = self.penalty(self.model)
        n = len(y.data)
        self.data_sum += data_loss.item() * n
        self.penalty_sum += term.item() * n
        self.seen += n
        return data_loss + term


class PenaltyLog(Callback):
    """At each epoch's end, move ``PenalizedLoss``'s running sums into per-epoch ``data_loss`` / ``penalty`` lists."""

    def __init__(self, loss: PenalizedLoss) -> None:
        self.loss = loss
        self.data_loss: list[float] = []
        self.penalty: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        n = max(self.loss.seen, 1)
        self.data_loss.append(self.loss.data_sum / n)
        self.penalty.append(self.loss.penalty_sum / n)
        self.loss.data_sum = self.loss.penalty_sum = 0.0
        self.loss.seen = 0


class EpochPrinter(Callback):
    """One progress line per epoch through ``RunConfig.say``."""

    def __init__(self, config: RunConfig, label: str, epochs: int) -> None:
        self.config, self.label, self.epochs = config, label, epochs
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        self.config.say(f"  [{self.label}] epoch {epoch + 1}/{self.epochs}  loss {logs['loss']:.4g}  "
                        f"val_loss {logs.get('val_loss', math.nan):.4g}  "
                        f"val_acc {logs.get('val_accuracy', math.nan):.4f}  lr {logs['lr']:.3g}  ({now - self.started:.1f}s)")
        self.started = now


class SecondPass(Callback):
    """The notebooks' training accuracy: after each epoch, a pass over the training set with the final weights.

    ``mode`` is the notebook's ``accuracy()``: ``"eval"`` (eval mode), ``"train"`` (dropout stays active; the
    validation accuracy is then re-measured the same way, as ``val_accuracy_train_mode``) or ``"as-left"`` (the
    model's current mode: batch norm in train mode also updates its running statistics, as in the notebook).
    Outside eval mode the batches are the training batches, since batch statistics depend on their size.
    """

    def __init__(self, mode: str, train_loader: Any, eval_loader: Any, val_loader: Any) -> None:
        self.mode, self.train_loader, self.eval_loader, self.val_loader = mode, train_loader, eval_loader, val_loader
        self.train_accuracy: list[float] = []
        self.val_accuracy_train_mode: list[float] = []

    def _accuracy(self, loader: Any) -> float:
        model = self.ctx.model  # type: ignore[union-attr]
        correct = seen = 0
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            for x, y in loader:
                correct += int(np.sum(model(x).data.argmax(axis=1) == y.data))
                seen += len(y.data)
        return correct / max(seen, 1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        model = self.ctx.model  # type: ignore[union-attr]
        was_training = model.training
        if self.mode == "eval":
            model.eval()
        elif self.mode == "train":
            model.train()
        try:
            self.train_accuracy.append(self._accuracy(self.eval_loader if self.mode == "eval" else self.train_loader))
            if self.mode == "train":
                self.val_accuracy_train_mode.append(self._accuracy(self.val_loader))
        finally:
            model.train(was_training)


class EvalModeFrom(Callback):
    """Train in eval mode from the 1-based epoch ``first`` on, as a notebook whose ``val_loss`` calls ``eval()`` and
    that never calls ``train()`` again (``fit`` sets train mode once, and ``evaluate`` restores the mode it found)."""

    def __init__(self, first: int) -> None:
        self.first = first

    def on_epoch_begin(self, epoch: int) -> None:
        if epoch + 1 >= self.first:
            self.ctx.model.eval()  # type: ignore[union-attr]


def _add_column(history: History, key: str, values: list[float]) -> None:
    """Attach a per-epoch column recorded outside ``fit`` (padded with NaN if training stopped mid-epoch)."""
    n = len(history)
    history.history[key] = [float(v) for v in values[:n]] + [math.nan] * max(0, n - len(values))


def final_metrics(model: nn.Module, history: History, train_loader_eval: Any) -> dict[str, float]:
    """The last epoch's logged numbers plus the final weights measured on the training set in eval mode."""
    last = history.last()
    out = {key: float(last.get(key, math.nan)) for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for key in ("data_loss", "penalty", "train_accuracy", "val_accuracy_train_mode"):
        if key in last:
            out[key] = float(last[key])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        measured = evaluate(model, train_loader_eval, nn.CrossEntropyLoss(), ("accuracy",))
    out["train_loss_eval"], out["train_accuracy_eval"] = float(measured["loss"]), float(measured["accuracy"])
    if "val_accuracy" in history and any(math.isfinite(v) for v in history["val_accuracy"]):
        epoch, best = history.best("val_accuracy", mode="max")
        out["best_val_accuracy"], out["best_epoch"] = float(best), float(epoch)
    return out


def train_variant(variant: Variant, data: ExperimentData, epochs: int, config: RunConfig, label: str = "",
                  inputs_cache: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                  book: BookProtocol | None = None) -> VariantResult:
    """Build the variant from ``config.seed``, train it with ``fit``, and return its result (diverged or not).
    ``book``: the study's ``BookProtocol``, applied when ``config.protocol == "book"``."""
    nb_random.manual_seed(config.seed)  # anything drawing from the global generator starts the same way too
    model = variant.model(data.n_features, data.n_classes, config.seed)
    optimizer = variant.optimizer(model.parameters())
    cache = inputs_cache if inputs_cache is not None else {}
    if variant.inputs.name not in cache:
        cache[variant.inputs.name] = (variant.inputs(data.X_train, data.pixel_max),
                                      variant.inputs(data.X_val, data.pixel_max))
    X_train, X_val = cache[variant.inputs.name]
    train_set = TensorDataset(X_train, data.y_train)
    train_loader = DataLoader(train_set, batch_size=variant.batch_size, shuffle=True, seed=config.seed)
    val_loader = DataLoader(TensorDataset(X_val, data.y_val), batch_size=VAL_BATCH)

    loss_fn: Any = nn.CrossEntropyLoss()
    callbacks: list[Callback] = []
    penalty_log = None
    if variant.penalty is not None:
        loss_fn = PenalizedLoss(loss_fn, model, variant.penalty)
        penalty_log = PenaltyLog(loss_fn)
        callbacks.append(penalty_log)
    scheduler = variant.scheduler(optimizer, verbose=config.log is not None) if variant.scheduler else None
    if scheduler is not None:
        callbacks.append(LRSchedulerCallback(scheduler, monitor="val_loss"))
    second_pass = None
    if config.protocol == "book":
        book = book or BookProtocol()
        train_eval_loader = DataLoader(train_set, batch_size=VAL_BATCH)
        second_pass = SecondPass(book.accuracy_mode, train_loader, train_eval_loader, val_loader)
        callbacks.append(second_pass)
        if book.eval_training_from is not None:
            callbacks.append(EvalModeFrom(book.eval_training_from))
    callbacks.append(EpochPrinter(config, label or variant.name, epochs))

    started = time.perf_counter()
    diverged = None
    try:
        history = fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=epochs, callbacks=callbacks,
                      progress=False)
    except TrainingDiverged as exc:
        history, diverged = exc.history, str(exc)
        config.say(f"  [{label or variant.name}] DIVERGED: {exc}")
    seconds = time.perf_counter() - started
    if penalty_log is not None:
        _add_column(history, "data_loss", penalty_log.data_loss)
        _add_column(history, "penalty", penalty_log.penalty)
    if second_pass is not None:
        _add_column(history, "train_accuracy", second_pass.train_accuracy)
        if second_pass.val_accuracy_train_mode:
            _add_column(history, "val_accuracy_train_mode", second_pass.val_accuracy_train_mode)
    train_eval_loader = DataLoader(train_set, batch_size=VAL_BATCH)
    result = VariantResult(variant.name, variant.describe(data.n_features, data.n_classes, data.pixel_max),
                           history, seconds, diverged=diverged, model=model,
                           cuts=list(getattr(scheduler, "cuts", [])))
    result.final = final_metrics(model, history, train_eval_loader) if len(history) else \
        {k: math.nan for k in ("loss", "accuracy", "val_loss", "val_accuracy", "train_loss_eval", "train_accuracy_eval")}
    return result


def batch_statistics_accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy on ``(X, y)`` with batch norm using this batch's own statistics (train mode, one batch) - what a
    validation without ``model.eval()`` reports. The model's state (running statistics) is restored afterwards."""
    state, was_training = model.state_dict(), model.training
    try:
        model.train()
        with no_grad():
            return float(np.mean(model(Tensor(X)).data.argmax(axis=1) == y))
    finally:
        model.load_state_dict(state)
        model.train(was_training)


def batchnorm_eval_gaps(result: ExperimentResult, data: ExperimentData, study: Study) -> dict[str, tuple[float, float]]:
    """Per batch-norm variant: (validation accuracy in eval mode, with the validation set's own batch statistics)."""
    out = {}
    for variant, v in zip(study.variants, result.variants):
        if variant.model.batchnorm and not variant.model.dropout and math.isfinite(v.final["val_accuracy"]):
            X = variant.inputs(data.X_val, data.pixel_max)
            out[v.name] = (v.final["val_accuracy"], batch_statistics_accuracy(v.model, X, data.y_val))
    return out


# Eval mode is "broken" for a batch-norm model when its running statistics score this much below the validation
# set's own batch statistics: then an eval-mode train/validation gap says nothing about overfitting.
BROKEN_EVAL_POINTS = 10.0


def measured_notes(result: ExperimentResult, data: ExperimentData, study: Study) -> list[str]:
    """Plain-words observations of this run (rankings, gaps, steps, cuts, divergences) for the report."""
    notes = []
    done = [v for v in result.variants if math.isfinite(v.final.get("val_accuracy", math.nan))]
    bn = result.extra.get("batchnorm_accuracy", {})
    broken = {n for n, (ev, bs) in bn.items() if 100 * (bs - ev) > BROKEN_EVAL_POINTS}
    ranked = sorted(done, key=lambda v: -v.final["val_accuracy"])
    if ranked:
        notes.append("final validation accuracy, best first: " + ", ".join(
            f"{v.name} {100 * v.final['val_accuracy']:.2f} %" for v in ranked))
        notes.append("overfitting gap (train accuracy in eval mode minus validation accuracy): " + ", ".join(
            f"{v.name} {100 * (v.final['train_accuracy_eval'] - v.final['val_accuracy']):+.2f} points"
            + (" (not a measure of overfitting: eval mode itself is broken, see below)" if v.name in broken else "")
            for v in done))
    sizes = {v.batch_size for v in study.variants}
    if len(sizes) > 1:
        n = len(data.y_train)
        notes.append("weight updates per epoch: " + ", ".join(
            f"{v.name} {math.ceil(n / v.batch_size):,}" for v in study.variants)
            + (f" (batch {max(sizes):,} is larger than the {n:,} training images: full-batch gradient descent)"
               if max(sizes) >= n else ""))
    for name, (ev, bs) in bn.items():
        notes.append(f"{name}: validation accuracy {100 * ev:.2f} % in eval mode (running statistics) against "
                     f"{100 * bs:.2f} % with the validation set's own batch statistics (train mode, as a validation "
                     "without model.eval() would measure)")
    for v in result.variants:
        if v.cuts:
            notes.append(f"{v.name}: {len(v.cuts)} learning-rate cut(s), after epochs "
                         + ", ".join(str(e) for e, _, _ in v.cuts) + f"; final rate {v.cuts[-1][2]:.3g}")
        elif any(variant.name == v.name and variant.scheduler for variant in study.variants):
            notes.append(f"{v.name}: the validation loss improved by more than the threshold every epoch: no cut, "
                         "so its rate stayed constant" + (" and its curves are those of the constant-rate run (same "
                                                          "seed, same batches)" if len(result.variants) > 1 else ""))
        if v.diverged:
            notes.append(f"{v.name} diverged after {len(v.history)} complete epoch(s); the other variants ran on")
    return notes


def assemble_study(study: Study, config: RunConfig, data: ExperimentData, variants: list[VariantResult],
                   seconds: float) -> ExperimentResult:
    """The study's result from its trained variants (trained here or in worker processes): measured notes and all
    that the report needs."""
    epochs = config.epochs if config.epochs is not None else study.epochs
    declared = study.variants_for(config.protocol)
    result = ExperimentResult(study.name, study.title, study.description, data.describe(), epochs, config.seed,
                              variants, seconds, notice=study.notice)
    result.extra.update(pictures=study.pictures, inputs={v.name: v.inputs for v in declared},
                        protocol=config.protocol, dataset=data.name, subset=config.subset, study_epochs=study.epochs,
                        configs={v.name: v for v in declared})
    if config.protocol == "book":
        result.extra["book_protocol"] = study.book_protocol.describe()
    result.extra["batchnorm_accuracy"] = batchnorm_eval_gaps(result, data, study)
    result.notes = measured_notes(result, data, study)
    return result


def train_study(study: Study, config: RunConfig, data: ExperimentData) -> ExperimentResult:
    """Train every variant of ``study`` from ``config.seed`` on ``data`` and measure what its report will say."""
    epochs = config.epochs if config.epochs is not None else study.epochs
    config.say(f"{study.name}: {study.title} ({data.describe()}; {epochs} epochs, seed {config.seed}, "
               f"protocol {config.protocol})")
    started = time.perf_counter()
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    variants = [train_variant(v, data, epochs, config, f"{study.name}/{v.name}", cache, study.book_protocol)
                for v in study.variants_for(config.protocol)]
    return assemble_study(study, config, data, variants, time.perf_counter() - started)
