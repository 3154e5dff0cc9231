"""Module and Parameter: how layers hold their weights, find each other, and save and load their state.

A ``Module`` keeps three kinds of attributes apart, as PyTorch does: parameters (trainable tensors), buffers
(arrays that are state but not trained, e.g. batch norm's running mean) and sub-modules. Assigning one
(``self.fc = Linear(2, 3)``) registers it; ``parameters()``, ``state_dict()`` and ``train()``/``eval()`` walk the tree.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from nnblocks.autograd import clear_grad
from nnblocks.devices import check_device
from nnblocks.dtypes import as_dtype, to_numpy
from nnblocks.errors import CheckpointError, DTypeError, ShapeError
from nnblocks.ops.convert import to_arguments
from nnblocks.tensor import Tensor, get_default_dtype


class Parameter(Tensor):
    """A tensor that is a trainable weight of a module: it requires a gradient and is listed by ``parameters()``."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        if dtype is None and not isinstance(data, (np.ndarray, Tensor)):
            dtype = get_default_dtype()
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    # Keys are unique for the whole process, so a stale handle (removed twice) can never remove a later hook.
    _next_key = itertools.count()

    def __init__(self, hooks: dict, key: int) -> None:
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self) -> "RemovableHandle":  # ``with model.register_forward_hook(f): ...`` removes f at the end
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as PyTorch's: the model's keys the state lacked, the state's keys the model
    lacks (both empty unless ``strict=False``). Shown as ``<All keys matched successfully>`` when both are empty."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys!r}, unexpected_keys={self.unexpected_keys!r})"

    __str__ = __repr__


class Module:
    """Base class of layers and models: subclass it, create layers in ``__init__``, compute in ``forward``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -----------------------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before assigning {name!r}")
        if name in self._buffers and (value is None or isinstance(value, np.ndarray)):
            # Assigning an array to a buffer's name updates the buffer (as PyTorch does), so it stays in state_dict.
            self._buffers[name] = value
            return
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        for store in ("_parameters", "_modules", "_buffers"):
            found = self.__dict__.get(store, {})
            if name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._modules, self._buffers):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array: np.ndarray | None) -> None:
        """State that is saved in ``state_dict`` but not trained (a NumPy array)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = array

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: "Module") -> None:
        self._modules[name] = module

    # ---- calling ----------------------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        if not self._forward_hooks:  # the common case: no copy of an empty dict's values per call
            return out
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward: the way to look at intermediate layers."""
        key = next(RemovableHandle._next_key)
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    # ---- walking the tree -------------------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every sub-module, depth first, with dotted names (iterative: no recursion limit).

        A module used twice is listed once, unless ``remove_duplicate=False`` (what ``state_dict`` uses, so that, as in
        PyTorch, a layer shared at '0' and '2' is saved under both names)."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator["Module"]:
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules(prefix):
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buf

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # ---- modes and gradients ----------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode: dropout drops, batch norm uses batch statistics. Returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout off, batch norm uses its running statistics. Returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: ``p.grad = None`` (the default, as in PyTorch 2.x), or with
        ``set_to_none=False`` zero each existing ``p.grad`` in place."""
        for p in self.parameters():
            clear_grad(p, set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``, as PyTorch's ``Module.to``; returns
        self.

        The device must be the CPU (nnblocks computes there with NumPy; CUDA raises ``DeviceError``). A dtype converts
        every float parameter and buffer in place (float32 or float64); gradients are dropped then."""
        target_device, target_dtype, _ = to_arguments(args, kwargs)
        check_device(target_device, f"{type(self).__name__}.to()")
        if target_dtype is None:
            return self
        dtype = to_numpy(target_dtype, f"{type(self).__name__}.to()")
        if dtype.kind != "f":
            raise DTypeError(f"{type(self).__name__}.to() only accepts floating-point dtypes, got {as_dtype(dtype)}")
        for p in self.parameters():
            if p.data.dtype.kind == "f" and p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                p.grad = None
        for module in self.modules():
            for name, buf in module._buffers.items():
                if buf is not None and buf.dtype.kind == "f":
                    module._buffers[name] = buf.astype(dtype)
        return self

    def cpu(self) -> "Module":
        """Returns self: the parameters are on the CPU already."""
        return self

    def cuda(self, device: Any = None) -> "Module":
        """Always a ``DeviceError``: nnblocks computes on the CPU with NumPy."""
        check_device("cuda" if device is None or isinstance(device, int) else device, f"{type(self).__name__}.cuda()")
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # ---- state ------------------------------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer as a NumPy array (a copy), under PyTorch's dotted names ('0.weight', ...)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for module_name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state.setdefault(prefix + name, param.data.copy())
            for name, buf in module._buffers.items():
                if buf is not None:
                    state[prefix + name] = np.array(buf, copy=True)
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into this module's parameters and buffers (in place, converted to their dtypes).

        With ``strict`` (default), missing or unexpected keys are an error; a shape mismatch is always an error.
        Everything is checked (``check_state_dict``) before anything is copied, so a refused state changes nothing.
        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``, a named tuple. Accepts NumPy arrays, nnblocks
        Tensors or anything with ``.numpy()`` (so a PyTorch state_dict converted with ``{k: v.numpy()}``, or even
        as-is on CPU, loads).
        """
        arrays, missing, unexpected = self._arrays_to_load(state, strict)
        for (module, kind, name), array in arrays.items():
            if kind == "_parameters":
                np.copyto(module._parameters[name].data, array, casting="unsafe")
            else:
                module._buffers[name] = np.array(array, dtype=np.asarray(module._buffers[name]).dtype)
        return IncompatibleKeys(missing, unexpected)

    def check_state_dict(self, state: dict, strict: bool = True) -> None:
        """Raise what ``load_state_dict(state, strict)`` would raise, changing nothing: ``CheckpointError`` for missing
        or unexpected keys (with ``strict``), else ``ShapeError`` for arrays of the wrong shape; one message names every
        problem. (Not in PyTorch: it lets ``load_checkpoint`` check every part of a checkpoint before loading any.)"""
        self._arrays_to_load(state, strict)

    def _arrays_to_load(self, state: dict, strict: bool) -> tuple[dict[tuple, np.ndarray], list[str], list[str]]:
        """``{(module, "_parameters" or "_buffers", name): array}`` for each key of ``state`` that this module has,
        plus the missing and unexpected keys; raises as ``check_state_dict`` says."""
        targets: dict[str, tuple[Module, str, str]] = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            for kind in ("_parameters", "_buffers"):
                for name, value in getattr(module, kind).items():
                    if value is not None:
                        targets[f"{module_name}.{name}" if module_name else name] = (module, kind, name)
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        arrays: dict[tuple, np.ndarray] = {}
        wrong = []
        for key, (module, kind, name) in targets.items():
            if key not in state:
                continue
            value = state[key]
            array = value.data if isinstance(value, Tensor) else value
            array = np.asarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)
            current = getattr(module, kind)[name]
            if np.shape(array) != np.shape(current):
                wrong.append(f"{key} {np.shape(array)} in the state dict vs {np.shape(current)} in the model")
            arrays[(module, kind, name)] = array
        keys_wrong = strict and bool(missing or unexpected)
        problems = [f"missing keys {missing}", f"unexpected keys {unexpected}"] if keys_wrong else []
        if wrong:
            problems.append(f"shape mismatches: {'; '.join(wrong)}")
        if problems:
            error = CheckpointError if keys_wrong else ShapeError
            raise error(f"{type(self).__name__}.load_state_dict: the state does not fit this model (saved from "
                        f"another architecture?): {', '.join(problems)}")
        return arrays, missing, unexpected

    # ---- printing ---------------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_shape: tuple[int, ...] | None = None) -> str:
        """A table of layers, output shapes (when ``input_shape`` without the batch axis is given) and parameters."""
        from nnblocks.tensor import no_grad

        shapes: dict[int, tuple] = {}
        handles = []
        if input_shape is not None:
            for module in self.modules():
                handles.append(module.register_forward_hook(
                    lambda m, i, o: shapes.__setitem__(id(m), tuple(o.shape) if isinstance(o, Tensor) else None)))
            modes = [(m, m.training) for m in self.modules()]  # restored one by one: modes may be mixed
            self.eval()
            try:
                with no_grad():
                    dtype = next(iter(self.parameters()), None)
                    dtype = get_default_dtype() if dtype is None else dtype.data.dtype
                    self(Tensor(np.zeros((1, *input_shape), dtype=dtype)))
            finally:
                for h in handles:
                    h.remove()
                for m, mode in modes:
                    object.__setattr__(m, "training", mode)
        rows = [("layer", "type", "output shape", "parameters")]
        for name, module in self.named_modules():
            if module is self and module._modules:
                continue
            count = sum(p.numel() for p in module.parameters(recurse=False))
            shape = shapes.get(id(module))
            rows.append((name or "(model)", module.__class__.__name__ + (f"({module.extra_repr()})" if module.extra_repr() else ""),
                         "-" if shape is None else str(("batch",) + tuple(shape[1:])).replace("'", ""), f"{count:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        rule = "-" * (sum(widths) + 6)
        out = [rule, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths)), rule]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        out += [rule, f"total parameters: {total:,}   trainable: {trainable:,}", rule]
        return "\n".join(out)
