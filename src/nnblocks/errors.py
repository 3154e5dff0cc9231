"""The errors nnblocks raises, so a learner can catch them by kind and always read which op, shape or file failed."""
from __future__ import annotations


class NNBlocksError(Exception):
    """Base class of every error nnblocks raises on purpose."""


class ShapeError(NNBlocksError, ValueError):
    """Operands whose shapes do not fit the op (the message names the op and both shapes)."""


class DTypeError(NNBlocksError, TypeError):
    """A dtype the op cannot take, e.g. an integer tensor asked for a gradient, or float32 @ float64."""


class BackwardError(NNBlocksError, RuntimeError):
    """backward() cannot run: a non-scalar output without a gradient, or a graph already freed."""


class InvalidArgumentError(NNBlocksError, TypeError):
    """Arguments a function cannot take at all: one of the wrong type (a list where a Tensor is needed), too many, or
    an unknown keyword (the message names the function)."""


class InvalidValueError(NNBlocksError, ValueError):
    """An argument whose values (not shape or dtype) an op cannot take: a class index out of range, probabilities
    outside [0, 1], an unknown reduction."""


class ZeroDimError(ShapeError, TypeError):
    """A 0-d tensor (one number) used where it needs a first dimension: ``len()``, iteration, unpacking. A
    ``TypeError`` too, as in PyTorch, so Python's own protocols (``for``, ``list()``, unpacking) report it as theirs."""


class DeviceError(NNBlocksError, RuntimeError):
    """A device nnblocks cannot compute on (CUDA, MPS...: nnblocks computes on the CPU with NumPy), or a device
    string that names no device (the message says what was given and what to use instead)."""


class NotSupportedError(NNBlocksError, NotImplementedError):
    """A PyTorch feature nnblocks does not have (the message names the feature and the nnblocks alternative)."""


class DataError(NNBlocksError, ValueError):
    """A data file or array that is missing, truncated or malformed (the message names the file)."""


class CheckpointError(NNBlocksError, ValueError):
    """A checkpoint that is corrupt, truncated, or does not match the model it is loaded into."""


class TrainingDiverged(NNBlocksError, FloatingPointError):
    """The loss became NaN or infinite during training.

    Besides the message, it carries the facts of the failure, so that an entry point can phrase its own advice:
    ``epoch`` and ``batch`` (1-based; ``batch`` is None when the validation loss diverged), ``loss``, ``lr`` (the
    epoch's learning rate), ``input_finite`` (False when the batch itself held NaN or inf; None when unknown),
    ``max_abs_input`` (the largest finite |x| of the batch; None when unknown), ``weights_finite`` (False when some
    weights were already NaN or inf), and ``history``: the epochs completed before it (plus, with ``record_batches``,
    the batch losses up to the failure).
    """

    def __init__(self, message: str, epoch: int, batch: int | None, loss: float, history: object, *,
                 lr: float = float("nan"), input_finite: bool | None = None, max_abs_input: float | None = None,
                 weights_finite: bool | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.loss, self.history = epoch, batch, loss, history
        self.lr = lr
        self.input_finite, self.max_abs_input, self.weights_finite = input_finite, max_abs_input, weights_finite
