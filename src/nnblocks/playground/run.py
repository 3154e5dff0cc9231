"""One playground run: the model, loss, optimizer and loaders the settings describe, and its training step.

Everything is built by the library, as ``nnblocks train`` builds it (``recipe``): ``nn.MLP`` with the recipe's seed
streams (weights from ``default_rng([seed, 1])``, dropout masks from ``[seed, 2]``, shuffling from ``[seed, 3]``),
``recipe.make_loss`` / ``make_optimizer`` / ``make_loaders`` by name, ``train.evaluate`` for the losses. So rebuilding
a run from the same settings gives the same initial weights and the same sequence of batches: that is what "reset"
does, and what the exported code repeats.

The step is ``fit``'s inner loop, one batch at a time so the page can pause between any two, plus the L1/L2 terms
of ``train.penalty`` (``fit`` has no penalty). Each epoch ends with one point of the loss curve: the train and test
losses of the current weights (eval mode, data loss only), as ``fit`` validates.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnblocks import data, nn, recipe
from nnblocks.errors import TrainingDiverged
from nnblocks.playground.dataset import Points
from nnblocks.playground.settings import MOMENTUM, Settings, SettingsError
from nnblocks.tensor import Tensor
from nnblocks.train import current_lr, evaluate
from nnblocks.train.divergence import diverged_in_training
from nnblocks.train.penalty import l1_penalty, l2_penalty

CURVE_POINTS = 400  # the loss curve keeps at most this many epochs (then every other one), so memory stays bounded
EVAL_BATCH = 512  # evaluation keeps no graph: one batch of a few hundred points is fastest


def output_and_loss(settings: Settings, points: Points) -> tuple[str, int]:
    """The loss's name and the number of outputs, or ``SettingsError`` when the output does not fit the data."""
    if points.task == "regression":
        if settings.output != "linear":
            raise SettingsError(f"output: {points.name} has real-valued targets (regression): choose the linear "
                                "output with MSE")
        return "mse", points.splits.out_features
    if settings.output == "sigmoid" and points.num_classes != 2:
        raise SettingsError(f"output: the sigmoid output (BCE) tells 2 classes apart and {points.name} has "
                            f"{points.num_classes}: choose softmax (cross-entropy) or linear (MSE)")
    return settings.loss, 1 if settings.output == "sigmoid" else points.num_classes


def recipe_config(settings: Settings, loss: str) -> recipe.TrainConfig:
    """The recipe's description of the training half of the settings (optimizer, lr, batches, seed, loss)."""
    momentum = settings.optimizer == "momentum"
    return recipe.TrainConfig(dataset=settings.dataset, optimizer="sgd" if momentum else settings.optimizer,
                              lr=settings.lr, momentum=MOMENTUM if momentum else 0.0,
                              batch_size=settings.batch_size, seed=settings.seed, loss=loss)


def build_model(settings: Settings, out_features: int) -> nn.MLP:
    """``nn.MLP`` 2 -> hidden... -> outputs, seeded as ``recipe.build_model`` seeds it."""
    return nn.MLP([2, *settings.hidden, out_features], activation=list(settings.activation),
                  dropout=settings.dropout, seed=np.random.default_rng([settings.seed, 1]),
                  dropout_seed=np.random.default_rng([settings.seed, 2]))


def add_penalties(loss: Tensor, settings: Settings, weights: list[Tensor]) -> Tensor:
    """``loss + l1 * sum|w| + l2 * sum w^2`` over the Linear layers' weights (not the biases), each term only when
    it is on (so a run without penalties computes exactly the data loss)."""
    if settings.l1:
        loss = loss + settings.l1 * l1_penalty(weights)
    if settings.l2:
        loss = loss + settings.l2 * l2_penalty(weights)
    return loss


class Curve:
    """Train and test loss per epoch, at most ``capacity`` points: when full, every other point goes and only every
    ``stride``-th epoch is kept from then on (a long run keeps its whole shape in bounded memory)."""

    def __init__(self, capacity: int = CURVE_POINTS) -> None:
        self.capacity, self.stride = capacity, 1
        self.epochs: list[int] = []
        self.train: list[float] = []
        self.test: list[float] = []

    def add(self, epoch: int, train: float, test: float) -> None:
        if epoch % self.stride:
            return
        self.epochs.append(epoch)
        self.train.append(train)
        self.test.append(test)
        if len(self.epochs) >= self.capacity:
            self.epochs, self.train, self.test = self.epochs[::2], self.train[::2], self.test[::2]
            self.stride *= 2

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epochs, "train": self.train, "test": self.test}


class Run:
    """The training objects of one run and where it is: epoch, step, the curve, the last step's gradients."""

    def __init__(self, settings: Settings, points: Points) -> None:
        self.settings, self.points = settings, points
        self.loss_name, out_features = output_and_loss(settings, points)
        self.model = build_model(settings, out_features)
        self.initial_state = self.model.state_dict()
        self.loss_fn = recipe.make_loss(self.loss_name)
        self.config = recipe_config(settings, self.loss_name)
        self.optimizer = recipe.make_optimizer(self.config, self.model.parameters())
        self.train_loader, self.test_loader, _ = recipe.make_loaders(points.splits, self.config)
        X, y = points.splits.train
        targets = recipe.targets_for_loss(y, self.loss_name, points.num_classes)
        self.train_eval_loader = data.DataLoader(data.TensorDataset(X, targets), batch_size=EVAL_BATCH)
        self.weights = [m.weight for m in self.model.modules() if isinstance(m, nn.Linear)]
        self.metrics = ("accuracy",) if points.task == "classification" else None
        self.epoch = self.step = self.batch = 0
        self._batches: Any = None
        self.curve = Curve()
        self.losses = self.evaluate()
        self.curve.add(0, self.losses["train"], self.losses["test"])
        self.grad_norms: list[dict[str, Any]] = []
        self.last_batch: tuple[Tensor, Tensor] | None = None
        self.batch_loss: float | None = None
        self.error: str | None = None

    # ---- training ---------------------------------------------------------------------------------------------------
    def objective(self, out: Tensor, target: Tensor) -> Tensor:
        """What the step minimizes: the data loss and the penalties."""
        return add_penalties(self.loss_fn(out, target), self.settings, self.weights)

    def train_step(self) -> bool:
        """One mini-batch: forward, loss, backward, optimizer step (``fit``'s order). False, with ``error`` set and
        the weights as they were, when the loss is NaN/inf."""
        if self._batches is None:
            self._batches = iter(self.train_loader)
        x, target = next(self._batches)
        self.model.train()
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # as fit: the message below says more
            loss = self.objective(self.model(x), target)
        value = loss.item()
        if not math.isfinite(value):
            exc: TrainingDiverged = diverged_in_training(None, self.epoch + 1, self.batch + 1, len(self.train_loader),
                                                         value, current_lr(self.optimizer), x, self.model)
            self.error = f"{exc} Press reset (or lower the learning rate)."
            self._batches = None
            return False
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss.backward()
        self.grad_norms = [{"name": name, "norm": float(np.linalg.norm(p.grad.astype(np.float64)))}
                           for name, p in self.model.named_parameters() if p.grad is not None]
        self.optimizer.step()
        self.step, self.batch = self.step + 1, self.batch + 1
        self.last_batch, self.batch_loss = (x, target), value
        if self.batch == len(self.train_loader):
            self._end_epoch()
        return True

    def _end_epoch(self) -> None:
        self.epoch, self.batch, self._batches = self.epoch + 1, 0, None
        self.losses = self.evaluate()
        self.curve.add(self.epoch, self.losses["train"], self.losses["test"])

    def evaluate(self) -> dict[str, float | None]:
        """Data loss (and accuracy for classes) of the current weights on the train and test points."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a loss near divergence: inf, shown
            train = evaluate(self.model, self.train_eval_loader, self.loss_fn, self.metrics)
            test = evaluate(self.model, self.test_loader, self.loss_fn, self.metrics)
        return {"train": train["loss"], "test": test["loss"],
                "train_accuracy": train.get("accuracy"), "test_accuracy": test.get("accuracy")}

    def current_batch(self) -> tuple[Tensor, Tensor]:
        """The last step's batch, or before any step the first ``batch_size`` training points (in split order)."""
        if self.last_batch is not None:
            return self.last_batch
        return next(iter(data.DataLoader(self.train_eval_loader.dataset, batch_size=self.settings.batch_size)))

    # ---- training settings changed on the fly ------------------------------------------------------------------------
    def apply_training(self, settings: Settings) -> None:
        """New lr / optimizer / batch size / penalties for the running model: the weights stay. A new optimizer
        starts with empty state; a new batch size starts a new pass over the data (the shuffling goes on)."""
        old, self.settings = self.settings, settings
        self.config = recipe_config(settings, self.loss_name)
        if old.optimizer != settings.optimizer:
            self.optimizer = recipe.make_optimizer(self.config, self.model.parameters())
        elif old.lr != settings.lr:
            for group in self.optimizer.param_groups:
                group["lr"] = settings.lr
        if old.batch_size != settings.batch_size:
            self.train_loader = data.DataLoader(self.train_loader.dataset, batch_size=settings.batch_size,
                                                shuffle=True, seed=self.train_loader.generator)
            self._batches, self.batch = None, 0
