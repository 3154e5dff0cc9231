"""When the loss becomes NaN or inf: the facts ``fit`` gathers where it happened, and what they suggest.

``fit`` raises the ``TrainingDiverged`` built here when a batch loss is NaN or inf, or - earlier - when it has grown
by orders of magnitude (``LossWatch``: above 100x the best epoch's loss and 10x the first epoch's). It carries the
facts (epoch, batch, loss, learning rate, whether the batch held NaN/inf, its largest |x|, whether the weights were
already non-finite) and a message that turns them into likely causes in the library's own terms. Entry points can phrase their own advice from the same facts (the
command line names its flags; the library names none).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import TrainingDiverged

# Inputs whose largest |x| exceeds this are named as a possible cause: well-scaled features sit within a few units of
# 0, so one large value makes the first layer's outputs, and the gradients, large too. (Standardized features can
# reach sqrt(n) for a nearly constant feature with one outlier - 20 on the digits - so large alone does not prove
# unscaled; whole numbers from 0 up to the maximum, as raw pixels or counts are, do.)
LARGE_INPUT = 10.0
# A learning rate at or above this is named as a likely cause even when the inputs also look wrong.
HIGH_LR = 0.1
# Early detection: a batch loss above both GROWTH x the best epoch's training loss and OVER_START x the first epoch's
# (about the untrained model's loss) is a blow-up, not noise. On the digits with SGD lr 0.5, momentum 0.9 the epoch
# losses were 4.4, 490, 6.1e4 ... 4.3e34, then inf at epoch 18: this stops it in epoch 2. A healthy run stays far
# below: a late digits batch at 5x the first epoch's loss (cross-entropy ~2.5 on a batch, worse than guessing) is
# not one a converging run produces.
GROWTH = 100.0
OVER_START = 10.0


class LossWatch:
    """The first and best epoch training losses of a run (including the epochs of a resumed ``history``), and the
    batch loss above which ``fit`` declares divergence (``limit``; infinite until an epoch is complete)."""

    def __init__(self, history: Any) -> None:
        losses = [v for v in (history["loss"] if "loss" in history else []) if np.isfinite(v)]
        self.first = losses[0] if losses else None
        self.best = min(losses) if losses else None
        self.limit = float("inf")
        self._update()

    def epoch_done(self, loss: float) -> None:
        if np.isfinite(loss):
            self.first = loss if self.first is None else self.first
            self.best = loss if self.best is None else min(self.best, loss)
            self._update()

    def _update(self) -> None:
        if self.first is not None and self.best is not None:
            self.limit = max(GROWTH * self.best, OVER_START * self.first)


def _weights_finite(model: Any) -> bool:
    return all(np.all(np.isfinite(p.data)) for p in model.parameters())


def _input_causes(input_finite: bool | None, max_abs_input: float | None, whole: bool) -> list[str]:
    if input_finite is False:
        return ["the input batch itself contains NaN or inf values"]
    if max_abs_input is not None and max_abs_input > LARGE_INPUT:
        if whole:
            return [f"the inputs look unscaled: whole numbers from 0 to {max_abs_input:g}, as raw pixels or counts "
                    f"are (divide them by {max_abs_input:g}, or standardize each feature)"]
        return [f"inputs as large as |x| = {max_abs_input:.3g} (if they are not scaled yet, standardize each feature)"]
    return []


def _likely_causes(lr: float, momentum: float, input_causes: list[str], weights_finite: bool) -> str:
    causes = list(input_causes)
    if lr >= HIGH_LR or not causes:
        step = f" with momentum {momentum:g} (steps up to {lr / (1 - momentum):.3g} times the gradient)" \
            if 0 < momentum < 1 else ""
        causes.insert(0, f"learning rate {lr:g}{step} may be too high (try 10x smaller)")
    if not weights_finite:
        causes.append("some weights are already NaN/inf (an earlier step overflowed)")
    return "; ".join(causes)


def _batch_facts(x: Any) -> tuple[bool | None, float | None, bool]:
    """(all finite, largest finite |x|, whole numbers >= 0) of an input batch; None where it says nothing."""
    data = getattr(x, "data", x)
    if not (isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.size):
        return None, None, False
    finite = np.isfinite(data)
    values = data[finite]
    if not values.size:
        return bool(finite.all()), None, False
    whole = bool(values.min() >= 0 and np.all(values == np.round(values)))
    return bool(finite.all()), float(np.abs(values).max()), whole


def _momentum(optimizer: Any) -> float:
    groups = getattr(optimizer, "param_groups", None) or [{}]
    return float(groups[0].get("momentum", 0.0) or 0.0)


def diverged_in_training(history: Any, epoch: int, batch: int, batches: int, loss: float, lr: float, x: Any,
                         model: Any, optimizer: Any = None, watch: LossWatch | None = None) -> TrainingDiverged:
    """The error for a training loss at ``batch`` of ``batches`` in ``epoch`` (both 1-based), input ``x``, that is
    NaN/inf, or (with ``watch``) above ``watch.limit``."""
    input_finite, max_abs_input, whole = _batch_facts(x)
    weights_finite = _weights_finite(model)
    if np.isfinite(loss) and watch is not None:
        what = (f"the loss grew to {loss:.3g} at epoch {epoch}, batch {batch} of {batches}: over {GROWTH:g} times "
                f"its best epoch ({watch.best:.3g}) and {OVER_START:g} times its first ({watch.first:.3g})")
    else:
        what = f"the loss is {loss} at epoch {epoch}, batch {batch} of {batches}"
    causes = _likely_causes(lr, _momentum(optimizer), _input_causes(input_finite, max_abs_input, whole),
                            weights_finite)
    return TrainingDiverged(f"training diverged: {what}. Likely cause: {causes}.", epoch, batch, loss, history,
                            lr=lr, input_finite=input_finite, max_abs_input=max_abs_input,
                            weights_finite=weights_finite)


def diverged_in_validation(history: Any, epoch: int, val_loss: float, train_loss: float, lr: float,
                           model: Any) -> TrainingDiverged:
    """The error for a non-finite validation loss after ``epoch`` (1-based), whose training loss was finite."""
    return TrainingDiverged(
        f"training diverged: the validation loss is {val_loss} after epoch {epoch} (training loss {train_loss:.4g}). "
        f"Likely cause: learning rate {lr:g} may be too high, or the validation data holds values far outside the "
        "training range.", epoch, None, val_loss, history, lr=lr, weights_finite=_weights_finite(model))
