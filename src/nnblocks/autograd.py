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

This module knows tensors only by their attributes (``grad_fn``, ``requires_grad``, ``grad``...): ``tensor.py``
imports it, not the other way round.
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Iterator

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
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        # a stack per thread: one decorated function may be entered again before it exits, and from two threads
        self._previous = threading.local()

    def __enter__(self) -> None:
        stack = self._previous.__dict__.setdefault("stack", [])
        stack.append(_state.enabled)
        _state.enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous.stack.pop()


def no_grad() -> _GradMode:
    """Context manager (or decorator) in which ops record no graph: for evaluation and weight updates."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager (or decorator) in which ops record the graph, even inside ``no_grad()``."""
    return _GradMode(True)


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
                if (through_constants or parent.requires_grad) and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backpropagate(root: Tensor, seed: np.ndarray, release: bool = False,
                  order: list[Tensor] | None = None) -> Iterator[tuple[Tensor, np.ndarray]]:
    """The chain rule over the whole graph: yield ``(t, dL/dt)`` for every tensor t behind ``root`` that requires a
    gradient, from ``root`` back to the leaves (reverse topological order), with dL/droot = ``seed``.

    Each op's ``backward`` runs once, after all the gradients flowing into its output have been summed (a tensor used
    twice gets the sum of both uses: the multivariable chain rule). ``release`` frees each op's saved arrays once
    used (``backward()`` without ``retain_graph``); a graph already freed raises ``BackwardError``.
    """
    order = topological_order(root, through_constants=False) if order is None else order
    grads: dict[int, np.ndarray] = {id(root): seed}
    for node in reversed(order):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        yield node, grad
        fn = node.grad_fn
        if fn is None:
            continue
        if fn.released:
            raise BackwardError(
                f"backward through the graph a second time: {fn.name}'s saved values were freed after the first "
                "backward(); call backward(retain_graph=True) the first time if you need to backpropagate twice"
            )
        input_grads = fn.backward(grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, g in zip(fn.parents, input_grads):
            if g is None or not parent.requires_grad:
                continue
            key = id(parent)
            grads[key] = g if key not in grads else grads[key] + g
        if release:
            fn.release()


def backward(root: Tensor, seed: np.ndarray, retain_graph: bool = False) -> None:
    """Backpropagate ``seed`` = dL/droot and add each gradient into ``.grad`` of the leaves that require one (and of
    the intermediate tensors that asked with ``retain_grad()``). ``Tensor.backward`` checks its arguments, then
    calls this."""
    handed_out: set[int] = set()  # ids of arrays already stored as some tensor's .grad in this pass
    for node, grad in backpropagate(root, seed, release=not retain_graph):
        if node.grad_fn is not None and not node._retain_grad:
            continue
        if node.grad is not None:
            node.grad = node.grad + grad  # a new array: the old one may be shared, never mutate it
            continue
        # A tensor's .grad must be its own writable array of its dtype. Copy only when ``grad`` is not: a read-only
        # broadcast view (Sum), a view of another array, or already handed to another tensor (Add passes g to both
        # inputs). Weight gradients from matmuls are fresh: no copy.
        if (grad.dtype != node.data.dtype or not grad.flags.writeable or not grad.flags.owndata
                or id(grad) in handed_out):
            grad = np.array(grad, dtype=node.data.dtype)
        handed_out.add(id(grad))
        node.grad = grad
