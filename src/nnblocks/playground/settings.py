"""What the page may choose, checked: the playground's ``Settings``, its caps (``Limits``) and the choices offered.

The page sends settings as JSON (all of them or only the changed ones); ``Settings.updated`` checks every value and
raises ``SettingsError`` with a message naming the setting, which the server answers with a 400. The names and
ranges the page builds its controls from come from ``options(limits)``: one table, here.

Three kinds of settings, by what a change rebuilds:

- data (``DATA_KEYS``): new points and split, then a new model;
- model (``MODEL_KEYS``): a new model on the same points (the same ``seed`` gives the same initial weights);
- training (the rest): applied on the fly to the running model (a new optimizer or loader where needed).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from nnblocks.errors import NNBlocksError
from nnblocks.nn.mlp import ACTIVATIONS as MLP_ACTIVATIONS

# The page's names of the data sets -> the toy set (``nnblocks.data``) they draw; "upload" is the user's CSV file.
DATASETS = ("circles", "xor", "blobs", "spirals", "moons", "plane", "upload")
CLASSED = ("blobs", "spirals")  # the sets whose number of classes is a setting
HIDDEN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "leaky_relu")
# Output layer -> the loss that belongs to it (the softmax and the sigmoid live inside the fused losses, applied to
# the logits: nn.CrossEntropyLoss and nn.BCEWithLogitsLoss, as in PyTorch).
OUTPUTS = {"softmax": "cross-entropy", "sigmoid": "bce", "linear": "mse"}
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9  # what "momentum" means: SGD with this momentum, PyTorch's and the book's usual value
LEARNING_RATES = (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)

DATA_KEYS = ("dataset", "classes", "samples", "noise", "test_share", "data_seed")
MODEL_KEYS = ("hidden", "activation", "output", "dropout", "seed")


class SettingsError(NNBlocksError, ValueError):
    """A setting the playground cannot take; the message names it and says what is allowed."""


@dataclass(frozen=True)
class Limits:
    """Caps that keep one session small and the server responsive; ``nnblocks playground`` flags raise them."""

    max_layers: int = 6
    max_neurons: int = 16
    max_samples: int = 2000
    max_classes: int = 6
    max_upload_bytes: int = 1_000_000
    max_upload_rows: int = 5000
    max_sessions: int = 16


@dataclass(frozen=True)
class Settings:
    """One playground run: data, model, training, seeds. Defaults: circles (the gentlest start), two tanh layers of
    8, softmax with cross-entropy, SGD at 0.03 on batches of 10."""

    dataset: str = "circles"
    classes: int = 2
    samples: int = 400
    noise: float = 0.2
    test_share: float = 0.5
    data_seed: int = 0
    hidden: tuple[int, ...] = (8, 8)
    activation: tuple[str, ...] = ("tanh", "tanh")
    output: str = "softmax"
    dropout: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    batch_size: int = 10
    optimizer: str = "sgd"
    lr: float = 0.03
    seed: int = 0

    @property
    def loss(self) -> str:
        return OUTPUTS[self.output]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {**d, "hidden": list(self.hidden), "activation": list(self.activation)}

    def updated(self, changes: Any, limits: Limits) -> "Settings":
        """These settings with ``changes`` (a JSON object of some of the fields) applied, every value checked."""
        if not isinstance(changes, dict):
            raise SettingsError(f"settings must be a JSON object, got {type(changes).__name__}")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s) {unknown}; the settings are {sorted(known)}")
        values = {key: _CHECKS[key](key, value, limits) for key, value in changes.items()}
        if "hidden" in values and "activation" not in values:  # a new layer takes the last layer's activation
            old = self.activation or ("tanh",)
            values["activation"] = tuple(old[i] if i < len(old) else old[-1] for i in range(len(values["hidden"])))
        new = replace(self, **values)
        if len(new.activation) != len(new.hidden):
            raise SettingsError(f"activation: one per hidden layer: {len(new.hidden)} layer(s) {list(new.hidden)} "
                                f"but {len(new.activation)} activation(s) {list(new.activation)}")
        return new

    def changed(self, other: "Settings") -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}


# ---- one check per setting -------------------------------------------------------------------------------------------
def _number(key: str, value: Any, low: float, high: float, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "a whole number" if integer else "a number"
        raise SettingsError(f"{key}: expected {what} in [{low:g}, {high:g}], got {value!r}")
    return int(value) if integer else float(value)


def _choice(key: str, value: Any, allowed: tuple[str, ...] | dict) -> str:
    if value not in allowed:
        raise SettingsError(f"{key}: unknown value {value!r}; choose from {', '.join(allowed)}")
    return value


def _hidden(key: str, value: Any, limits: Limits) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > limits.max_layers:
        raise SettingsError(f"{key}: expected a list of at most {limits.max_layers} layer widths, got {value!r}")
    return tuple(_number(f"{key}[{i}]", v, 1, limits.max_neurons, integer=True) for i, v in enumerate(value))


def _activation(key: str, value: Any, limits: Limits) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > limits.max_layers:
        raise SettingsError(f"{key}: expected a list with one activation per hidden layer, got {value!r}")
    return tuple(_choice(f"{key}[{i}]", v, HIDDEN_ACTIVATIONS) for i, v in enumerate(value))


_CHECKS = {
    "dataset": lambda k, v, lim: _choice(k, v, DATASETS),
    "classes": lambda k, v, lim: _number(k, v, 2, lim.max_classes, integer=True),
    "samples": lambda k, v, lim: _number(k, v, 20, lim.max_samples, integer=True),
    "noise": lambda k, v, lim: _number(k, v, 0.0, 1.0),
    "test_share": lambda k, v, lim: _number(k, v, 0.1, 0.9),
    "data_seed": lambda k, v, lim: _number(k, v, 0, 2**31 - 1, integer=True),
    "hidden": _hidden,
    "activation": _activation,
    "output": lambda k, v, lim: _choice(k, v, OUTPUTS),
    "dropout": lambda k, v, lim: _number(k, v, 0.0, 0.9),
    "l1": lambda k, v, lim: _number(k, v, 0.0, 1.0),
    "l2": lambda k, v, lim: _number(k, v, 0.0, 1.0),
    "batch_size": lambda k, v, lim: _number(k, v, 1, lim.max_samples, integer=True),
    "optimizer": lambda k, v, lim: _choice(k, v, OPTIMIZERS),
    "lr": lambda k, v, lim: _number(k, v, 1e-6, 10.0),
    "seed": lambda k, v, lim: _number(k, v, 0, 2**31 - 1, integer=True),
}
assert set(_CHECKS) == {f.name for f in fields(Settings)}
assert set(HIDDEN_ACTIVATIONS) <= set(MLP_ACTIVATIONS), "every hidden activation offered must be one nn.MLP takes"


@dataclass(frozen=True)
class Options:
    """What the page offers: choices, caps and the defaults, as JSON (``GET /api/options``)."""

    limits: Limits = field(default_factory=Limits)

    def to_dict(self) -> dict[str, Any]:
        return {"datasets": list(DATASETS), "classed": list(CLASSED), "activations": list(HIDDEN_ACTIVATIONS),
                "outputs": dict(OUTPUTS), "optimizers": list(OPTIMIZERS), "learning_rates": list(LEARNING_RATES),
                "limits": asdict(self.limits), "defaults": Settings().to_dict()}
