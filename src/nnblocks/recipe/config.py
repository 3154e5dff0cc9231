"""``TrainConfig``: the description of a training run, the names it may use, and its JSON form in checkpoints."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from nnblocks import data
from nnblocks.errors import InvalidValueError

# nn.MLP's activations but "linear": without a non-linearity, hidden layers add nothing a single Linear cannot do.
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu")
LOSSES = ("cross-entropy", "mse", "bce", "l1")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "exponential", "cosine", "plateau")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
# The settings a person chooses (one ``nnblocks train`` flag each); the rest of a config follows from the data.
RUN_KEYS = ("dataset", "label_column", "samples", "hidden", "activation", "dropout", "batchnorm", "loss", "optimizer",
            "lr", "momentum", "weight_decay", "scheduler", "batch_size", "seed", "scale", "val_fraction",
            "test_fraction")
KIND = "nnblocks-train"  # what a checkpoint's config says it is, so evaluate and --resume know they can rebuild it
# 2: Dropout before each Linear layer (nn.MLP's order). Configs without a version were written when
# ``nnblocks train --dropout`` put Dropout after each hidden activation; ``build_model`` rebuilds those as they were.
VERSION = 2


@dataclass
class TrainConfig:
    """A training run: its data, model and optimization (the ``RUN_KEYS`` and ``epochs``), then what the data
    decided (``task`` ... ``out_features``, filled in by ``with_data``). ``lr=None`` takes the optimizer's default,
    ``loss=None`` the task's. Unknown names raise ``InvalidValueError``."""

    dataset: str = "digits"
    label_column: str | None = None
    samples: int = 1000
    scale: str = "auto"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    hidden: list[int] = field(default_factory=lambda: [128])
    activation: str = "relu"
    dropout: float = 0.0
    batchnorm: bool = False
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.0
    weight_decay: float = 0.0
    scheduler: str = "none"
    batch_size: int = 32
    epochs: int = 20
    seed: int = 0
    task: str | None = None
    classes: list[str] | None = None
    num_classes: int | None = None
    in_features: int | None = None
    out_features: int | None = None
    version: int = VERSION

    def __post_init__(self) -> None:
        for name, allowed in (("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS), ("scheduler", SCHEDULERS),
                              ("scale", data.SCALINGS), ("loss", LOSSES + (None,))):
            if getattr(self, name) not in allowed:
                raise InvalidValueError(f"TrainConfig: unknown {name} {getattr(self, name)!r}; choose from "
                                        f"{', '.join(str(a) for a in allowed if a is not None)}")
        self.hidden = [int(h) for h in self.hidden]
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]

    @property
    def metrics(self) -> tuple[str, ...] | None:
        """What ``fit`` and ``evaluate`` measure besides the loss: accuracy for classification."""
        return ("accuracy",) if self.task == "classification" else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as a checkpoint stores them (with ``"kind": "nnblocks-train"``)."""
        return {**asdict(self), "kind": KIND}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> "TrainConfig":
        """The config a checkpoint stored; one without a version was written before version 2 (version 1)."""
        values = {k: v for k, v in stored.items() if k != "kind"}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidValueError(f"TrainConfig: unknown settings {unknown} (written by a newer nnblocks?)")
        return cls(**{"version": 1, **values})

    def with_data(self, splits: data.Splits) -> "TrainConfig":
        """This config completed by the data: the task's default loss, the widths, the classes. Raises
        ``InvalidValueError`` when the loss does not fit the task."""
        task, num_classes = splits.task, splits.num_classes
        loss = self.loss or ("cross-entropy" if task == "classification" else "mse")
        if task == "regression" and loss in ("cross-entropy", "bce"):
            raise InvalidValueError(f"{loss} needs class labels, but {self.dataset} has real-valued targets; "
                                    "use mse or l1")
        if loss == "bce" and num_classes != 2:
            raise InvalidValueError(f"bce needs exactly 2 classes, {self.dataset} has {num_classes}; "
                                    "use cross-entropy")
        return replace(self, loss=loss, task=task, classes=splits.classes, num_classes=num_classes,
                       in_features=splits.in_features, out_features=1 if loss == "bce" else splits.out_features)
