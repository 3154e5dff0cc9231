"""The training loop, its history, metrics, callbacks and checkpoints.

- ``fit(model, loss_fn, optimizer, train_loader, val_loader, epochs, ...) -> History``: the loop, written once;
  ``TrainingDiverged`` when its loss becomes NaN/inf, ``SpotChecker`` for its gradient spot checks.
- ``History``: per-epoch losses, metrics and learning rates; ``to_csv`` / ``to_json`` / ``from_json``.
- ``accuracy``, ``confusion_matrix``, ``evaluate``, ``MetricSums``: measuring a model.
- ``Callback``, ``EarlyStopping``, ``LRSchedulerCallback``, ``ModelCheckpoint``: hooks into the loop.
- ``save_checkpoint`` / ``load_checkpoint``: a whole run in one ``.npz``, written atomically, read without pickle.
"""
from nnblocks.errors import TrainingDiverged
from nnblocks.train.callbacks import Callback, EarlyStopping, LRSchedulerCallback, ModelCheckpoint, TrainingContext
from nnblocks.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    loader_generators,
    model_generators,
    read_checkpoint,
    save_checkpoint,
)
from nnblocks.train.fit import current_lr, fit
from nnblocks.train.history import History
from nnblocks.train.metrics import MetricSums, accuracy, confusion_matrix, evaluate, predict_classes
from nnblocks.train.spot_check import SpotChecker, SpotCheckWarning

__all__ = [
    "fit", "TrainingDiverged", "SpotChecker", "SpotCheckWarning", "current_lr", "History",
    "accuracy", "confusion_matrix", "evaluate", "predict_classes", "MetricSums",
    "Callback", "TrainingContext", "EarlyStopping", "LRSchedulerCallback", "ModelCheckpoint",
    "save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "loader_generators", "model_generators",
]
