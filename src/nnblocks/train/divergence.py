"""When the loss becomes NaN or inf: the facts ``fit`` gathers where it happened, and what they suggest.

``fit`` raises the ``TrainingDiverged`` built here. It carries the facts (epoch, batch, loss, learning rate, whether
the batch held NaN/inf, its largest |x|, whether the weights were already non-finite) and a message that turns them
into likely causes in the library's own terms. Entry points can phrase their own advice from the same facts (the
command line names its flags; the library names none).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import TrainingDiverged

# Inputs whose largest |x| exceeds this look unscaled (raw pixels reach 255); well-scaled features sit within a few
# units of 0, so one large value makes the first layer's outputs, and the gradients, large too.
UNSCALED_INPUT = 10.0
# A learning rate at or above this is named as a likely cause even when the inputs also look wrong.
HIGH_LR = 0.1


def _weights_finite(model: Any) -> bool:
    return all(np.all(np.isfinite(p.data)) for p in model.parameters())


def _likely_causes(lr: float, input_finite: bool | None, max_abs_input: float | None, weights_finite: bool) -> str:
    causes = []
    if input_finite is False:
        causes.append("the input batch itself contains NaN or inf values")
    elif max_abs_input is not None and max_abs_input > UNSCALED_INPUT:
        causes.append(f"inputs not scaled (max |x| = {max_abs_input:g}; scale them to a few units, e.g. divide "
                      "pixels by 255 or standardize each feature)")
    if lr >= HIGH_LR or not causes:
        causes.insert(0, f"learning rate {lr:g} may be too high (try 10x smaller)")
    if not weights_finite:
        causes.append("some weights are already NaN/inf (an earlier step overflowed)")
    return "; ".join(causes)


def diverged_in_training(history: Any, epoch: int, batch: int, batches: int, loss: float, lr: float, x: Any,
                         model: Any) -> TrainingDiverged:
    """The error for a non-finite training loss at ``batch`` of ``batches`` in ``epoch`` (both 1-based), input ``x``."""
    data = getattr(x, "data", x)
    input_finite = max_abs_input = None
    if isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.size:
        finite = np.isfinite(data)
        input_finite = bool(finite.all())
        max_abs_input = float(np.abs(data[finite]).max()) if finite.any() else None
    weights_finite = _weights_finite(model)
    return TrainingDiverged(
        f"training diverged: the loss is {loss} at epoch {epoch}, batch {batch} of {batches}. Likely cause: "
        f"{_likely_causes(lr, input_finite, max_abs_input, weights_finite)}.", epoch, batch, loss, history,
        lr=lr, input_finite=input_finite, max_abs_input=max_abs_input, weights_finite=weights_finite)


def diverged_in_validation(history: Any, epoch: int, val_loss: float, train_loss: float, lr: float,
                           model: Any) -> TrainingDiverged:
    """The error for a non-finite validation loss after ``epoch`` (1-based), whose training loss was finite."""
    return TrainingDiverged(
        f"training diverged: the validation loss is {val_loss} after epoch {epoch} (training loss {train_loss:.4g}). "
        f"Likely cause: learning rate {lr:g} may be too high, or the validation data holds values far outside the "
        "training range.", epoch, None, val_loss, history, lr=lr, weights_finite=_weights_finite(model))
