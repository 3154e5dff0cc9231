"""Callbacks: small objects ``fit`` calls at fixed moments, to stop early, step a scheduler, save checkpoints.

The hooks, in the order ``fit`` calls them:

    on_train_begin(ctx)            ctx: the run's TrainingContext (model, optimizer, loaders, history...)
    on_epoch_begin(epoch)          epoch: 0-based index of the epoch about to run
    on_batch_end(batch, loss)      only called on callbacks that override it (it costs time on every batch)
    on_epoch_end(epoch, logs)      logs: this epoch's {"epoch", "loss", "accuracy", "val_loss", ..., "lr"};
                                   return True to stop training after this epoch
    on_train_end(logs)

Callbacks run in the order given, and the scheduler passed as ``fit(scheduler=...)`` runs first, so a checkpoint
saved at the end of an epoch holds the learning rate of the next one.
"""
from __future__ import annotations

import copy
import inspect
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.optim.lr_scheduler import ReduceLROnPlateau


@dataclass
class TrainingContext:
    """What a callback can see of the run ``fit`` is driving."""

    model: Any
    optimizer: Any
    loss_fn: Any
    history: Any
    train_loader: Any = None
    val_loader: Any = None
    scheduler: Any = None
    epochs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base class: override the hooks you need; ``self.ctx`` is set when training begins."""

    ctx: TrainingContext | None = None

    def on_train_begin(self, ctx: TrainingContext) -> None:
        self.ctx = ctx

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_batch_end(self, batch: int, loss: float) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        return None

    def on_train_end(self, logs: dict[str, float]) -> None:
        pass


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise InvalidValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "auc", "f1", "precision", "recall")) else "min"


def _monitored(monitor: str, logs: dict[str, float], who: str) -> float:
    if monitor not in logs:
        hint = " (pass a val_loader to fit, or monitor 'loss')" if monitor.startswith("val_") else ""
        raise InvalidValueError(f"{who}: monitored value {monitor!r} is not in the epoch logs {sorted(logs)}{hint}")
    return float(logs[monitor])


class _Monitor:
    """Tracks the best value of a logged quantity; ``improved(value)`` says whether it beats the best by min_delta."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor, self.mode, self.min_delta = monitor, _mode_for(monitor, mode), abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs in a row.

    With ``restore_best`` the model gets back the weights (and buffers) of its best epoch when training ends.
    ``stopped_epoch`` is the 1-based epoch after which training stopped (0 if it never stopped early);
    ``best_epoch`` the 1-based epoch of the best value.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise InvalidValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.patience, self.restore_best = patience, restore_best
        self._track = _Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.wait = 0
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_state: dict[str, np.ndarray] | None = None

    @property
    def best(self) -> float:
        return self._track.best

    def on_train_begin(self, ctx: TrainingContext) -> None:
        super().on_train_begin(ctx)
        self.wait, self.stopped_epoch = 0, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        value = _monitored(self.monitor, logs, "EarlyStopping")
        if self._track.improved(value):
            self._track.best, self.best_epoch, self.wait = value, epoch + 1, 0
            if self.restore_best and self.ctx is not None:
                self.best_state = self.ctx.model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch + 1
            return True
        return False

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self.restore_best and self.best_state is not None and self.ctx is not None:
            self.ctx.model.load_state_dict(self.best_state)


def _needs_metric(scheduler: Any) -> bool:
    """Whether ``scheduler.step`` takes the monitored value (ReduceLROnPlateau) rather than nothing."""
    if isinstance(scheduler, ReduceLROnPlateau):
        return True
    try:
        params = inspect.signature(scheduler.step).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler once per epoch, after validation: ``scheduler.step(logs[monitor])`` for
    ReduceLROnPlateau (or any scheduler whose ``step`` needs a value), ``scheduler.step()`` for the others."""

    def __init__(self, scheduler: Any, monitor: str = "val_loss") -> None:
        self.scheduler, self.monitor = scheduler, monitor
        self.with_metric = _needs_metric(scheduler)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.with_metric:
            monitor = self.monitor if self.monitor in logs or self.monitor != "val_loss" else "loss"
            self.scheduler.step(_monitored(monitor, logs, "LRSchedulerCallback"))
        else:
            self.scheduler.step()
        return None


class ModelCheckpoint(Callback):
    """Save a checkpoint (model, optimizer, scheduler, history, RNG states) every ``every`` epochs.

    ``path`` may hold ``{epoch}`` or a log key (``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``). With
    ``save_best_only`` a file is written only when ``monitor`` improves. ``config`` (JSON-like, e.g. the command
    line's model description) and ``extra`` (arrays allowed) are stored with it. ``last_path`` is the last file written.
    ``initial_best``: the best value a resumed run had already reached, so that a worse epoch does not replace the
    best checkpoint saved before.
    """

    def __init__(self, path: str | os.PathLike, every: int = 1, save_best_only: bool = False,
                 monitor: str = "val_loss", mode: str = "auto", config: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None, initial_best: float | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidValueError(f"ModelCheckpoint: every must be an int >= 1, got {every!r}")
        self.path, self.every, self.save_best_only = os.fspath(path), every, save_best_only
        self.monitor = monitor
        self._track = _Monitor(monitor, mode, 0.0)
        if initial_best is not None:
            self._track.best = float(initial_best)
        self.config, self.extra = config, extra
        self.last_path: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % self.every:
            return None
        if self.save_best_only:
            value = _monitored(self.monitor, logs, "ModelCheckpoint")
            if not self._track.improved(value):
                return None
            self._track.best = value
        from nnblocks.train.checkpoint import loader_generators, save_checkpoint

        ctx = self.ctx
        assert ctx is not None, "ModelCheckpoint used outside fit (on_train_begin was not called)"
        path = self.path.format(**{**logs, "epoch": epoch + 1})
        save_checkpoint(path, ctx.model, ctx.optimizer, ctx.scheduler, epoch=epoch + 1, history=ctx.history,
                        rng=loader_generators(train=ctx.train_loader, val=ctx.val_loader),
                        config=self.config, extra=copy.copy(self.extra))
        self.last_path = path
        return None
