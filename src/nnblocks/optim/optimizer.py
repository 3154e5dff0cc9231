"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

An optimizer holds the tensors it updates in *parameter groups*: dicts with a ``"params"`` list and the
hyperparameters of that group (``lr``, ``momentum``...), so one model can train its layers at different rates.
``step()`` reads each parameter's gradient ``p.grad`` (a Tensor, or None when the parameter got no gradient) as its
array, ``p.grad.data``, and updates ``p.data`` **in place**: models, checkpoints and users keep references to those
arrays.

The gradient is treated as read-only (a user may hold it, or have made it with ``p.grad = ...``); every intermediate
goes into arrays the optimizer owns (its state, or a scratch buffer).

Where nnblocks differs from PyTorch, on purpose:
- ``state_dict()`` holds only NumPy arrays, numbers, strings, lists and dicts (tuples such as ``betas`` become
  lists), and its arrays are copies, so a checkpoint taken now does not change as training goes on.
"""
from __future__ import annotations

import copy
import numbers
from typing import Any, Callable, Iterable

import numpy as np

from nnblocks.autograd import DeferredGradient, clear_grad
from nnblocks.errors import CheckpointError, DTypeError, InvalidValueError, ShapeError
from nnblocks.ops import blas
from nnblocks.tensor import Tensor, enable_grad

__all__ = ["Optimizer", "add_scaled_", "axpy_", "check_nonnegative"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]

# Blocked update for large arrays: NumPy cannot fuse ``target += alpha * x`` into one pass, so a whole-size
# temporary costs an extra trip through main memory (and page faults). Working in blocks of 64K elements keeps the
# temporary in cache, which made the update ~1.5-2x faster on 16M float32 elements; below ~2M elements the per-block
# Python overhead costs more than it saves, so small arrays take the plain path.
_BLOCK = 1 << 16
_BLOCKED_ABOVE = 1 << 21


def add_scaled_(target: np.ndarray, x: np.ndarray, alpha: float, scratch: np.ndarray | None = None) -> None:
    """``target += alpha * x`` in place (an axpy), without allocating a temporary the size of ``target``.

    ``scratch``, an array of ``target``'s shape and dtype that the caller owns (``Optimizer._scratch_like``), holds
    ``alpha * x``; without it, large arrays are updated in cache-sized blocks. Why it matters: a fresh temporary of a
    weight's size every step is a trip through main memory, and glibc may return it to the OS on free and
    page-fault it back on the next step. ``alpha`` should be a Python float: under NumPy's promotion rules (NEP 50)
    it then never upcasts a float32 ``target``.
    """
    if scratch is not None and scratch.shape == target.shape:
        np.multiply(x, alpha, out=scratch)
        target += scratch
        return
    if target.size <= _BLOCKED_ABOVE or x.shape != target.shape or not (
        target.flags.c_contiguous and x.flags.c_contiguous
    ):
        target += x * alpha
        return
    flat_t, flat_x = target.reshape(-1), x.reshape(-1)  # views: both are C-contiguous
    block = np.empty(_BLOCK, dtype=np.result_type(target, x))
    for start in range(0, flat_t.size, _BLOCK):
        block_t = flat_t[start:start + _BLOCK]
        block_s = block[:block_t.size]
        np.multiply(flat_x[start:start + _BLOCK], alpha, out=block_s)
        block_t += block_s


def axpy_(target: np.ndarray, x: np.ndarray, alpha: float, scratch: np.ndarray | None = None) -> None:
    """``target += alpha * x`` in place, in one pass: BLAS's axpy (SciPy's wrapper, the engine's one BLAS: see
    ``ops/blas.py``) when both arrays are contiguous and of one float dtype, else ``add_scaled_``.

    One pass instead of two: ``alpha * x`` into a scratch array, then ``+=``, reads and writes the 3 MB weight
    twice. Measured on the 784-1000 layer's weight (784k float32): 163 us instead of 667 us (``add_scaled_`` with
    scratch). The sum is rounded once (fused multiply-add) where NumPy rounds twice, so the last bit may differ,
    as it does between CPUs.
    """
    axpy = _axpy(target, x) if target.size >= _AXPY_FROM else None
    if axpy is None:
        add_scaled_(target, x, alpha, scratch)
        return
    flat = target.reshape(-1)  # a view: target is C-contiguous
    if blas.call(axpy, flat.size, x.reshape(-1), flat, a=alpha) is not flat:  # pragma: no cover - SciPy copied instead of updating
        add_scaled_(target, x, alpha, scratch)


_AXPY_FROM = 1 << 14  # elements; below, SciPy's call costs more (~3 us) than NumPy's second pass saves


def _axpy(target: np.ndarray, x: np.ndarray) -> object:
    """SciPy's saxpy/daxpy for these arrays, or None (other dtypes or layouts, a read-only target, no SciPy)."""
    if not (target.dtype is x.dtype and target.dtype.kind == "f" and target.shape == x.shape
            and target.flags.c_contiguous and x.flags.c_contiguous and target.flags.writeable and target.size):
        return None
    return blas.routine("axpy", target.dtype)


def check_nonnegative(owner: str, name: str, value: Any) -> float:
    """Return ``value`` as a Python float, or raise (``InvalidValueError``, ``TypeError``) naming it if it is not a
    number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} of type {type(value).__name__}")
    if not value >= 0.0:  # also catches NaN
        raise InvalidValueError(f"{owner}: invalid {name} value: {value!r} (it must be >= 0)")
    return float(value)


class Optimizer:
    """Base class of every optimizer: holds parameter groups and per-parameter state.

    Subclasses pass their hyperparameter ``defaults`` to ``__init__``, may override ``_check_group`` to validate a
    group's hyperparameters, and implement ``step()``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (e.g. ``model.named_parameters()``), or of dicts
            ``{"params": [...], "lr": ...}`` giving groups with their own hyperparameters.
        defaults: the hyperparameters a group gets when it does not set them.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by the parameter object (Tensor hashes by identity)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[np.dtype, np.ndarray] = {}

        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, got a single "
                f"{type(params).__name__}; wrap it in a list: [param]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: params must be an ordered collection (a list), not a set")
        groups = list(params)
        if len(groups) == 0:
            raise InvalidValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        # the engine's BLAS (SciPy's, ~0.27 s to import) loaded now, not inside the first step of a timed epoch
        blas.load({p.data.dtype for g in self.param_groups for p in g["params"] if p.data.size >= _AXPY_FROM})

    # ---- parameter groups -------------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with optional hyperparameters of its own) to train from now on."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}: param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise InvalidValueError(f"{type(self).__name__}: a param_group needs a 'params' entry, got keys {sorted(group)}")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: params must be an ordered collection (a list), not a set")
        params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise InvalidValueError(f"{type(self).__name__}: give every parameter a name, or none (some names missing)")
            params = [p[1] for p in params]
            group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__} can only optimize Tensors, but parameter {i} of the group is a "
                    f"{type(p).__name__}"
                )
            if p.data.dtype.kind != "f":
                raise DTypeError(
                    f"{type(self).__name__} can only optimize floating-point tensors; parameter {i} has dtype "
                    f"{p.data.dtype} and shape {p.data.shape}"
                )
        group["params"] = params

        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_group(group)

        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise InvalidValueError(f"{type(self).__name__}: some parameters appear more than once (in this or another group)")
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalise to Python floats) a group's hyperparameters; subclasses override."""

    # ---- gradients and steps ----------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter before the next backward pass.

        ``set_to_none=True`` (the default, as in PyTorch 2.x) sets ``p.grad = None``; ``set_to_none=False`` zeroes each
        existing gradient in place (``p.grad.zero_()``), as PyTorch does; the next backward adds into it.
        """
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; if given, ``closure()`` recomputes the loss first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for index, p in enumerate(group["params"]):
                grad = p._grad  # read as stored: a deferred gradient is computed only if the update needs the array
                if grad is None:
                    continue  # the parameter took no part in the loss: leave it and its state alone
                if isinstance(grad, DeferredGradient):
                    if grad.shape == p.data.shape and self._add_deferred(p, grad, group):
                        continue
                    grad = p.grad
                grad = grad.data  # the array: the updates below are NumPy's
                if grad.shape != p.data.shape:
                    raise ShapeError(
                        f"{type(self).__name__}.step: parameter {index} of its group has shape {p.data.shape} but its "
                        f"gradient has shape {grad.shape}"
                    )
                state = self.state.get(p)
                if state is None:
                    state = self._init_state(p, group)
                self._update(p, grad, state, group)
                if state and p not in self.state:  # plain SGD keeps no state, like PyTorch
                    self.state[p] = state
        return loss

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The per-parameter state before the first step (momentum buffers, moment estimates...)."""
        return {}

    def _add_deferred(self, p: Tensor, grad: DeferredGradient, group: dict[str, Any]) -> bool:
        """The update straight from a deferred gradient (``autograd.DeferredGradient``), without its array: True if
        done. An optimizer whose step is ``p += alpha * grad`` (plain SGD) says so; the others need the array."""
        return False

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.data`` in place from ``grad`` (read-only) and ``state``; subclasses implement."""
        raise NotImplementedError

    def _scratch_like(self, a: np.ndarray) -> np.ndarray:
        """A scratch array of ``a``'s shape and dtype, reused across parameters and steps (never in the state)."""
        buf = self._scratch.get(a.dtype)
        if buf is None or buf.size < a.size:
            buf = self._scratch[a.dtype] = np.empty(a.size, dtype=a.dtype)
        return buf[: a.size].reshape(a.shape)

    # ---- checkpoints ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The state as plain data: ``{"state": {index: {...}}, "param_groups": [{..., "params": [i, ...]}]}``.

        Parameters are numbered across groups in order (0, 1, ...), as in PyTorch; only parameters that have state
        appear in ``"state"``. Arrays are copies; tuples become lists; nothing needs pickle to be stored.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {
            index_of[id(p)]: {k: _plain(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict()`` into this optimizer's own parameters.

        The saved groups must match this optimizer's groups in number and size, and every saved array must have the
        shape of the parameter it belongs to; arrays are copied and cast to that parameter's dtype. The whole state is
        checked before anything changes (``check_state_dict``): a refused state leaves the optimizer as it was.
        """
        self.param_groups, self.state = self._restored(state_dict)

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raise the ``CheckpointError`` that ``load_state_dict(state_dict)`` would raise, changing nothing.

        (Not in PyTorch: it lets ``load_checkpoint`` check every part of a checkpoint before loading any.)
        """
        self._restored(state_dict)

    def _restored(self, state_dict: Any) -> tuple[list[dict[str, Any]], dict[Tensor, dict[str, Any]]]:
        """The param groups and per-parameter state ``state_dict`` describes, built anew for this optimizer's own
        parameters (arrays copied), without touching ``self``; ``CheckpointError`` names the first thing wrong."""
        name = f"{type(self).__name__}.load_state_dict"
        if not (isinstance(state_dict, dict) and isinstance(state_dict.get("state"), dict)
                and isinstance(state_dict.get("param_groups"), list)):
            raise CheckpointError(f"{name}: expected a dict with 'state' and 'param_groups' keys (a dict and a list)")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise CheckpointError(f"{name}: the saved state has {len(saved_groups)} parameter group(s), this optimizer "
                                  f"has {len(self.param_groups)}")
        param_of: dict[int, Tensor] = {}
        groups = []
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
                raise CheckpointError(f"{name}: saved group {g} is not a dict with a 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise CheckpointError(f"{name}: saved group {g} has {len(saved['params'])} parameters, this "
                                      f"optimizer's group {g} has {len(group['params'])}")
            missing = sorted(k for k in self.defaults if k not in saved)
            if missing:
                raise CheckpointError(f"{name}: saved group {g} lacks hyperparameters {missing}; was it saved by "
                                      "another kind of optimizer?")
            for index, p in zip(saved["params"], group["params"]):
                param_of[_index(index, name)] = p
            restored = {k: _restore(v, group.get(k)) for k, v in saved.items() if k != "params"}
            restored["params"] = group["params"]
            try:
                self._check_group(restored)
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"{name}: saved group {g}: {exc}") from exc
            groups.append(restored)
        state = {}
        for key, saved_state in state_dict["state"].items():
            index = _index(key, name)  # keys may come back as strings from a file format
            if index not in param_of:
                raise CheckpointError(f"{name}: state for parameter {index}, which no group lists")
            if not isinstance(saved_state, dict):
                raise CheckpointError(f"{name}: the state of parameter {index} is a {type(saved_state).__name__}, "
                                      "not a dict")
            state[param_of[index]] = _restored_entry(saved_state, param_of[index], index, name)
        return groups, state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names"))
        return "\n".join(lines) + "\n)"


def _plain(value: Any) -> Any:
    """A copy of ``value`` made of arrays, numbers, strings, lists and dicts only."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return copy.copy(value)


def _restore(value: Any, current: Any) -> Any:
    """Undo ``_plain`` for a group entry: a list that is a tuple in the live group (``betas``) becomes a tuple."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list) and isinstance(current, tuple):
        return tuple(value)
    return copy.copy(value)


def _index(key: Any, owner: str) -> int:
    """A parameter index saved as an int, a string or a 0-d array (file formats differ)."""
    try:
        return int(key)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{owner}: {key!r} is not a parameter index") from exc


def _restored_entry(saved: dict[str, Any], p: Tensor, index: int, owner: str) -> dict[str, Any]:
    """One parameter's saved state, for ``p``: arrays of its shape, copied to its dtype; the step count an int."""
    entry: dict[str, Any] = {}
    for k, v in saved.items():
        if k == "step":  # the step count is a number; a file format may hand it back as a 0-d array
            try:
                entry[k] = int(np.asarray(v).item())
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"{owner}: the step count of parameter {index} is {v!r}, not a number") from exc
        elif isinstance(v, np.ndarray):
            if v.shape != p.data.shape:
                raise CheckpointError(f"{owner}: state '{k}' of parameter {index} has shape {v.shape}, but the "
                                      f"parameter has shape {p.data.shape}")
            entry[k] = np.array(v, dtype=p.data.dtype, copy=True)
        else:
            entry[k] = v.item() if isinstance(v, np.generic) else copy.copy(v)
    return entry
