"""What a ``TrainConfig``'s names mean: its data, model, loss, optimizer, scheduler and loaders.

Every random draw comes from ``config.seed``, each from its own stream so that one setting does not shift another:
the split (and a toy set's points) from ``seed``; the Conv2d and Linear weights, in layer order, from
``default_rng([seed, 1])``; the dropout masks from ``default_rng([seed, 2])`` (adding dropout leaves the initial
weights as they were); the shuffling from ``default_rng([seed, 3])``.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from nnblocks import data, nn, optim
from nnblocks.errors import InvalidValueError
from nnblocks.optim import lr_scheduler
from nnblocks.recipe import cnn
from nnblocks.recipe.config import TrainConfig


# ---- data ------------------------------------------------------------------------------------------------------------
def load_data(config: TrainConfig, data_dir: str | None = None, download: bool = False,
              scaling_state: dict[str, Any] | None = None) -> data.Splits:
    """The run's train/validation/test splits, scaled (``scaling_state``: a checkpoint's, instead of fitting)."""
    return data.prepare(config.dataset, split=data.SplitPlan(config.val_fraction, config.test_fraction),
                        scale=config.scale, seed=config.seed, samples=config.samples,
                        label_column=config.label_column, data_dir=data_dir, download=download,
                        scaling_state=scaling_state)


def targets_for_loss(y: np.ndarray, loss: str, num_classes: int) -> np.ndarray:
    """Class indices as the loss wants them: indices (cross-entropy), a 0/1 column (bce), one-hot (mse, l1);
    regression targets as they are."""
    if y.dtype.kind == "f" or loss == "cross-entropy":
        return y
    if loss == "bce":
        return y.astype(np.float32).reshape(-1, 1)
    return np.eye(num_classes, dtype=np.float32)[y]


def make_loaders(splits: data.Splits,
                 config: TrainConfig) -> tuple[data.DataLoader, data.DataLoader, data.DataLoader | None]:
    """Training (shuffled, seeded), validation and test loaders (None without a test part), with the targets the
    loss wants."""
    def loader(part: tuple[np.ndarray, np.ndarray], **options: Any) -> data.DataLoader:
        X, y = part
        return data.DataLoader(data.TensorDataset(X, targets_for_loss(y, config.loss, splits.num_classes)), **options)

    big = max(config.batch_size, 512)  # evaluation keeps no graph: bigger batches are faster and give the same
    return (loader(splits.train, batch_size=config.batch_size, shuffle=True,
                   seed=np.random.default_rng([config.seed, 3])),
            loader(splits.val, batch_size=big),
            loader(splits.test, batch_size=big) if splits.test is not None else None)


# ---- model, loss, optimizer, scheduler -------------------------------------------------------------------------------
def build_model(config: TrainConfig) -> nn.Sequential:
    """The network a config describes: with ``conv``, ``nn.CNN`` (the convolution blocks of ``recipe.cnn``, then
    ``hidden`` and the outputs); else the MLP ``in_features -> hidden... -> out_features`` in ``nn.MLP``'s order."""
    if config.in_features is None or config.out_features is None or (config.conv and config.input_shape is None):
        raise InvalidValueError("build_model: the config does not know its input and output sizes yet; "
                                "complete it with config.with_data(splits) first")
    if config.conv:
        padding = cnn.resolve_padding(config.conv, config.input_shape, config.padding)
        return nn.CNN(config.input_shape, channels=config.conv, hidden=config.hidden, out=config.out_features,
                      kernel_size=cnn.KERNEL, padding=0 if padding == "valid" else "same", pool=cnn.POOL,
                      activation=config.activation, batchnorm=config.batchnorm, dropout=config.dropout,
                      seed=np.random.default_rng([config.seed, 1]),
                      dropout_seed=np.random.default_rng([config.seed, 2]))
    version1_dropout = config.version < 2 and config.dropout > 0
    model = nn.MLP([config.in_features, *config.hidden, config.out_features], activation=config.activation,
                   dropout=0.0 if version1_dropout else config.dropout, batchnorm=config.batchnorm,
                   seed=np.random.default_rng([config.seed, 1]), dropout_seed=np.random.default_rng([config.seed, 2]))
    return _dropout_after_activations(model, config) if version1_dropout else model


# Copies of the parameters a step keeps, per optimizer: weights and gradients, plus the momentum buffer (SGD, one) or
# the two moments of Adam/AdamW/RMSprop and one update scratch array. Activations: each layer's output is kept for
# backward, with its gradient and an activation's input or mask beside it: about 4 arrays of batch x width.
STATE_COPIES = {"sgd": 3, "adam": 5, "adamw": 5, "rmsprop": 5}
ACTIVATION_COPIES = 4


def estimate_bytes(config: TrainConfig) -> int:
    """Roughly how much memory training ``config``'s model takes in float32: the parameters with the optimizer's
    state, and one batch's activations (the data itself not counted). For refusing a network that cannot fit
    before allocating it, not for accounting. With ``conv``, the blocks' weights and maps too (``cnn.conv_cost``)."""
    conv_params, conv_values, flat = 0, 0, config.in_features or 0
    if config.conv and config.input_shape is not None:
        padding = cnn.resolve_padding(config.conv, config.input_shape, config.padding)
        conv_params, conv_values, flat = cnn.conv_cost(config.conv, config.input_shape, padding, config.batchnorm)
    widths = [flat, *config.hidden, config.out_features or 0]
    batchnorm = 4 * sum(config.hidden) if config.batchnorm and not config.conv else 0  # a CNN's head has none
    params = conv_params + sum(a * b + b for a, b in zip(widths, widths[1:])) + batchnorm
    values = conv_values + ACTIVATION_COPIES * sum(widths)
    return 4 * (STATE_COPIES[config.optimizer] * params + config.batch_size * values)


def _dropout_after_activations(model: nn.MLP, config: TrainConfig) -> nn.Sequential:
    """A version-1 run's network: a Dropout after each hidden activation (so before every Linear layer but the
    first), each with its own mask generator, as ``nnblocks train`` built it then; its checkpoints load and resume."""
    layers: list[nn.Module] = []
    for module in model:
        if isinstance(module, nn.Linear) and layers:
            hidden = sum(isinstance(m, nn.Linear) for m in layers) - 1
            layers.append(nn.Dropout(config.dropout, seed=np.random.default_rng([config.seed, 2, hidden])))
        layers.append(module)
    return nn.Sequential(*layers)


def make_loss(name: str) -> nn.Module:
    """``cross-entropy`` (logits, class indices), ``mse``, ``bce`` (one logit: BCEWithLogitsLoss), ``l1``."""
    losses = {"cross-entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss, "l1": nn.L1Loss}
    return losses[name]()


def make_optimizer(config: TrainConfig, params: Iterable[Any]) -> optim.Optimizer:
    """The config's optimizer with its lr and weight decay (and momentum for sgd and rmsprop; Adam's running
    average of gradients plays that role)."""
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    return {"adam": optim.Adam, "adamw": optim.AdamW}[config.optimizer](params, lr=lr, weight_decay=wd)


def schedule_span(config: TrainConfig) -> int | None:
    """The number of epochs a run-length schedule is cut to: StepLR's ``step_size`` (a third of the run) for
    ``step``, CosineAnnealingLR's ``T_max`` (the run) for ``cosine``; None for the schedules that do not depend on
    the run's length. Two runs with the same span follow the same learning rates epoch by epoch, so a run resumed to
    a new total continues exactly as a run of that total would only when the span stays the same."""
    epochs = max(int(config.epochs), 1)
    return {"step": max(1, epochs // 3), "cosine": epochs}.get(config.scheduler)


def make_scheduler(config: TrainConfig, optimizer: optim.Optimizer) -> Any:
    """``step``: x0.1 every third of the run; ``exponential``: x0.95 per epoch; ``cosine``: to 0 over the run;
    ``plateau``: x0.1 when the validation loss stalls 3 epochs; ``none``: None."""
    span = schedule_span(config)
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=span, gamma=0.1)
    if config.scheduler == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=span)
    if config.scheduler == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=3)
    return None
