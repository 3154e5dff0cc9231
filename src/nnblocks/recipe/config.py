"""``TrainConfig``: the description of a training run, the names it may use, and its JSON form in checkpoints."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from nnblocks import data
from nnblocks.errors import InvalidValueError
from nnblocks.recipe.cnn import PADDINGS, resolve_padding

# nn.MLP's activations but "linear": without a non-linearity, hidden layers add nothing a single Linear cannot do,
# so ``nnblocks train --activation`` does not offer it. A config still accepts it (``HIDDEN_ACTIVATIONS``), one name
# or one per hidden layer, so that it can describe the playground's networks, where seeing that is the lesson.
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu")
HIDDEN_ACTIVATIONS = ACTIVATIONS + ("linear",)
LOSSES = ("cross-entropy", "mse", "bce", "l1")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "exponential", "cosine", "plateau")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
# The settings a person chooses (one ``nnblocks train`` flag each); the rest of a config follows from the data.
RUN_KEYS = ("dataset", "label_column", "samples", "conv", "padding", "hidden", "activation", "dropout", "batchnorm",
            "loss", "optimizer", "lr", "momentum", "weight_decay", "scheduler", "batch_size", "seed", "scale",
            "val_fraction", "test_fraction")
# Named starting points for the model flags (``nnblocks train --model cnn``): the flags a preset sets, unless given.
MODELS = {"mlp": {"conv": []}, "cnn": {"conv": [64, 128], "hidden": [256]}}  # cnn: the book's chapter-4 network
KIND = "nnblocks-train"  # what a checkpoint's config says it is, so evaluate and --resume know they can rebuild it
# 2: Dropout before each Linear layer (nn.MLP's order). Configs without a version were written when
# ``nnblocks train --dropout`` put Dropout after each hidden activation; ``build_model`` rebuilds those as they were.
# 3: ``conv`` and ``padding`` (convolution blocks before the hidden layers: nn.CNN) and the data's ``input_shape``;
# ``activation`` may be a list. Configs of versions 1 and 2 have no ``conv``, so they read as MLPs, as they were.
VERSION = 3


@dataclass
class TrainConfig:
    """A training run: its data, model and optimization (the ``RUN_KEYS`` and ``epochs``), then what the data
    decided (``task`` ... ``input_shape``, filled in by ``with_data``). ``lr=None`` takes the optimizer's default,
    ``loss=None`` the task's. ``conv``: the output channels of each convolution block (``recipe.cnn``), none for an
    MLP; ``activation``: one name, or a list with one per hidden layer (MLP only). Unknown names raise
    ``InvalidValueError``."""

    dataset: str = "digits"
    label_column: str | None = None
    samples: int = 1000
    scale: str = "auto"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    conv: list[int] = field(default_factory=list)
    padding: str = "auto"
    hidden: list[int] = field(default_factory=lambda: [128])
    activation: str | list[str] = "relu"
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
    input_shape: list[int] | None = None  # (C, H, W) of the data's images; None: rows of features
    version: int = VERSION

    def __post_init__(self) -> None:
        for name, allowed in (("optimizer", OPTIMIZERS), ("scheduler", SCHEDULERS), ("scale", data.SCALINGS),
                              ("loss", LOSSES + (None,)), ("padding", PADDINGS)):
            if getattr(self, name) not in allowed:
                raise InvalidValueError(f"TrainConfig: unknown {name} {getattr(self, name)!r}; choose from "
                                        f"{', '.join(str(a) for a in allowed if a is not None)}")
        self.hidden, self.conv = [int(h) for h in self.hidden], [int(c) for c in self.conv]
        if any(c < 1 for c in self.conv):
            raise InvalidValueError(f"TrainConfig: conv {self.conv}: every block needs at least 1 output channel")
        self._check_activation()
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]

    def _check_activation(self) -> None:
        names = [self.activation] if isinstance(self.activation, str) else list(self.activation)
        unknown = [a for a in names if a not in HIDDEN_ACTIVATIONS]
        if unknown or not names:
            raise InvalidValueError(f"TrainConfig: unknown activation {self.activation!r}; choose from "
                                    f"{', '.join(HIDDEN_ACTIVATIONS)} (one name, or one per hidden layer)")
        if isinstance(self.activation, str):
            return
        self.activation = names
        if self.conv:
            raise InvalidValueError(f"TrainConfig: activation {names}: a network with conv blocks takes one "
                                    "activation name, used after every block and hidden layer")
        if len(names) != len(self.hidden):
            plural = "s" * (len(names) != 1)
            raise InvalidValueError(f"TrainConfig: activation {names} has {len(names)} name{plural} for "
                                    f"{len(self.hidden)} hidden layer(s) {self.hidden}: give one per hidden layer, "
                                    "or one name for all")

    @property
    def metrics(self) -> tuple[str, ...] | None:
        """What ``fit`` and ``evaluate`` measure besides the loss: accuracy for classification."""
        return ("accuracy",) if self.task == "classification" else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as a checkpoint stores them (with ``"kind": "nnblocks-train"``)."""
        return {**asdict(self), "kind": KIND}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> "TrainConfig":
        """The config a checkpoint stored; one without a version was written before version 2 (version 1); one
        without ``conv`` (versions 1 and 2) describes an MLP."""
        values = {k: v for k, v in stored.items() if k != "kind"}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidValueError(f"TrainConfig: unknown settings {unknown} (written by a newer nnblocks?)")
        return cls(**{"version": 1, **values})

    def with_data(self, splits: data.Splits) -> "TrainConfig":
        """This config completed by the data: the task's default loss, the widths, the classes, and with ``conv``
        the images' shape and the padding ``"auto"`` resolves to. Raises ``InvalidValueError`` when the loss does not
        fit the task, and (naming ``conv``) when ``conv`` is given for data that are not images or does not fit them
        (``images``)."""
        input_shape, padding = self.images(splits)
        task, num_classes = splits.task, splits.num_classes
        loss = self.loss or ("cross-entropy" if task == "classification" else "mse")
        if task == "regression" and loss in ("cross-entropy", "bce"):
            raise InvalidValueError(f"{loss} needs class labels, but {self.dataset} has real-valued targets; "
                                    "use mse or l1")
        if loss == "bce" and num_classes != 2:
            raise InvalidValueError(f"bce needs exactly 2 classes, {self.dataset} has {num_classes}; "
                                    "use cross-entropy")
        return replace(self, loss=loss, task=task, classes=splits.classes, num_classes=num_classes,
                       in_features=splits.in_features, out_features=1 if loss == "bce" else splits.out_features,
                       input_shape=input_shape, padding=padding)

    def images(self, splits: data.Splits) -> tuple[list[int] | None, str]:
        """``(input_shape, padding)`` for ``splits``: the data's image shape (None for rows of features) and, with
        ``conv``, the padding the blocks fit with. Raises ``InvalidValueError`` naming ``conv`` when the data are
        not images or the blocks do not fit them."""
        shape = list(splits.image_shape) if splits.image_shape is not None else None
        if not self.conv:
            return shape, self.padding
        if shape is None:
            raise InvalidValueError(f"conv {self.conv} needs images, and {data.short_name(self.dataset)} holds rows "
                                    f"of {splits.in_features} features with no image shape: convolutions run on the "
                                    f"image sets ({', '.join(data.IMAGE_SETS)}); for this data leave conv out "
                                    "(an MLP)")
        return shape, resolve_padding(self.conv, shape, self.padding)
