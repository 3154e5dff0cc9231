"""Autograd: the switch that says whether ops record a graph, and the walk that runs the chain rule back over it.

Recording: while gradients are enabled (the default), an op whose inputs require a gradient links its output to
itself (``out.grad_fn``) and itself to its inputs (``grad_fn.parents``), in ``Function.apply``. ``no_grad()`` turns
that off for a block: evaluation, weight updates.

The walk, in three steps that build on each other:
- ``topological_order(root)``: the tensors behind ``root``, each after its inputs (an explicit stack, no recursion,
  so a graph 100,000 ops deep is fine);
- ``backpropagate(root, seed)``: that order read backwards, each op's ``backward`` turning the gradient of its output
  into the gradients of its inputs; it yields ``(tensor, dL/dtensor)`` (the trace and the graph drawing use it too);
- ``backward(root, seed)``: what ``Tensor.backward()`` does with those gradients: store them in ``.grad``.

This module knows tensors by their attributes (``grad_fn``, ``requires_grad``, ``_grad``...): ``tensor.py`` imports
it at the top; ``backward`` imports ``Tensor`` when it runs, to wrap the gradients it stores.
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from nnblocks.errors import BackwardError

if TYPE_CHECKING:
    from nnblocks.tensor import Tensor

# ---- grad mode -----------------------------------------------------------------------------------------------------
class _GradState(threading.local):
    """Grad mode is per thread, as in PyTorch: a ``no_grad()`` block in one thread (say, a web server drawing a
    frame) never switches recording off for a model training in another. Each thread starts with it on."""

    enabled = True


_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether ops record the graph now, in this thread (True unless inside ``no_grad()``)."""
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode for a ``with`` block or, as a decorator, for every call of a function."""

    enabled = True

    def __new__(cls, func: Callable | None = None) -> Any:
        mode = super().__new__(cls)
        # a stack per thread: one decorated function may be entered again before it exits, and from two threads
        mode._previous = threading.local()
        # ``@no_grad`` without parentheses (PyTorch 2.x takes it too) hands over the function itself
        return mode if func is None else mode(func)

    def __init__(self, func: Callable | None = None) -> None:
        pass

    def __enter__(self) -> None:
        stack = self._previous.__dict__.setdefault("stack", [])
        stack.append(_state.enabled)
        _state.enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous.stack.pop()


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (``with no_grad():``) or decorator (``@no_grad()``, ``@no_grad``) in which ops record no
    graph: for evaluation and weight updates."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) in which ops record the graph, even inside ``no_grad()``."""

    enabled = True


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """``set_grad_enabled(False)`` switches recording off at once (a plain call), for a ``with`` block, or around
    each call of a decorated function, as in PyTorch (in this thread, like every grad-mode switch)."""

    def __init__(self, mode: bool) -> None:
        self.before, self.mode = _state.enabled, bool(mode)
        _state.enabled = self.mode

    def __call__(self, func: Callable) -> Callable:
        _state.enabled = self.before  # a decorator switches around each call, not from now on
        return super().__call__(func)

    def __enter__(self) -> None:
        _state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.before


# ---- deferred gradients --------------------------------------------------------------------------------------------
class DeferredGradient:
    """A leaf's gradient not computed yet: what it takes to compute it, kept until someone needs the array.

    Why: a weight's gradient is usually read once, by the optimizer, to do ``W -= lr * dW``. Plain SGD can add
    ``-lr * dW`` straight into W from the factors of the product (``ops.blas.DeferredProduct``), never writing dW.
    Only ``backward()`` stores one, in a leaf's ``_grad``; reading ``.grad`` computes the array (and keeps it), so
    users, the trace and every other optimizer see an ordinary gradient.
    """

    __slots__ = ()
    shape: tuple[int, ...]
    dtype: np.dtype

    def materialize(self) -> np.ndarray:  # pragma: no cover - interface
        """The gradient as a fresh array, which the caller owns."""
        raise NotImplementedError

    def add_to(self, target: np.ndarray, alpha: float = 1.0) -> None:  # pragma: no cover - interface
        """``target += alpha * gradient``, in place."""
        raise NotImplementedError


def clear_grad(t: Tensor, set_to_none: bool = True) -> None:
    """``zero_grad`` for one tensor: ``.grad = None`` or, with ``set_to_none=False``, zeros in place (as PyTorch);
    a deferred gradient is dropped without being computed."""
    grad = t._grad
    if set_to_none or grad is None:
        t._grad = None
    elif isinstance(grad, DeferredGradient):
        from nnblocks.tensor import Tensor  # as in backward(): tensor.py imports this module

        t._grad = Tensor._wrap(np.zeros(grad.shape, grad.dtype))
    else:
        grad.zero_()


# ---- the walk ------------------------------------------------------------------------------------------------------
def topological_order(root: Tensor, through_constants: bool = True) -> list[Tensor]:
    """Tensors of the graph behind ``root``, each after all of its inputs, ``root`` last.

    An iterative depth-first search (an explicit stack, not recursion), so a graph 100,000 ops deep is fine.
    ``through_constants=False`` skips inputs that need no gradient: what backward() walks.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.grad_fn is not None:
            for parent in reversed(node.grad_fn.parents):
                if (through_constants or parent._requires_grad) and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backpropagate(root: Tensor, seed: np.ndarray, release: bool = False, order: list[Tensor] | None = None,
                  defer: bool = False) -> Iterator[tuple[Tensor, np.ndarray]]:
    """The chain rule over the whole graph: yield ``(t, dL/dt)`` for every tensor t behind ``root`` that requires a
    gradient, from ``root`` back to the leaves (reverse topological order), with dL/droot = ``seed``.

    Each op's ``backward`` runs once, after all the gradients flowing into its output have been summed (a tensor used
    twice gets the sum of both uses: the multivariable chain rule). ``release`` frees each op's saved arrays once
    used (``backward()`` without ``retain_graph``); a graph already freed raises ``BackwardError``.

    ``defer`` is for a caller that keeps only the leaves' gradients (and retained ones): ``backward()``. Then a leaf's
    gradient may come as a ``DeferredGradient`` (``Function.may_defer``), and an op whose incoming gradient nothing
    else holds is told so (``Function.owns_grad``) and may update it in place (ReLU's mask, Linear's kept factor).
    Any other caller (the trace, the graph drawing) gets every gradient as an array, never modified after the yield.
    """
    order = topological_order(root, through_constants=False) if order is None else order
    grads: dict[int, np.ndarray] = {id(root): seed}
    owned: set[int] = set()  # ids of arrays in ``grads`` that nothing else holds (with ``defer`` only; see below)
    for node in reversed(order):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        mine = id(grad) in owned
        owned.discard(id(grad))
        dtype = node._data.dtype
        if grad.dtype is not dtype and grad.dtype != dtype:  # a gradient has its tensor's dtype, as in PyTorch
            grad, mine = _array(grad).astype(dtype), defer
        yield node, grad
        fn = node.grad_fn
        if fn is None:
            continue
        if fn.released:
            raise BackwardError(
                f"backward through the graph a second time: {fn.name}'s saved values were freed after the first "
                "backward(); call backward(retain_graph=True) the first time if you need to backpropagate twice"
            )
        if defer:  # only this walk's caller (backward()) takes deferred gradients; the trace and others get arrays
            fn.may_defer, fn.owns_grad = True, mine and not node._retain_grad
            input_grads = fn.backward(grad)
            fn.may_defer = fn.owns_grad = False  # a graph kept by retain_graph=True may be explained next
        else:
            input_grads = fn.backward(grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        returned = [id(g) for g in input_grads]
        for parent, g in zip(fn.parents, input_grads):
            if g is None or not parent._requires_grad:
                continue
            key = id(parent)
            if key in grads:  # a second use: the sum, of arrays
                owned.discard(id(grads[key]))
                grads[key] = _array(grads[key]) + _array(g)
                if defer:
                    owned.add(id(grads[key]))
                continue
            # deferred only for a leaf, whose gradient goes to backward() as it is
            grads[key] = g = g if (defer and parent.grad_fn is None) else _array(g)
            # Owned: a new array (an op's backward returns new arrays, or g itself or views of it), handed to this
            # parent alone; the incoming g only if it was owned. The op that receives it may update it in place.
            if (defer and type(g) is np.ndarray and g.base is None and returned.count(id(g)) == 1
                    and (g is not grad or mine)):
                owned.add(id(g))
        if release:
            fn.release()


def _array(grad: Any) -> np.ndarray:
    """The gradient as an array: a deferred one is computed."""
    return grad.materialize() if isinstance(grad, DeferredGradient) else grad


def backward(root: Tensor, seed: np.ndarray, retain_graph: bool = False) -> None:
    """Backpropagate ``seed`` = dL/droot and add each gradient into ``.grad`` of the leaves that require one (and of
    the intermediate tensors that asked with ``retain_grad()``). ``Tensor.backward`` checks its arguments, then
    calls this.

    A tensor's first gradient becomes its ``.grad``: a Tensor wrapping the array (no copy, unless the array is not the
    tensor's own: see below). Later gradients are added into that array in place, as PyTorch does (no new array per
    backward), unless the user replaced it with a read-only one. A leaf's ``DeferredGradient`` is stored as it is
    (``.grad`` computes it when read) or added into the array already there.
    """
    from nnblocks.tensor import Tensor  # here, not at the top: tensor.py imports this module (~0.3 us a backward)

    wrap = Tensor._wrap
    handed_out: set[int] = set()  # ids of arrays already stored as some tensor's .grad in this pass
    for node, grad in backpropagate(root, seed, release=not retain_graph, defer=True):
        if node.grad_fn is not None and not node._retain_grad:
            continue
        existing = node._grad
        if isinstance(existing, DeferredGradient):  # a second backward before a step: now it is needed
            existing = node._grad = wrap(existing.materialize())
        if isinstance(grad, DeferredGradient):
            if existing is None:
                node._grad = grad
                continue
            array = existing._data
            if array.flags.writeable and array.shape == grad.shape and array.dtype == grad.dtype:
                grad.add_to(array)  # accumulated by the product itself, into the existing array
                continue
            grad = grad.materialize()
        if existing is not None:
            array = existing._data
            if array.flags.writeable and array.shape == grad.shape:
                np.add(array, grad, out=array, casting="unsafe")  # the tensor's dtype, as PyTorch accumulates
            else:
                existing._data = array + grad
            continue
        # A .grad must own a writable array of its tensor's dtype. Copy only when ``grad`` does not: a read-only
        # broadcast view (Sum), a view of another array, or already handed to another tensor (Add passes g to both
        # inputs). Weight gradients from matmuls are fresh: no copy.
        if (grad.dtype != node._data.dtype or not grad.flags.writeable or not grad.flags.owndata
                or id(grad) in handed_out):
            grad = np.array(grad, dtype=node._data.dtype)
        handed_out.add(id(grad))
        node._grad = wrap(grad)  # a plain Tensor, also for a Parameter's gradient (as in PyTorch)
