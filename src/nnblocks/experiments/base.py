"""What an experiment is: a study declared as data (its variants, defaults and what to notice), and what a run returns.

A chapter-3 study reads like the book's table::

    Study("scaling", "Raw pixels against scaled pixels", epochs=5, variants=(
        Variant("raw", inputs=RAW, optimizer=Opt("SGD", 1e-2)),
        Variant("scaled", inputs=SCALED, optimizer=Opt("SGD", 1e-2)),
    ), notice=("...",))

Each part of a ``Variant`` is a small frozen object that both *builds* something (``MLP(...)(784, 10, seed)`` is a
model, ``Opt("Adam", 1e-3)(params)`` an optimizer, ``SCALED(X, 255)`` the inputs, ``Penalty("l2", 1e-2)(model)``
a loss term, ``Plateau()(optimizer)`` a scheduler) and *describes* itself in one line for the report. Every
variant of a study is built from the same seed, so what differs between two curves is what the variant changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from nnblocks import nn, optim
from nnblocks.errors import InvalidValueError
from nnblocks.tensor import Tensor
from nnblocks.train.penalty import l1_penalty, l2_penalty


# ---- how to run ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """The command line's choices. ``epochs=None`` means each study's default; ``subset=N`` trains on a seeded
    subset of N training samples and validates on N // 6; ``log`` receives progress lines (None: silent)."""

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    download: bool = False
    epochs: int | None = None
    subset: int | None = None
    seed: int = 0
    out: Path | None = None
    log: Callable[[str], None] | None = None
    protocol: str = "nnblocks"  # or "book": each study's BookProtocol (see PROTOCOLS)
    blas_threads: int | None = None  # BLAS threads of this process (threadpoolctl); None: leave as is

    def say(self, text: str) -> None:
        if self.log is not None:
            self.log(text)


PROTOCOLS = {
    "nnblocks": "train in train mode, validate in eval mode; training accuracy counted during the epoch; L2 squared",
    "book": "the book's notebooks: training accuracy in a second pass after each epoch, plus each study's own "
            "departures (batch norm trained in eval mode from epoch 2, dropout accuracies with dropout on, "
            "unsquared L2)",
}


@dataclass(frozen=True)
class BookProtocol:
    """How a study's notebook measures, where it differs from nnblocks' protocol (used with ``--protocol book``).

    - ``accuracy_mode``: the mode of the notebook's ``accuracy()``: ``"eval"`` (most notebooks), ``"train"``
      (dropout: no ``eval()``, so dropout stays on) or ``"as-left"`` (batch norm: whatever mode the model is in);
      the training accuracy is always a second pass over the training set after the epoch;
    - ``eval_training_from``: the 1-based epoch from which the notebook trains in eval mode (batch norm: 2, since
      ``val_loss`` calls ``eval()`` and nothing calls ``train()``);
    - ``l2_squared``: False where the notebook's L2 penalty is 0.01 * sum of unsquared norms (``torch.norm(p, 2)``).
    """

    accuracy_mode: str = "eval"
    eval_training_from: int | None = None
    l2_squared: bool = True

    def describe(self) -> list[str]:
        lines = ["training accuracy measured in a second pass over the training set after each epoch ("
                 + {"eval": "eval mode", "train": "train mode: dropout active",
                    "as-left": "in the mode training left the model in"}[self.accuracy_mode] + ")"]
        if self.accuracy_mode == "train":
            lines.append("validation accuracy also measured with dropout active (the validation loss in eval mode)")
        if self.eval_training_from is not None:
            lines.append(f"from epoch {self.eval_training_from} on the network trains in eval mode (batch norm on the "
                         "running statistics frozen after the previous epochs)")
        if not self.l2_squared:
            lines.append("L2 penalty 0.01 * sum over tensors of the unsquared norm ||p||")
        return lines


# ---- the parts of a variant ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLP:
    """The chapter's network: ``in -> [Dropout] -> Linear -> [BatchNorm1d] -> ReLU -> ... -> [Dropout] -> Linear -> out``.

    ``hidden=()`` is logistic regression (one Linear). ``hidden_bias=False`` drops the bias of the hidden Linear
    layers (redundant before a batch norm, which subtracts the batch mean anyway). The Linear layers draw their initial weights, in order, from
    one generator seeded with ``seed``; dropout masks come from a second generator, so adding dropout does not
    change the initial weights.
    """

    hidden: tuple[int, ...] = (1000,)
    batchnorm: bool = False
    dropout: float = 0.0
    hidden_bias: bool = True

    def __call__(self, n_in: int, n_out: int, seed: int) -> nn.Sequential:
        return nn.MLP((n_in, *self.hidden, n_out), activation="relu", dropout=self.dropout, batchnorm=self.batchnorm,
                      hidden_bias=self.hidden_bias, seed=np.random.default_rng(seed),
                      dropout_seed=np.random.default_rng([seed, 1]))

    def describe(self, n_in: int = 784, n_out: int = 10) -> str:
        """``784 -> Linear 1000 -> ReLU -> Linear 10``, with Dropout/BatchNorm1d where this model has them."""
        parts = [str(n_in)]
        for i, size in enumerate((*self.hidden, n_out)):
            if self.dropout:
                parts.append(f"Dropout({self.dropout:g})")
            parts.append(f"Linear {size}" + (" (no bias)" if i < len(self.hidden) and not self.hidden_bias else ""))
            if i < len(self.hidden):
                parts += ["BatchNorm1d", "ReLU"] if self.batchnorm else ["ReLU"]
        return " -> ".join(parts)


@dataclass(frozen=True)
class Opt:
    """An optimizer of ``nnblocks.optim`` by class name: ``Opt("AdamW", 1e-3, weight_decay=0.02)(params)``."""

    kind: str
    lr: float
    weight_decay: float = 0.0

    def __call__(self, params: Any) -> optim.Optimizer:
        cls = getattr(optim, self.kind)
        return cls(params, lr=self.lr, weight_decay=self.weight_decay)

    def describe(self) -> str:
        return f"{self.kind}(lr={self.lr:g}" + (f", weight_decay={self.weight_decay:g})" if self.weight_decay else ")")


@dataclass(frozen=True)
class Inputs:
    """How raw pixels become network inputs: divided by ``pixel_max * extra`` (``divide=False``: left raw).

    ``pixel_max`` is the data set's largest possible pixel (255 for the MNIST family, 16 for the 8x8 digits), so
    "scaled" means [0, 1] on every data set.
    """

    name: str
    divide: bool = True
    extra: float = 1.0

    def __call__(self, X: np.ndarray, pixel_max: float) -> np.ndarray:
        if not self.divide:
            return X.astype(np.float32, copy=False)
        return np.divide(X, np.float32(pixel_max * self.extra), dtype=np.float32)

    def describe(self, pixel_max: float = 255) -> str:
        if not self.divide:
            return f"raw pixels 0..{pixel_max:g}"
        if self.extra == 1:
            return f"pixels / {pixel_max:g} (in [0, 1])"
        return f"pixels / ({pixel_max:g} * {self.extra:g}) (in [0, {1 / self.extra:g}])"


RAW = Inputs("raw", divide=False)
SCALED = Inputs("scaled")
TINY = Inputs("tiny", extra=10_000)


@dataclass(frozen=True)
class Penalty:
    """A term added to the training loss, over every parameter tensor p, biases included, from the library's
    ``nnblocks.train.penalty``:

    - L1: ``weight * sum_p sum|p|`` (``l1_penalty``); its gradient is ``weight * sign(p)``;
    - L2 (``squared=True``): ``weight * sum_p sum p^2`` (``l2_penalty``), the squared Euclidean norm; gradient
      ``2 * weight * p``;
    - L2 (``squared=False``, the book's): ``weight * sum_p ||p||``, one unsquared norm *per tensor*, summed, as the
      notebook's ``sum(torch.norm(param, 2))``; gradient ``weight * p / ||p||`` (the same pull on every tensor,
      whatever its size; undefined at p = 0). ``l2_penalty(ps, squared=False)`` would be one norm of all the
      tensors together, a smaller number (sqrt of a sum, not a sum of square roots), so each tensor gets its own.
    """

    kind: str  # "l1" or "l2"
    weight: float
    squared: bool = True  # L2 only

    def __call__(self, model: nn.Module) -> Tensor:
        params = list(model.parameters())
        if self.kind == "l1":
            total = l1_penalty(params)
        elif self.kind == "l2" and self.squared:
            total = l2_penalty(params)
        elif self.kind == "l2":
            norms = [l2_penalty([p], squared=False) for p in params]
            total = sum(norms[1:], norms[0])
        else:
            raise InvalidValueError(f"Penalty: kind must be 'l1' or 'l2', got {self.kind!r}")
        return total * self.weight

    def describe(self) -> str:
        if self.kind == "l1":
            return f"{self.weight:g} * sum |p| over all parameters"
        if self.squared:
            return f"{self.weight:g} * sum p^2 over all parameters (squared L2)"
        return f"{self.weight:g} * sum of ||p|| over the parameter tensors (unsquared L2, the book's)"


@dataclass(frozen=True)
class Plateau:
    """``ReduceLROnPlateau`` on the validation loss: cut the rate by ``factor`` as soon as (patience 0) an epoch fails
    to beat the best validation loss by ``threshold`` (absolute), never below ``min_lr``."""

    factor: float = 0.5
    patience: int = 0
    threshold: float = 0.001
    min_lr: float = 1e-5

    def __call__(self, optimizer: optim.Optimizer, verbose: bool = False) -> Any:
        return optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.factor, patience=self.patience, threshold=self.threshold,
            threshold_mode="abs", min_lr=self.min_lr, verbose=verbose)

    def describe(self) -> str:
        return (f"ReduceLROnPlateau(val_loss, factor={self.factor:g}, patience={self.patience}, "
                f"threshold={self.threshold:g} abs, min_lr={self.min_lr:g})")


@dataclass(frozen=True)
class Variant:
    """One arm of a study. Defaults are the chapter's base setup: 784-1000-10 ReLU, Adam 1e-3, /255, batch 32."""

    name: str
    model: MLP = MLP()
    optimizer: Opt = Opt("Adam", 1e-3)
    inputs: Inputs = SCALED
    batch_size: int = 32
    penalty: Penalty | None = None
    scheduler: Plateau | None = None

    def describe(self, n_in: int, n_out: int, pixel_max: float) -> dict[str, str]:
        return {"model": self.model.describe(n_in, n_out), "optimizer": self.optimizer.describe(),
                "inputs": self.inputs.describe(pixel_max), "batch size": f"{self.batch_size:,}",
                "penalty": self.penalty.describe() if self.penalty else "none",
                "lr schedule": self.scheduler.describe() if self.scheduler else "constant"}


# ---- experiments and their results ---------------------------------------------------------------------------------
@dataclass
class VariantResult:
    """One trained variant: its per-epoch history (``History``), final numbers, and the trained model."""

    name: str
    config: dict[str, str]
    history: Any
    seconds: float
    final: dict[str, float] = field(default_factory=dict)
    diverged: str | None = None  # the divergence message when training stopped on NaN/inf
    cuts: list[tuple[int, float, float]] = field(default_factory=list)  # learning-rate cuts (epoch, old, new)
    model: Any = None

    @property
    def status(self) -> str:
        return "diverged" if self.diverged else "ok"


@dataclass
class ExperimentResult:
    """A whole study: every variant's result, where the files went, and the study's text."""

    name: str
    title: str
    description: str
    data: str  # one line describing the data used
    epochs: int
    seed: int
    variants: list[VariantResult]
    seconds: float
    notice: tuple[Any, ...] = ()  # sentences, or functions of this result returning one
    out: Path | None = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # measured observations and caveats, written in the report
    extra: dict[str, Any] = field(default_factory=dict)


class Experiment(Protocol):
    """An experiment with a procedure of its own (chapter 2's toy-sum): ``run(config, data)`` trains, measures and,
    when ``config.out`` is set, writes its report. The registry holds these and ``Study`` declarations."""

    name: str
    title: str
    chapter: int
    epochs: int
    description: str

    def run(self, config: RunConfig, data: Any = None) -> ExperimentResult: ...


@dataclass(frozen=True)
class Study:
    """A chapter-3 study: variants trained from the same seed on the same data, compared on one figure.

    A declaration only: ``runner.train_study`` trains it, ``report.write_study_outputs`` writes it down, and
    ``nnblocks.experiments.run_study`` does both. ``pictures`` adds ``"weights"`` (per-layer weight histograms of
    every variant) and/or ``"activations"`` (hidden-layer outputs on validation samples).
    """

    name: str
    title: str
    description: str
    variants: tuple[Variant, ...]
    epochs: int
    notice: tuple[Any, ...]  # sentences, or functions of the ExperimentResult returning one (computed notes)
    pictures: tuple[str, ...] = ()
    chapter: int = 3
    book_protocol: BookProtocol = BookProtocol()
    verdict: Callable[[Any], Any] | None = None  # ExperimentResult -> verdict.Verdict, beside the book's numbers

    def variants_for(self, protocol: str) -> tuple[Variant, ...]:
        """The variants as ``protocol`` trains them (the book's L2 is unsquared)."""
        if protocol != "book" or self.book_protocol.l2_squared:
            return self.variants
        return tuple(replace(v, penalty=replace(v.penalty, squared=False))
                     if v.penalty is not None and v.penalty.kind == "l2" else v for v in self.variants)
