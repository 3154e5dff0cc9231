"""Learning-rate schedulers: change each parameter group's ``lr`` as training goes, with PyTorch's semantics.

Call ``scheduler.step()`` once per epoch, *after* ``optimizer.step()``. Creating a scheduler records each group's
starting rate as ``group["initial_lr"]`` (read back as ``scheduler.base_lrs``) and takes step 0, so
``get_last_lr()`` is the rate the first epoch will use.

The rates follow PyTorch's recursive ("chainable") formulas, step by step, so they match ``torch.optim.lr_scheduler``
to the last bit; each docstring also gives the closed form. ``state_dict()`` holds numbers, strings and lists only.
"""
from __future__ import annotations

import math
from typing import Any

from nnblocks.errors import CheckpointError, InvalidValueError
from nnblocks.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


class LRScheduler:
    """Base class: owns ``last_epoch`` (how many times ``step()`` ran; 0 after construction) and ``base_lrs``.

    Subclasses implement ``_next_lrs()``: the new rate of every group, given the rates now in the optimizer.
    """

    _state_keys: tuple[str, ...] = ()  # hyperparameters a subclass adds to state_dict()
    _per_group: tuple[str, ...] = ("base_lrs", "_last_lr")  # state lists with one entry per param group

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an nnblocks Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise InvalidValueError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' though last_epoch={last_epoch} "
                        "asks to resume; load the optimizer's state_dict first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # The constructor's step only sets last_epoch to 0 (or resumes): it keeps the optimizer's rates.
        self._initial = True
        try:
            self.step()
        finally:
            self._initial = False

    def _next_lrs(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new rates into the optimizer's param groups."""
        self._step_count += 1
        self.last_epoch += 1
        if self._initial:
            lrs = [group["lr"] for group in self.optimizer.param_groups]
        else:
            lrs = self._next_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates of the optimizer's groups as set by the last ``step()`` (a new list)."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Plain data (numbers, strings, lists): the scheduler's position and hyperparameters, not the optimizer."""
        keys = ("last_epoch", "base_lrs", "_step_count", "_last_lr") + self._state_keys
        return {key: _plain(getattr(self, key)) for key in keys}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` saved (the optimizer's rates come from the optimizer's own state_dict).

        The whole state is checked first (``check_state_dict``), so a refused state leaves the scheduler as it was.
        """
        for key, value in self._parsed(state_dict).items():
            setattr(self, key, value)

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raise the ``CheckpointError`` that ``load_state_dict(state_dict)`` would raise, changing nothing.

        (Not in PyTorch: it lets ``load_checkpoint`` check every part of a checkpoint before loading any.)
        """
        self._parsed(state_dict)

    def _parsed(self, state_dict: Any) -> dict[str, Any]:
        """The attributes ``state_dict`` restores, each of the kind its current value is (an int, a number, a string,
        a list of numbers, with one entry per param group where the scheduler keeps one per group)."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise CheckpointError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        current = self.state_dict()
        missing = sorted(set(current) - set(state_dict))
        if missing:
            raise CheckpointError(f"{name}: missing keys {missing}")
        parsed = {}
        for key, now in current.items():
            value = _from_file(state_dict[key])
            if not _same_kind(value, now):
                raise CheckpointError(f"{name}: {key!r} must be {_kind(now)}, got {value!r}")
            parsed[key] = value
        groups = len(self.optimizer.param_groups)
        for key in self._per_group:
            if len(parsed[key]) != groups:
                raise CheckpointError(f"{name}: {key!r} has {len(parsed[key])} entries, but the optimizer has {groups} "
                                      "param group(s)")
        return parsed


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def _from_file(value: Any) -> Any:
    """A saved value as ``state_dict()`` gives it: arrays and NumPy scalars (read back from a file) as Python lists
    and numbers, tuples as lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    return [_from_file(v) for v in value] if isinstance(value, (list, tuple)) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_kind(value: Any, now: Any) -> bool:
    """Whether ``value`` can stand where the scheduler now holds ``now``."""
    if isinstance(now, list):
        return isinstance(value, list) and all(
            _is_number(v) or (isinstance(v, list) and all(_is_number(x) for x in v)) for v in value)
    if isinstance(now, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(now, float):
        return _is_number(value)
    return isinstance(value, type(now))


def _kind(now: Any) -> str:
    if isinstance(now, list):
        return "a list of numbers"
    return {int: "an int", float: "a number", str: "a string"}.get(type(now), f"a {type(now).__name__}")


class StepLR(LRScheduler):
    r"""Multiply every group's rate by ``gamma`` once every ``step_size`` epochs.

    Closed form: :math:`\eta_e = \eta_0\, \gamma^{\lfloor e / \text{step\_size} \rfloor}`.
    """

    _state_keys = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size <= 0:
            raise InvalidValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    r"""Multiply every group's rate by ``gamma`` every epoch: :math:`\eta_e = \eta_0\, \gamma^{e}`."""

    _state_keys = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal each rate from its base value to ``eta_min`` along half a cosine over ``T_max`` epochs.

    Closed form: :math:`\eta_e = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})(1 + \cos(\pi e / T_{max}))`; past
    ``T_max`` the cosine keeps going (the rate climbs back), as in PyTorch. Like PyTorch this applies the
    recursive form :math:`\eta_e - \eta_{min} = (\eta_{e-1} - \eta_{min})
    \frac{1 + \cos(\pi e/T)}{1 + \cos(\pi (e-1)/T)}`, so a rate changed by hand mid-run is annealed from there.
    """

    _state_keys = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max <= 0:
            raise InvalidValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self) -> list[float]:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._step_count == 1 and e > 0:  # resumed at a later epoch: use the closed form once
            return [eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            # At the bottom of the cosine the ratio below is 0/0: climb by the first step's size instead.
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class ReduceLROnPlateau(LRScheduler):
    r"""Cut the rates by ``factor`` when a watched metric has stopped improving for more than ``patience`` epochs.

    ``step(metric)`` once per epoch (e.g. with the validation loss). A value *improves* on the best so far when

    - mode ``"min"``: ``metric < best * (1 - threshold)`` (threshold_mode ``"rel"``) or ``metric < best - threshold``
      (``"abs"``)
    - mode ``"max"``: ``metric > best * (1 + threshold)`` (``"rel"``) or ``metric > best + threshold`` (``"abs"``)

    After more than ``patience`` epochs without improvement, each rate becomes ``max(lr * factor, min_lr)`` (a change
    smaller than ``eps`` is skipped), then ``cooldown`` epochs pass in which bad epochs are not counted.

    Every cut is logged in ``self.cuts`` as ``(epoch, old_lr, new_lr)``, one entry per group cut, in group order;
    with ``verbose=True`` each cut is also printed. (torch 2.x dropped ``verbose``; nnblocks keeps it for learners.)
    Unlike torch's, this scheduler also records ``initial_lr``/``base_lrs``, like every other scheduler here.
    """

    _state_keys = (
        "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps", "best",
        "num_bad_epochs", "cooldown_counter", "cuts",
    )
    _per_group = LRScheduler._per_group + ("min_lrs",)

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
        verbose: bool = False,
    ) -> None:
        if mode not in ("min", "max"):
            raise InvalidValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise InvalidValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not factor < 1.0:
            raise InvalidValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor!r}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an nnblocks Optimizer, got {type(optimizer).__name__}")
        n_groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n_groups:
                raise InvalidValueError(f"ReduceLROnPlateau: expected {n_groups} min_lrs (one per group), got {len(min_lr)}")
            self.min_lrs = [float(m) for m in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * n_groups
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.threshold, self.eps = float(factor), float(threshold), float(eps)
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.verbose = verbose
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.cuts: list[tuple[int, float, float]] = []
        super().__init__(optimizer, last_epoch=-1)

    def _is_better(self, value: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1.0 - self.threshold) if rel else self.best - self.threshold)
        return value > (self.best * (1.0 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metrics: float | None = None) -> None:  # type: ignore[override]
        """Record one epoch's ``metrics`` value; cut the rates if it has plateaued for more than ``patience`` epochs."""
        if self._initial:  # the constructor's call: epoch 0, rates unchanged
            super().step()
            return
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step() needs the metric to watch, e.g. scheduler.step(val_loss)")
        current = float(metrics)
        self._step_count += 1
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lrs()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _reduce_lrs(self) -> None:
        if len(self.min_lrs) != len(self.optimizer.param_groups):
            raise InvalidValueError(
                f"ReduceLROnPlateau: the optimizer now has {len(self.optimizer.param_groups)} param groups but min_lrs "
                f"has {len(self.min_lrs)} entries; set scheduler.min_lrs to one value per group"
            )
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
                self.cuts.append((self.last_epoch, old_lr, new_lr))
                if self.verbose:
                    print(
                        f"Epoch {self.last_epoch}: reducing learning rate of group {i} "
                        f"from {old_lr:.4e} to {new_lr:.4e}."
                    )

    def _parsed(self, state_dict: Any) -> dict[str, Any]:
        parsed = super()._parsed(state_dict)
        if not all(isinstance(cut, list) and len(cut) == 3 for cut in parsed["cuts"]):
            raise CheckpointError(f"ReduceLROnPlateau.load_state_dict: 'cuts' must be (epoch, old_lr, new_lr) "
                                  f"triples, got {parsed['cuts']!r}")
        parsed["cuts"] = [(int(epoch), float(old), float(new)) for epoch, old, new in parsed["cuts"]]
        return parsed
