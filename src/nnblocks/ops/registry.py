"""The op registry: one ``register`` makes an op public everywhere it belongs, and the package reads it from there.

    @register("sigmoid")
    class Sigmoid(Function):
        ...

puts the functional form ``nnblocks.ops.sigmoid(t)`` (``Sigmoid.apply`` with the signature of ``forward``: the
tensors, then the options by position or by name) and the method ``t.sigmoid()`` in place. Everything else reads the
registry instead of keeping its own list of op names: ``nn.functional`` offers every registered activation and loss,
``nn`` a module for every activation (``nn.Sigmoid()``), ``nn.MLP`` takes every elementwise activation by name, and
``viz.pictures`` counts those modules as activations. The trace and the graph drawing read each op's declaration
(``Function``'s ``kind``, ``formula``, ``derivatives``) straight from the graph. ``unregister`` undoes all of it.

A plain function registers the same way: a composition of other ops (``flatten``, ``stack``), or the public form of an
op that takes other arguments than its forward (``reshape(a, *shape)``).
"""
from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable

from nnblocks.errors import InvalidArgumentError, InvalidValueError, NotSupportedError
from nnblocks.ops.base import KINDS, Function
from nnblocks.tensor import Tensor

_OPS = sys.modules[__package__]  # nnblocks.ops: the functional API is put there (this module is part of it)


@dataclass(frozen=True)
class Registered:
    """One public op: its ``name`` (and ``aliases``) in ``nnblocks.ops`` (when ``functional``) and, when ``method``,
    on ``Tensor``."""

    name: str
    function: Callable[..., Tensor]
    op: type[Function] | None  # None for a composition of other ops
    aliases: tuple[str, ...] = ()
    method: bool = True
    functional: bool = True

    @property
    def kind(self) -> str | None:
        return None if self.op is None else self.op.kind

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_REGISTRY: dict[str, Registered] = {}  # by every name, aliases too


def register(name: str, *aliases: str, method: bool = True, functional: bool = True) -> Callable[[Any], Any]:
    """Decorator: make an op class (or a function over ops) public as ``nnblocks.ops.<name>`` (unless
    ``functional=False``: methods PyTorch has no function for, ``t.float()``, ``t.add_()``) and, unless
    ``method=False`` (losses, ``cat``...), as the Tensor method ``t.<name>(...)``. ``aliases`` are other names for the
    same thing (``clamp`` for ``clip``). A name already in use is an error: registering never replaces anything."""

    def decorate(target: Any) -> Any:
        op = target if isinstance(target, type) else None
        if op is not None and not issubclass(op, Function):
            raise InvalidArgumentError(f"register: {op.__name__} is not a Function subclass")
        if op is not None and op.kind not in KINDS:
            raise InvalidValueError(f"register: {op.__name__}.kind is {op.kind!r}; expected one of {KINDS}")
        if op is not None:
            function = _functional_form(name, op)
        else:
            params = inspect.signature(target).parameters
            takes_numpy_names = "dim" in params and not NUMPY_KEYWORDS & params.keys()
            function = _with_numpy_keywords(name, target) if takes_numpy_names else target
        entry = Registered(name, function, op, aliases, method, functional)
        for alias in entry.names:
            if alias in _REGISTRY or (functional and hasattr(_OPS, alias)) or (method and hasattr(Tensor, alias)):
                raise InvalidValueError(f"register: the name {alias!r} is taken")
        for alias in entry.names:
            if functional:
                setattr(_OPS, alias, entry.function)
            if method:
                setattr(Tensor, alias, entry.function)
            _REGISTRY[alias] = entry
        return target

    return decorate


def unregister(name: str) -> None:
    """Remove what ``register(name)`` put in place (for extensions and tests that add an op for a while)."""
    entry = _REGISTRY[name]
    for alias in entry.names:
        del _REGISTRY[alias]
        if entry.functional:
            delattr(_OPS, alias)
        if entry.method:
            delattr(Tensor, alias)


def registered(kind: str | None = None) -> list[Registered]:
    """The registered ops in the order they were registered; with ``kind``, only the op classes of that kind."""
    return [e for n, e in _REGISTRY.items() if n == e.name and (kind is None or e.kind == kind)]


def lookup(name: str) -> Registered | None:
    """The op registered under ``name`` (or an alias), or None."""
    return _REGISTRY.get(name)


# PyTorch takes NumPy's keywords for its own (x.sum(axis=0, keepdims=True)), and NumPy's functions call a tensor's
# methods with them (np.mean(t) calls t.mean(axis=None, dtype=None, out=None)); so does every op here that has a dim.
NUMPY_KEYWORDS = frozenset({"axis", "keepdims", "dtype", "out"})


def numpy_keywords(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with NumPy's ``axis``/``keepdims`` renamed ``dim``/``keepdim``, and ``dtype``/``out`` dropped when
    None (anything else for them is refused, naming what to write instead)."""
    options = dict(options)
    for numpy_name, torch_name in (("axis", "dim"), ("keepdims", "keepdim")):
        if numpy_name in options:
            if torch_name in options:
                raise InvalidArgumentError(f"{name}(): give {torch_name}= or {numpy_name}= (NumPy's name), not both")
            options[torch_name] = options.pop(numpy_name)
    if options.pop("out", None) is not None:
        raise NotSupportedError(f"{name}(out=...): nnblocks ops return a new tensor; assign the result instead")
    if options.pop("dtype", None) is not None:
        raise NotSupportedError(f"{name}(dtype=...): convert the input first instead, e.g. x.double().{name}()")
    return options


def _with_numpy_keywords(name: str, target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` (a plain function with a ``dim``) also taking NumPy's keywords (``numpy_keywords``)."""

    @functools.wraps(target)
    def function(*args: Any, **options: Any) -> Any:
        if options and not options.keys().isdisjoint(NUMPY_KEYWORDS):
            options = numpy_keywords(name, options)
        return target(*args, **options)

    return function


def _functional_form(name: str, op: type[Function]) -> Callable[..., Tensor]:
    """``op.apply`` under its public name and with ``forward``'s signature: the tensors first, then the options, by
    position or by name, as PyTorch's functions take them (``ops.leaky_relu(x, 0.2)``, ``x.sum(0)``)."""
    params = list(inspect.signature(op.forward).parameters.values())[1:]  # without self
    inputs = [p.name for p in params if p.default is p.empty]
    option_names = tuple(p.name for p in params if p.default is not p.empty)
    known = frozenset(option_names)
    numpy_names = "dim" in known and not known & NUMPY_KEYWORDS
    # what help() shows: forward takes arrays, the functional form tensors (or anything a Tensor can be made of)
    signature = inspect.Signature([p.replace(annotation="Tensor") if p.name in inputs else p for p in params],
                                  return_annotation="Tensor")
    apply, n = op.apply, len(inputs)

    def function(*args: Any, **options: Any) -> Tensor:
        unknown = bool(options) and not options.keys() <= known
        if unknown and numpy_names and not options.keys().isdisjoint(NUMPY_KEYWORDS):
            options = numpy_keywords(name, options)
            unknown = not options.keys() <= known
        extra = len(args) - n
        if 0 < extra <= len(option_names) and not unknown and options.keys().isdisjoint(option_names[:extra]):
            options.update(zip(option_names, args[n:]))  # options by position: x.sum(0), F.softmax(x, 1)
            args = args[:n]
        elif extra or unknown:  # tensors by name, a wrong count or an unknown keyword: bind them, or say why not
            try:
                bound = signature.bind(*args, **options).arguments
            except TypeError as exc:
                raise InvalidArgumentError(f"{name}(): {exc}") from None
            args = tuple(bound.pop(i) for i in inputs)
            options = bound
        return apply(*args, **options)

    function.__name__ = function.__qualname__ = name
    function.__module__ = _OPS.__name__
    function.__doc__ = op.__doc__
    function.__signature__ = signature  # type: ignore[attr-defined] - what help() and inspect show
    return function
