"""Metrics: accuracy from a model's raw outputs, the confusion matrix, and ``evaluate`` over a whole loader.

What a prediction is depends on the output's shape, the way PyTorch code usually reads it:

- ``(N, C)`` scores with ``C > 1`` (logits for ``CrossEntropyLoss``, or scores trained with MSE against one-hot
  targets): the predicted class is ``argmax`` over the last axis.
- ``(N,)`` or ``(N, 1)`` scores (one output for a binary problem): class 1 when the score is above ``threshold``,
  which is 0 for logits (``BCEWithLogitsLoss``: ``sigmoid(s) > 1/2  <=>  s > 0``) and 1/2 for probabilities
  (``BCELoss`` after a ``Sigmoid``).

Targets may be class indices ``(N,)``, one-hot rows ``(N, C)`` (their argmax is the class), or 0/1 values of the
output's shape for a binary model.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.tensor import Tensor, no_grad

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def predict_classes(output: Any, threshold: float = 0.0) -> np.ndarray:
    """The predicted class of each row of ``output``: argmax for ``(N, C>1)`` scores, ``score > threshold`` for one
    score per sample. Returns int64 ``(N,)``."""
    out = _array(output)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        return (out.reshape(-1) > threshold).astype(np.int64)
    raise ShapeError(f"predict_classes: expected outputs of shape (N, C) or (N,) / (N, 1), got {out.shape}")


def target_classes(target: Any, output_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Class indices from targets: indices as given, one-hot rows by argmax, 0/1 columns flattened. int64 ``(N,)``."""
    y = _array(target)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ShapeError(f"accuracy: targets must be class indices (N,), one-hot (N, C) or (N, 1), got {y.shape}")
    if y.dtype.kind == "f":
        return (y > 0.5).astype(np.int64)  # 0/1 float targets of a binary model
    return y.astype(np.int64, copy=False)


def correct_count(output: Any, target: Any, threshold: float = 0.0) -> int:
    """How many rows of ``output`` predict their target's class (the numerator of accuracy)."""
    out, y = _array(output), _array(target)
    if out.ndim == 2 and out.shape[1] > 1 and y.ndim == 1 and y.shape[0] == out.shape[0]:
        # The hot path of classification training: one argmax, one comparison, one count.
        return int(np.count_nonzero(out.argmax(axis=1) == y))
    pred, true = predict_classes(out, threshold), target_classes(y)
    if pred.shape != true.shape:
        raise ShapeError(f"accuracy: {pred.shape[0]} predictions from outputs {out.shape} but {true.shape[0]} "
                         f"targets of shape {y.shape}")
    return int(np.count_nonzero(pred == true))


def accuracy(output: Any, target: Any, threshold: float = 0.0) -> float:
    """Fraction of samples whose predicted class (argmax, or ``score > threshold`` for one output) equals the target.

    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5
    """
    n = len(_array(target))
    if n == 0:
        raise ShapeError("accuracy of zero samples is undefined")
    return correct_count(output, target, threshold) / n


def is_class_target(target: Any) -> bool:
    """Whether ``target`` looks like classification targets: integer indices, or float values that are all 0 or 1."""
    y = _array(target)
    if y.dtype.kind in "iub":
        return True
    return y.dtype.kind == "f" and bool(np.all((y == 0) | (y == 1)))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of samples of true class ``i`` predicted as class ``j`` (rows: truth, as scikit-learn).

    One ``np.bincount`` over the pair codes ``i * C + j``, so no loop over samples. ``num_classes`` defaults to
    ``max(label) + 1``. Returns int64 ``(C, C)``; its trace over its sum is the accuracy.
    """
    t = np.asarray(_array(y_true)).reshape(-1).astype(np.int64, copy=False)
    p = np.asarray(_array(y_pred)).reshape(-1).astype(np.int64, copy=False)
    if t.shape != p.shape:
        raise ShapeError(f"confusion_matrix: {t.size} true labels but {p.size} predictions")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    c = int(num_classes)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= c):
        raise InvalidValueError(f"confusion_matrix: labels must lie in [0, {c}), got true {t.min()}..{t.max()} "
                                f"and predicted {p.min()}..{p.max()}")
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)


METRICS: dict[str, MetricFn] = {"accuracy": accuracy}


def resolve_metrics(metrics: Iterable[str | MetricFn] | None) -> list[tuple[str, MetricFn]]:
    """``("accuracy", my_fn)`` -> ``[("accuracy", accuracy), ("my_fn", my_fn)]``; an unknown name is an
    ``InvalidValueError``."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise InvalidValueError(f"unknown metric {m!r}; known: {sorted(METRICS)} (or pass a function "
                                        "f(output, target))")
            out.append((m, METRICS[m]))
        elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1]):
            out.append((m[0], m[1]))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"a metric must be a name or a function f(output, target) -> float, got {m!r}")
    return out


def binary_threshold(loss_fn: Any) -> float:
    """0 for logits, 1/2 when the loss declares it takes probabilities (``BCELoss``: the model ends with a Sigmoid)."""
    return 0.5 if getattr(loss_fn, "takes_probabilities", False) else 0.0


# How many samples ``peek_targets`` reads: enough that real-valued targets are not mistaken for 0/1 classes by chance.
PEEK_SAMPLES = 64


def peek_targets(loader: Any) -> np.ndarray | None:
    """The targets of the first samples of ``loader.dataset`` (at most ``PEEK_SAMPLES``), read by index.

    Read from the dataset, not by drawing a batch: iterating a shuffling loader draws an order from its generator,
    which would change the run. None when the loader has no dataset (a plain list of batches, say).
    """
    dataset = getattr(loader, "dataset", None)
    if dataset is None or len(dataset) == 0:
        return None
    return np.stack([_array(dataset[i][1]) for i in range(min(len(dataset), PEEK_SAMPLES))])


def metrics_for_targets(metrics: Sequence[str | MetricFn] | None, targets: np.ndarray | None,
                        default: bool = False) -> list[tuple[str, MetricFn]]:
    """``resolve_metrics(metrics)``, checked against some of the targets they will measure.

    Accuracy needs class targets: for real-valued ``targets`` (regression) it is dropped when it only came from a
    default (``default=True``), refused with ``InvalidValueError`` when asked for. ``targets=None``: nothing to check.
    """
    named = resolve_metrics(metrics)
    if targets is None or is_class_target(targets) or not any(fn is accuracy for _, fn in named):
        return named
    if default:
        return [(name, fn) for name, fn in named if fn is not accuracy]
    raise InvalidValueError(f"accuracy needs class targets (integer indices, one-hot or 0/1 values), but the targets "
                            f"are real numbers of dtype {targets.dtype}; pass metrics=None for regression")


class MetricSums:
    """The loss and metrics of one pass over a loader, as sample-weighted means of the batch values.

    ``add`` takes one batch; ``means()`` gives ``sum_b n_b v_b / sum_b n_b`` for each value, which for a
    'mean'-reduced loss is exactly the mean over all samples (a smaller last batch counts for its size). Accuracy is
    counted instead (correct predictions, an int), one argmax of outputs already computed per batch.
    """

    def __init__(self, metrics: Sequence[tuple[str, MetricFn]], threshold: float = 0.0) -> None:
        self.metrics, self.threshold = list(metrics), threshold
        self.n = 0
        self.loss = 0.0
        self.totals: list[float] = [0] * len(self.metrics)  # correct counts (ints) for accuracy, sums of n_b v_b else

    def add(self, output: np.ndarray, target: np.ndarray, loss: float | None = None) -> None:
        n = target.shape[0]
        self.n += n
        if loss is not None:
            self.loss += loss * n
        for k, (_, fn) in enumerate(self.metrics):
            if fn is accuracy:
                self.totals[k] += correct_count(output, target, self.threshold)
            else:
                self.totals[k] += float(fn(output, target)) * n

    def means(self, with_loss: bool = True) -> dict[str, float]:
        """``{"loss": ..., "<metric>": ...}`` (no ``"loss"`` without ``with_loss``)."""
        if self.n == 0:
            raise InvalidValueError("the loader yielded no samples (is the dataset smaller than batch_size, with "
                                    "drop_last=True?)")
        values = {"loss": self.loss / self.n} if with_loss else {}
        values.update((name, total / self.n) for (name, _), total in zip(self.metrics, self.totals))
        return values


def evaluate(model: Any, loader: Iterable, loss_fn: Any = None, metrics: Sequence[Any] | None = ("accuracy",),
             return_predictions: bool = False) -> dict[str, Any]:
    """Loss and metrics of ``model`` over every batch of ``loader``, in eval mode and without recording a graph.

    Returns ``{"loss": ..., "<metric>": ..., "n": samples}``; each value is the sample-weighted mean of the batch
    values (``sum_b n_b v_b / sum_b n_b``), which for a 'mean'-reduced loss is exactly the mean over all samples.
    With ``return_predictions``, also ``"y_true"`` and ``"y_pred"`` (int64 class arrays) for a confusion matrix.
    The model's train/eval mode is restored afterwards.
    """
    threshold = binary_threshold(loss_fn)
    sums = MetricSums(resolve_metrics(metrics), threshold)
    was_training = getattr(model, "training", False)
    model.eval()
    trues, preds = [], []
    try:
        with no_grad():
            for batch in loader:
                x, y = batch[0], batch[1]
                out = model(x)
                sums.add(out.data, y.data, loss_fn(out, y).item() if loss_fn is not None else None)
                if return_predictions:
                    preds.append(predict_classes(out.data, threshold))
                    trues.append(target_classes(y.data))
    finally:
        model.train(was_training)
    result: dict[str, Any] = {**sums.means(with_loss=loss_fn is not None), "n": sums.n}
    if return_predictions:
        result["y_true"] = np.concatenate(trues)
        result["y_pred"] = np.concatenate(preds)
    return result
