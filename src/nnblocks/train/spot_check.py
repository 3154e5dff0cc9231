"""Gradient spot checks during training: every N steps, a few weights per parameter re-derived by finite differences.

Vocabulary: a *gradient check* (``nnblocks.gradcheck``) compares every gradient element of a function with central
differences; a *spot check* is its training-time sampling: ``fit(..., check_gradients=N)`` (or ``nnblocks train
--check-gradients N``) runs a ``SpotChecker`` on the first step and every N-th step after it, between
``loss.backward()`` and ``optimizer.step()``, so the engine's gradient and the weights are exactly those of the step
being taken:

1. a float64 copy of the model is made (``copy.deepcopy(model).double()``, same train/eval mode);
2. for each parameter tensor, up to ``samples`` elements are drawn with a generator seeded by ``(seed, step)``;
3. each is nudged by ``+-eps`` in the copy and the loss is re-evaluated on the *same batch*
   (``nnblocks.gradcheck.central_differences``): two forward passes per element;
4. it is compared with the engine's float32 gradient through ``nnblocks.gradcheck.relative_error`` with the floor
   ``atol / rtol``: ``|engine - numeric| / max(|engine|, |numeric|, atol / rtol)``.

The floor is there because the engine's gradient is float32: an element that is tiny because large terms cancel
carries a rounding error of about float32's epsilon times those terms, so its *relative* error can be large although
the gradient is right. Below the floor the error is measured against the floor instead, so a relative error above
``rtol`` means ``|engine - numeric| > max(atol, rtol * scale)``: a real mismatch. Measured with the defaults on
digits (``nnblocks train --check-gradients 10``, 20 epochs, 80 checks): correct gradients reach at most 1.0e-4
(64-128-10 ReLU) and 2.4e-4 (with BatchNorm1d and Dropout 0.2), 40x below the tolerance, while a backward that is off
by a factor 2 gives 0.5.

The largest relative error of each parameter goes into ``history.spot_checks`` (one record per checked step) and a
value above ``rtol`` is reported with a ``SpotCheckWarning`` naming the layer, the parameter, the element's index and
both values.

Randomness: BatchNorm in training mode normalises with the batch's own statistics, which the same batch reproduces.
Dropout draws a new mask on every forward pass, so the masks of the training step are replayed: the checker saves
the ``nn.Dropout`` layers' generators before the training forward pass and, in the float64 copy, rewinds them before
every re-evaluation, so each layer redraws its mask (same generator state, same order, same dtype). Randomness it
cannot replay (e.g. ``F.dropout`` on the global generator inside a custom ``forward``) makes two re-evaluations of the
loss differ, or differ from the step's loss; that is detected and reported as a warning (errors recorded as NaN)
instead of as wrong gradients.

Cost: ``2 * samples`` forward passes per parameter tensor per checked step (with 5 samples and a 2-layer MLP, 40
forward passes of one batch), so a check every few hundred steps costs little; every step slows training down a lot.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.gradcheck import central_differences, relative_error
from nnblocks.tensor import Tensor, default_dtype, no_grad

DEFAULT_RTOL = 1e-2
DEFAULT_ATOL = 1e-6
DEFAULT_EPS = 1e-6
DEFAULT_SAMPLES = 5
# The loss re-evaluated in float64 must equal the step's float32 loss to this relative precision, or the forward
# pass is not being reproduced (unreplayed randomness) and the finite differences would check another function.
REPRODUCE_RTOL = 1e-4


class SpotCheckWarning(UserWarning):
    """The engine's gradient of a weight disagrees with a float64 finite difference (or the check cannot be made)."""


@dataclass(frozen=True)
class ParameterSpotCheck:
    """One parameter tensor at one step: its largest relative error over the sampled elements, and where."""

    name: str
    layer: str
    kind: str
    max_rel_error: float
    index: tuple[int, ...]
    engine: float
    numeric: float


class _DropoutReplay:
    """The dropout generators as they were before the training step's forward pass, rewound before each re-run.

    Several Dropout modules may share one generator (drawing one after the other in the forward pass), so the
    generators are saved once each and rewound together; each module then draws from its own (possibly shared) one
    in forward order, exactly as in the training step.
    """

    def __init__(self, model: Any) -> None:
        from nnblocks.nn import Dropout

        self.saved: dict[int, np.random.Generator] = {}
        self.owner: dict[str, int] = {}  # module name -> key of its generator
        for name, m in model.named_modules():
            if isinstance(m, Dropout) and m.training and 0 < m.p:
                self.saved.setdefault(id(m.rng), copy.deepcopy(m.rng))
                self.owner[name] = id(m.rng)
        self.current: dict[int, np.random.Generator] = {}

    def rewind(self) -> None:
        self.current = {key: copy.deepcopy(g) for key, g in self.saved.items()}

    def install(self, model64: Any, dtype: np.dtype) -> None:
        """Make the copy's Dropout modules draw from the rewound generators (with the training step's dtype)."""
        for name, m in model64.named_modules():
            if name in self.owner:
                # an instance attribute shadows the class's forward for this copy only (Module.__call__ calls it)
                object.__setattr__(m, "forward", _ReplayDropout(m, self, self.owner[name], dtype))


class _ReplayDropout:
    """Stands in for an ``nn.Dropout.forward`` in the float64 copy: redraws the training step's mask."""

    def __init__(self, module: Any, replay: _DropoutReplay, key: int, dtype: np.dtype) -> None:
        self.module, self.replay, self.key, self.dtype = module, replay, key, dtype

    def __call__(self, x: Tensor) -> Tensor:
        p = self.module.p
        if p == 1:
            return x * 0.0
        # the same draw nn.Dropout made: same generator state, same shape, same dtype as the float32 forward pass
        keep = self.replay.current[self.key].random(x.shape, dtype=self.dtype) >= p
        return x * (keep * np.asarray(1 / (1 - p), dtype=x.dtype))


class SpotChecker:
    """Spot-checks the engine's gradients against float64 central differences on the first step and every ``every``.

    Args:
        every: check steps 1, 1 + every, 1 + 2 every, ... (counted over the whole run, across epochs).
        samples: elements checked per parameter tensor (all of them if the tensor is smaller).
        rtol, atol: an element fails when its relative error (see the module docstring) exceeds ``rtol``.
        eps: the finite-difference step, applied in float64.
        seed: seeds the choice of elements (with the step number), so a run checks the same weights every time.
    """

    def __init__(self, every: int, samples: int = DEFAULT_SAMPLES, rtol: float = DEFAULT_RTOL,
                 atol: float = DEFAULT_ATOL, eps: float = DEFAULT_EPS, seed: int = 0) -> None:
        for name, value in (("every", every), ("samples", samples)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidValueError(f"SpotChecker: {name} must be an int >= 1, got {value!r}")
        if not (rtol > 0 and atol > 0 and eps > 0):
            raise InvalidValueError(f"SpotChecker: rtol, atol and eps must be > 0, got {rtol}, {atol}, {eps}")
        self.every, self.samples = int(every), int(samples)
        self.rtol, self.atol, self.eps, self.seed = float(rtol), float(atol), float(eps), int(seed)
        self.step = 0  # optimizer steps counted so far (1-based once the first one starts)
        self._replay: _DropoutReplay | None = None
        self.last: list[ParameterSpotCheck] = []  # the per-parameter details of the latest check

    # ---- the two hooks fit calls --------------------------------------------------------------------------------
    def start_step(self, model: Any) -> bool:
        """Count a new training step; if it is to be checked, save the dropout generators and return True.

        Call it before the step's forward pass."""
        self.step += 1
        if (self.step - 1) % self.every:
            return False
        self._replay = _DropoutReplay(model)
        return True

    def check(self, model: Any, loss_fn: Any, x: Any, y: Any, loss_value: float | None = None,
              epoch: int | None = None) -> dict[str, Any]:
        """Compare the gradients now in ``model``'s parameters with float64 finite differences on batch ``(x, y)``.

        Returns the record appended to ``history.spot_checks``: ``{"step", "epoch", "errors": {name: max rel
        error}}`` (plus ``"note"`` when the check could not reproduce the step). Warns ``SpotCheckWarning``
        for every parameter whose worst element exceeds ``rtol``.
        """
        params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        replay = self._replay if self._replay is not None else _DropoutReplay(model)  # (unsaved: current state)
        self._replay = None
        model64, params64 = self._float64_copy(model, replay)
        x64, y64 = _as_float64(x), _as_float64(y)
        rng = np.random.default_rng([self.seed, self.step])
        layers = _layer_names(model)
        where = f"step {self.step}" + (f" (epoch {epoch})" if epoch is not None else "")

        def loss() -> float:
            replay.rewind()
            with no_grad():
                return float(loss_fn(model64(x64), y64).item())

        record: dict[str, Any] = {"step": self.step, "epoch": epoch, "errors": {}}
        checks: list[ParameterSpotCheck] = []
        with default_dtype(np.float64):
            base, again = loss(), loss()
            if base != again:
                record["note"] = (f"float64 re-evaluations give different losses ({base:.8g}, {again:.8g}): the "
                                  "forward pass draws randomness the check cannot replay")
            elif loss_value is not None and not abs(base - loss_value) <= REPRODUCE_RTOL * max(1.0, abs(loss_value)):
                record["note"] = (f"float64 re-evaluation gives loss {base:.8g}, the step had {loss_value:.8g}: the "
                                  "forward pass is not reproduced (randomness the check cannot replay?)")
            if "note" in record:
                warnings.warn(SpotCheckWarning(
                    f"gradient spot check at {where} skipped: {record['note']}. Gradient errors cannot be measured for "
                    "this model in training mode (use nn.Dropout modules, or check in eval mode)."), stacklevel=3)
                record["errors"] = {name: float("nan") for name, _ in params}
                return record
            for name, p in params:
                size = params64[name].data.size
                picks = rng.choice(size, size=min(self.samples, size), replace=False)
                numeric = central_differences(loss, params64[name].data, self.eps, picks)
                grad = np.zeros(p.shape) if p.grad is None else p.grad.data
                engine = grad.reshape(-1)[picks].astype(np.float64)
                err = relative_error(engine, numeric, self.atol / self.rtol)
                worst = int(np.argmax(err))
                index = tuple(int(i) for i in np.unravel_index(int(picks[worst]), p.shape))
                layer, kind = layers.get(name, ("", type(model).__name__))
                checks.append(ParameterSpotCheck(name, layer, kind, float(err[worst]), index, float(engine[worst]),
                                             float(numeric[worst])))
        for c in checks:
            record["errors"][c.name] = c.max_rel_error
            if not c.max_rel_error <= self.rtol:
                warnings.warn(SpotCheckWarning(
                    f"gradient spot check at {where}: layer {c.layer or '(model)'!r} ({c.kind}), parameter {c.name!r} "
                    f"at index {c.index}: engine gradient {c.engine:.6g}, float64 finite difference {c.numeric:.6g} "
                    f"(relative error {c.max_rel_error:.3g} > tolerance {self.rtol:g}). The backward of an op "
                    "in this layer (or after it) is likely wrong."), stacklevel=3)
        self.last = checks
        return record

    # ---- helpers ------------------------------------------------------------------------------------------------
    @staticmethod
    def _float64_copy(model: Any, replay: _DropoutReplay) -> tuple[Any, dict[str, Any]]:
        """A float64 deep copy in the same mode, its Dropout modules replaying the saved masks."""
        dtype = next((np.dtype(p.dtype) for p in model.parameters()), np.dtype(np.float32))
        model64 = copy.deepcopy(model).double()
        replay.install(model64, dtype)
        return model64, dict(model64.named_parameters())


def _as_float64(v: Any) -> Any:
    """Float data as a float64 constant tensor; class indices stay as they are."""
    data = v.data if isinstance(v, Tensor) else np.asarray(v)
    if data.dtype.kind == "f":
        return Tensor(data.astype(np.float64))
    return v if isinstance(v, Tensor) else Tensor(data)


def _layer_names(model: Any) -> dict[str, tuple[str, str]]:
    """Parameter name -> (name of the module holding it, that module's class), e.g. '0.weight' -> ('0', 'Linear')."""
    out = {}
    for module_name, module in model.named_modules():
        for pname, p in module._parameters.items():
            if p is not None:
                full = f"{module_name}.{pname}" if module_name else pname
                out.setdefault(full, (module_name, type(module).__name__))
    return out


def as_spot_checker(check_gradients: int | SpotChecker | None, steps_done: int = 0) -> SpotChecker | None:
    """``fit``'s ``check_gradients`` argument as a spot checker: None/0 = no checks, an int N = every N steps.

    ``steps_done``: the optimizer steps a resumed run has already taken, so that it keeps checking the steps an
    uninterrupted run would check.
    """
    if check_gradients is None or isinstance(check_gradients, SpotChecker):
        checker = check_gradients
    elif isinstance(check_gradients, bool) or not isinstance(check_gradients, (int, np.integer)) or check_gradients < 0:
        raise InvalidValueError(f"fit: check_gradients must be an int >= 0 (check every N steps) or a SpotChecker, "
                                f"got {check_gradients!r}")
    else:
        checker = SpotChecker(int(check_gradients)) if check_gradients else None
    if checker is not None and steps_done:
        checker.step = steps_done
    return checker


def summarize(spot_checks: list[dict[str, Any]]) -> dict[str, float]:
    """The largest relative error each parameter reached over all spot-checked steps (NaN entries ignored)."""
    worst: dict[str, float] = {}
    for record in spot_checks:
        for name, err in record["errors"].items():
            if err == err:  # not NaN
                worst[name] = max(worst.get(name, 0.0), float(err))
    return worst
