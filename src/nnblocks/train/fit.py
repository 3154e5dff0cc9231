"""``fit``: the training loop every PyTorch learner writes by hand, written once, with its bookkeeping.

One epoch is::

    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

then, with a validation loader, ``evaluate`` in eval mode under ``no_grad()``, then the callbacks. The per-batch
bookkeeping is kept to what the epoch summary needs (one ``.item()`` of the loss and, for accuracy, one argmax of
the logits already computed), so the loop costs little more than the forward and backward passes themselves.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Iterable, Sequence

import numpy as np

from nnblocks.errors import TrainingDiverged
from nnblocks.train.callbacks import Callback, LRSchedulerCallback, TrainingContext
from nnblocks.train.spot_check import SpotChecker, as_spot_checker
from nnblocks.train.history import History
from nnblocks.train.metrics import (
    MetricFn,
    accuracy,
    binary_threshold,
    correct_count,
    evaluate,
    is_class_target,
    resolve_metrics,
)

DEFAULT_METRICS: tuple[str, ...] = ("accuracy",)


def current_lr(optimizer: Any) -> float:
    """The learning rate of the optimizer's first parameter group (NaN if it has none)."""
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else math.nan


def _likely_causes(lr: float, x: Any, model: Any) -> str:
    causes = []
    data = getattr(x, "data", x)
    if isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.size:
        if not np.all(np.isfinite(data)):
            causes.append("the input batch itself contains NaN or inf values")
        else:
            peak = float(np.abs(data).max())
            if peak > 10:
                causes.append(f"inputs not scaled (max |x| = {peak:g}; try --scale 255 or standardizing)?")
    if lr >= 0.1 or not causes:
        causes.insert(0, f"learning rate {lr:g} may be too high (try 10x smaller)")
    if any(not np.all(np.isfinite(p.data)) for p in model.parameters()):
        causes.append("some weights are already NaN/inf (an earlier step overflowed)")
    return "; ".join(causes)


def _metrics_for_targets(named: list, default_metrics: bool, y: np.ndarray) -> list:
    """Drop the default accuracy for regression targets (and refuse an explicit request for it)."""
    if not any(fn is accuracy for _, fn in named) or is_class_target(y):
        return named
    if default_metrics:
        return []
    raise ValueError(f"fit: accuracy needs class targets (integer indices, one-hot or 0/1 values), but the targets "
                     f"are real numbers of dtype {y.dtype}; pass metrics=None for regression")


def _train_epoch(model: Any, loss_fn: Any, optimizer: Any, loader: Any, named: list, threshold: float,
                 history: History, record_batches: bool, batch_callbacks: list, bar: Any, epoch: int,
                 lr: float, check_targets: bool | None,
                 checker: SpotChecker | None = None) -> tuple[dict[str, float], list]:
    """One pass over ``loader`` with a step per batch; returns the epoch's sample-weighted loss and metrics, and
    the metrics kept (``check_targets``: True/False = the first batch decides whether accuracy applies, with
    True meaning the metrics are fit's defaults; None = no check). ``checker`` compares the gradients with finite
    differences on its steps, after backward and before the optimizer changes the weights."""
    total, seen, correct = 0.0, 0, 0
    sums = [0.0] * len(named)
    # Overflow on the way to a NaN loss is caught below with a message naming the epoch and batch; NumPy's
    # RuntimeWarnings on the way there would only bury it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch_index, batch in enumerate(loader):
            x, y = batch[0], batch[1]
            checked = checker is not None and checker.start_step(model)
            optimizer.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            value = loss.item()
            if not math.isfinite(value):
                if record_batches:
                    history.batch_loss.append(value)
                raise TrainingDiverged(
                    f"training diverged: the loss is {value} at epoch {epoch + 1}, batch {batch_index + 1} of "
                    f"{len(loader)}. Likely cause: {_likely_causes(lr, x, model)}.",
                    epoch + 1, batch_index + 1, value, history)
            loss.backward()
            if checked:
                history.spot_checks.append(checker.check(model, loss_fn, x, y, value, epoch + 1))
            optimizer.step()
            if check_targets is not None and batch_index == 0:
                named = _metrics_for_targets(named, check_targets, y.data)
                sums = [0.0] * len(named)
            n = y.data.shape[0]
            total += value * n
            seen += n
            for k, (_, fn) in enumerate(named):
                if fn is accuracy:
                    correct += correct_count(out.data, y.data, threshold)
                else:
                    sums[k] += float(fn(out.data, y.data)) * n
            if record_batches:
                history.batch_loss.append(value)
            for cb in batch_callbacks:
                cb.on_batch_end(batch_index, value)
            if bar is not None:
                bar.update(1)
    if seen == 0:
        raise ValueError("fit: the training loader yielded no batches (is the dataset smaller than batch_size "
                         "with drop_last=True?)")
    logs = {"loss": total / seen}
    for k, (name, fn) in enumerate(named):
        logs[name] = correct / seen if fn is accuracy else sums[k] / seen
    return logs, named


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    try:
        return sys.stderr.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def fit(model: Any, loss_fn: Any, optimizer: Any, train_loader: Iterable, val_loader: Iterable | None = None,
        epochs: int = 1, metrics: Sequence[str | MetricFn] | None = DEFAULT_METRICS, callbacks: Sequence[Callback] = (),
        scheduler: Any = None, record_batches: bool = False, progress: bool | None = None, start_epoch: int = 0,
        history: History | None = None, check_gradients: int | SpotChecker | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History``.

    Each epoch's training loss is the **sample-weighted mean of the batch losses**,
    ``sum_b n_b * loss_b / sum_b n_b``: for a 'mean'-reduced loss that is exactly the average loss over the epoch's
    samples (a smaller last batch counts for its size, not as a full batch). It is measured on the fly, with the
    weights changing between batches, so it differs slightly from the loss of the final weights. Training metrics
    are counted the same way; validation values come from ``evaluate`` (eval mode, ``no_grad()``), after which the
    model is put back in training mode.

    Args:
        metrics: names (``"accuracy"``) or functions ``f(output, target) -> float``; None for none. With the
            default ``("accuracy",)``, accuracy is dropped silently when the targets are not classes (regression).
        callbacks: ``Callback`` objects (``EarlyStopping``, ``ModelCheckpoint``...); one returning True from
            ``on_epoch_end`` stops training after that epoch.
        scheduler: a learning-rate scheduler stepped once per epoch after validation (shortcut for
            ``LRSchedulerCallback(scheduler)``; ReduceLROnPlateau gets ``val_loss``, or ``loss`` without validation).
        record_batches: also keep every batch's loss in ``history.batch_loss``.
        progress: a tqdm progress bar; None shows it only when stdout and stderr are terminals.
        start_epoch, history: resume a run: epochs ``start_epoch .. epochs-1`` are run (``epochs`` is the total, as
            Keras's ``initial_epoch``) and appended to ``history``.
        check_gradients: N spot-checks the engine's gradients against float64 finite differences on the first step
            and every N-th after it (5 weights per parameter tensor, same batch, before the optimizer step); the
            largest relative error per parameter goes to ``history.spot_checks`` and a mismatch warns
            ``SpotCheckWarning``. A ``SpotChecker`` sets the sample size and tolerances.

    Raises:
        TrainingDiverged: the loss became NaN/inf; the message names the epoch, the batch and a likely cause, and
            ``exc.history`` holds what was recorded before. The weights are those before the failing step.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if start_epoch < 0 or start_epoch > epochs:
        raise ValueError(f"fit: start_epoch must lie in [0, epochs={epochs}], got {start_epoch}")
    history = History() if history is None else history
    named = resolve_metrics(metrics)
    default_metrics = metrics is DEFAULT_METRICS
    threshold = binary_threshold(loss_fn)
    checker = as_spot_checker(check_gradients, steps_done=int(start_epoch) * len(train_loader))

    all_callbacks: list[Callback] = ([LRSchedulerCallback(scheduler)] if scheduler is not None else []) + list(callbacks)
    if scheduler is None:  # a scheduler given as a callback is still saved by ModelCheckpoint
        scheduler = next((cb.scheduler for cb in all_callbacks if isinstance(cb, LRSchedulerCallback)), None)
    ctx = TrainingContext(model=model, optimizer=optimizer, loss_fn=loss_fn, history=history,
                          train_loader=train_loader, val_loader=val_loader, scheduler=scheduler, epochs=int(epochs))
    batch_callbacks = [cb for cb in all_callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    show = _progress_enabled(progress)
    if show:
        from tqdm.auto import tqdm

    for cb in all_callbacks:
        cb.on_train_begin(ctx)
    logs: dict[str, float] = {}
    model.train()
    for epoch in range(int(start_epoch), int(epochs)):
        for cb in all_callbacks:
            cb.on_epoch_begin(epoch)
        lr = current_lr(optimizer)
        started = time.perf_counter()
        bar = tqdm(total=len(train_loader), desc=f"epoch {epoch + 1}/{epochs}", leave=False,  # type: ignore[arg-type]
                   file=sys.stderr) if show else None
        try:
            train_logs, named = _train_epoch(model, loss_fn, optimizer, train_loader, named, threshold, history,
                                             record_batches, batch_callbacks, bar, epoch, lr,
                                             default_metrics if epoch == start_epoch else None, checker)
            logs = {"epoch": epoch + 1, **train_logs}
        finally:
            if bar is not None:
                bar.close()
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn, named)
            model.train()
            if not math.isfinite(result["loss"]):
                raise TrainingDiverged(
                    f"training diverged: the validation loss is {result['loss']} after epoch {epoch + 1} (training "
                    f"loss {logs['loss']:.4g}). Likely cause: learning rate {lr:g} may be too high, or the validation "
                    "data holds values far outside the training range.", epoch + 1, None, result["loss"], history)
            logs["val_loss"] = result["loss"]
            for name, _ in named:
                logs[f"val_{name}"] = result[name]
        logs["lr"] = lr
        history.append(logs, seconds=time.perf_counter() - started)
        if show:
            text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "epoch")
            tqdm.write(f"epoch {epoch + 1}/{epochs}  {text}", file=sys.stderr)
        stop = False
        for cb in all_callbacks:
            stop = bool(cb.on_epoch_end(epoch, logs)) or stop
        if stop:
            break
    for cb in all_callbacks:
        cb.on_train_end(logs)
    return history
