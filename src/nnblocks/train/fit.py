"""``fit``: the training loop every PyTorch learner writes by hand, written once, with its bookkeeping.

One training step, the heart of the loop::

    optimizer.zero_grad()           # forget the previous step's gradients
    out = model(x)                  # forward pass: records the graph
    loss = loss_fn(out, y)          # one number (a 0-d Tensor)
    loss.backward()                 # every parameter's gradient, into p.grad
    optimizer.step()                # every parameter updated in place from p.grad

Around it: a NaN/inf loss, or one grown by orders of magnitude over the run's best (``divergence.LossWatch``), stops
training before ``backward`` (so the weights are those before the failing step),
an optional gradient spot check runs between ``backward`` and ``step``, and the epoch's loss and metrics are summed
on the fly (one ``.item()`` of the loss and, for accuracy, one argmax of the outputs already computed), so the loop
costs little more than the forward and backward passes themselves. After each epoch: ``evaluate`` on the validation
loader (eval mode, ``no_grad()``), one row of the ``History``, then the callbacks.

Each epoch's training loss is the **sample-weighted mean of the batch losses**, ``sum_b n_b * loss_b / sum_b n_b``:
for a 'mean'-reduced loss that is exactly the average loss over the epoch's samples (a smaller last batch counts for
its size, not as a full batch). It is measured on the fly, with the weights changing between batches, so it differs
slightly from the loss of the final weights. Training metrics are counted the same way (``MetricSums``, which
``evaluate`` shares).
"""
from __future__ import annotations

import math
import time
from typing import Any, Iterable, Sequence

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.train.callbacks import Callback, LRSchedulerCallback, TrainingContext
from nnblocks.train.divergence import LossWatch, diverged_in_training, diverged_in_validation
from nnblocks.train.history import History
from nnblocks.train.metrics import MetricFn, MetricSums, binary_threshold, evaluate, metrics_for_targets, peek_targets
from nnblocks.train.progress import Progress
from nnblocks.train.spot_check import SpotChecker, as_spot_checker

DEFAULT_METRICS: tuple[str, ...] = ("accuracy",)


def current_lr(optimizer: Any) -> float:
    """The learning rate of the optimizer's first parameter group (NaN if it has none)."""
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else math.nan


def fit(model: Any, loss_fn: Any, optimizer: Any, train_loader: Iterable, val_loader: Iterable | None = None,
        epochs: int = 1, metrics: Sequence[str | MetricFn] | None = DEFAULT_METRICS, callbacks: Sequence[Callback] = (),
        scheduler: Any = None, record_batches: bool = False, progress: bool | None = None, start_epoch: int = 0,
        history: History | None = None, check_gradients: int | SpotChecker | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History`` (see the module docstring for what is logged).

    Args:
        metrics: names (``"accuracy"``) or functions ``f(output, target) -> float``; None for none. The default
            ``("accuracy",)`` is dropped for regression (decided before training, from ``train_loader.dataset``).
        callbacks: ``Callback`` objects (``EarlyStopping``, ``ModelCheckpoint``...); True from ``on_epoch_end`` stops.
        scheduler: stepped once per epoch after validation, as ``LRSchedulerCallback(scheduler)`` (the first
            callback): ReduceLROnPlateau gets ``val_loss``, or ``loss`` without validation.
        record_batches: keep every batch's loss in ``history.batch_loss``.
        progress: a tqdm bar per epoch; None shows one only when stdout and stderr are terminals.
        start_epoch, history: resume a run: epochs ``start_epoch .. epochs-1`` run (``epochs`` is the total, as
            Keras's ``initial_epoch``) and are appended to ``history``.
        check_gradients: N spot-checks the gradients against float64 finite differences on the first step and every
            N-th (``nnblocks.train.spot_check``), into ``history.spot_checks``; a ``SpotChecker`` sets tolerances.

    Raises:
        TrainingDiverged: a batch loss became NaN/inf or grew by orders of magnitude (``divergence.LossWatch``).
            It names the epoch, batch and likely causes, carries the facts and ``exc.history``; weights are as before.
    """
    start_epoch, epochs = _checked_epochs(start_epoch, epochs)
    history = History() if history is None else history
    named = metrics_for_targets(metrics, peek_targets(train_loader), default=metrics is DEFAULT_METRICS)
    threshold, batches = binary_threshold(loss_fn), len(train_loader)
    spot_checker = as_spot_checker(check_gradients, steps_done=start_epoch * batches)
    callbacks, scheduler = _with_scheduler(callbacks, scheduler)
    batch_callbacks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    shown, watch = Progress(progress, epochs, batches), LossWatch(history)
    ctx = TrainingContext(model=model, optimizer=optimizer, loss_fn=loss_fn, history=history,
                          train_loader=train_loader, val_loader=val_loader, scheduler=scheduler, epochs=epochs)
    for cb in callbacks:
        cb.on_train_begin(ctx)
    logs: dict[str, float] = {}
    model.train()
    for epoch in range(start_epoch, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        lr, started = current_lr(optimizer), time.perf_counter()
        sums = MetricSums(named, threshold)
        # NumPy's overflow warnings on the way to a NaN loss would only bury the TrainingDiverged raised below.
        with shown.epoch(epoch), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i, batch in enumerate(train_loader):
                x, y = batch[0], batch[1]
                spot_check = spot_checker is not None and spot_checker.start_step(model)
                optimizer.zero_grad()
                out = model(x)
                loss = loss_fn(out, y)
                value = loss.item()
                if record_batches:
                    history.batch_loss.append(value)
                if not (math.isfinite(value) and value <= watch.limit):  # or grown by orders of magnitude
                    raise diverged_in_training(history, epoch + 1, i + 1, batches, value, lr, x, model, optimizer,
                                               watch)
                loss.backward()
                if spot_check:
                    history.spot_checks.append(spot_checker.check(model, loss_fn, x, y, value, epoch + 1))
                optimizer.step()
                sums.add(out.data, y.data, value)
                for cb in batch_callbacks:
                    cb.on_batch_end(i, value)
                shown.update()
        logs = {"epoch": epoch + 1, **sums.means()}
        watch.epoch_done(logs["loss"])
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, named)  # leaves the model in training mode
            if not math.isfinite(val["loss"]):
                raise diverged_in_validation(history, epoch + 1, val["loss"], logs["loss"], lr, model)
            logs.update({f"val_{key}": v for key, v in val.items() if key != "n"})
        logs["lr"] = lr
        history.append(logs, seconds=time.perf_counter() - started)
        shown.epoch_end(epoch, logs)
        if any([bool(cb.on_epoch_end(epoch, logs)) for cb in callbacks]):  # a list: every callback sees the epoch
            break
    for cb in callbacks:
        cb.on_train_end(logs)
    return history


def _checked_epochs(start_epoch: Any, epochs: Any) -> tuple[int, int]:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise InvalidValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if start_epoch < 0 or start_epoch > epochs:
        raise InvalidValueError(f"fit: start_epoch must lie in [0, epochs={epochs}], got {start_epoch}")
    return int(start_epoch), int(epochs)


def _with_scheduler(callbacks: Sequence[Callback], scheduler: Any) -> tuple[list[Callback], Any]:
    """The callbacks ``fit`` runs (``fit(scheduler=s)`` first, as ``LRSchedulerCallback(s)``) and the scheduler of
    the run, also when given as a callback (``ModelCheckpoint`` saves it)."""
    if scheduler is not None:
        return [LRSchedulerCallback(scheduler), *callbacks], scheduler
    return list(callbacks), next((cb.scheduler for cb in callbacks if isinstance(cb, LRSchedulerCallback)), None)
