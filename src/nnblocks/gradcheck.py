"""Gradient checking: the engine's analytic gradients against central finite differences, in float64.

``gradcheck(fn, inputs)`` checks every element of a function's inputs, as ``torch.autograd.gradcheck`` does; its two
building blocks, ``central_differences`` (the one finite-difference loop) and ``relative_error``, also serve the
training-time spot checks (``nnblocks.train.spot_check``).

This is the chapter's finite-difference idea living on inside the engine. Backpropagation computes every partial
derivative of a scalar ``L`` in one backward pass; finite differences estimate each one separately by nudging one
input element ``x_i`` by ``h`` in both directions:

    dL/dx_i  ~  (L(x + h e_i) - L(x - h e_i)) / 2h          (error O(h^2) from the Taylor series, plus rounding)

Cost: two forward passes per input element, so checking ``n`` elements costs ``2n`` forward passes. That is why it
is a test tool for small inputs (a few hundred elements) and never a way to train.

Why float64: the rounding error of the difference quotient is about ``machine_eps * |L| / h``. In float32
(machine_eps ~ 1e-7) no ``h`` makes both that and the O(h^2) truncation error small (h = 1e-3 already gives ~1e-4
relative error on a well-scaled function, and any cancellation makes it worse), so a correct gradient and a subtly
wrong one look the same. In float64 (machine_eps ~ 2e-16) with h = 1e-6 the estimate is good to ~1e-9 relative.
``gradcheck`` therefore always works on float64 copies of the inputs and warns when it is given float32 tensors.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from nnblocks.errors import NNBlocksError
from nnblocks.tensor import Tensor, default_dtype, no_grad


class GradcheckError(NNBlocksError, AssertionError):
    """Analytic and numerical gradients disagree (or the function cannot be checked).

    It is an ``AssertionError`` so that a failing check inside a test reads as a failed assertion, and an
    ``NNBlocksError`` so it can be caught with the rest of nnblocks' errors.
    """


@dataclass(frozen=True)
class InputCheck:
    """The comparison for one checked input: errors over all its elements, and where the worst mismatch sits.

    ``max_rel_error`` is the largest ``relative_error(a, n) = |a - n| / max(|a|, |n|)`` (0 where the two agree
    exactly, inf where either is NaN). The worst element is the one that exceeds the tolerance
    ``atol + rtol * |n|`` by the most (or comes closest to it when all pass).
    """

    position: int
    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    ok: bool

    def __str__(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        return (
            f"{status} {self.name} {self.shape}: max abs error {self.max_abs_error:.3e}, max rel error "
            f"{self.max_rel_error:.3e}; worst at index {self.worst_index}: analytic {self.analytic:.10g} "
            f"vs numeric {self.numeric:.10g}"
        )


@dataclass
class GradcheckReport:
    """What ``gradcheck`` found: one ``InputCheck`` per input that requires a gradient. ``bool(report)`` is ``ok``."""

    checks: list[InputCheck]
    eps: float
    atol: float
    rtol: float
    projected: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def worst(self) -> InputCheck | None:
        """The input with the largest absolute error."""
        return max(self.checks, key=lambda c: c.max_abs_error, default=None)

    def __str__(self) -> str:
        head = (f"gradcheck {'passed' if self.ok else 'FAILED'} (central differences, eps={self.eps:g}, "
                f"atol={self.atol:g}, rtol={self.rtol:g}"
                + (", non-scalar output projected on a random vector v: checks the VJP v^T J" if self.projected else "")
                + ")")
        return "\n".join([head, *("  " + str(c) for c in self.checks), *("  note: " + n for n in self.notes)])


def _float64_copy(x: Any, position: int, notes: list[str]) -> Any:
    """A float64 leaf with the same values and requires_grad; non-float inputs (class indices...) pass unchanged."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        return x
    if x.dtype != np.float64 and x.requires_grad:  # constants convert exactly; only checked inputs lose precision
        notes.append(f"input {position} ({x.name or 'unnamed'}) was {x.dtype}; checked on a float64 copy")
    copy = Tensor(np.array(x.data, dtype=np.float64), requires_grad=x.requires_grad, name=x.name)
    return copy


def _float64_inputs(inputs: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """``_float64_copy`` of every input, and one warning (at gradcheck's caller) naming those that were not float64."""
    notes: list[str] = []
    xs = [_float64_copy(x, i, notes) for i, x in enumerate(inputs)]
    if notes:
        warnings.warn(
            "gradcheck: " + "; ".join(notes) + ". Finite differences need float64: in float32 the rounding error of "
            "(f(x+h) - f(x-h)) / 2h is ~1e-7 * |f| / h, too large to tell a right gradient from a wrong one.",
            UserWarning,
            stacklevel=3,
        )
    return xs, notes


def central_differences(loss: Callable[[], float], array: np.ndarray, eps: float,
                        indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """dL/da_k ~ (L(a + eps e_k) - L(a - eps e_k)) / (2 eps) for each flat index k of ``array`` (all by default).

    ``array`` is perturbed in place, one element at a time, and restored; ``loss()`` re-evaluates the loss with
    it. Two forward passes per element: the chapter's finite-difference idea, and why it costs O(weights^2).
    """
    flat = array.reshape(-1)  # a view: writing into it perturbs ``array`` in place
    indices = range(flat.size) if indices is None else indices
    numeric = np.empty(len(indices))
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + eps
        plus = loss()
        flat[i] = original - eps
        minus = loss()
        flat[i] = original
        numeric[k] = (plus - minus) / (2 * eps)
    return numeric


def relative_error(a: Any, b: Any, floor: float = 0.0) -> np.ndarray:
    """``|a - b| / max(|a|, |b|, floor)`` elementwise, in float64: 0 where ``a == b`` (both 0 included), inf where
    either is NaN or inf (a non-finite gradient is always the worst mismatch).

    With ``floor = 0`` it is the plain relative error. A positive ``floor`` measures elements smaller than it against
    the floor instead, so that rounding noise on a near-zero value does not read as a large *relative* error (the
    training-time spot checks use ``atol / rtol``: an error above ``rtol`` then means ``|a - b| > atol``).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf - inf, 0 / 0: NaN, turned into inf below
        diff = np.abs(a - b)
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
        err = np.where(diff == 0, 0.0, diff / scale)
    return np.where(np.isnan(err), np.inf, err)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = True,
    seed: int | np.random.Generator = 0,
) -> GradcheckReport:
    """Compare the gradients backward() computes for ``fn(*inputs)`` with central finite differences.

    Every Tensor in ``inputs`` with ``requires_grad=True`` is checked, element by element:
    ``numeric_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, two forward passes per element, so the cost grows
    linearly with the number of checked elements (keep inputs small). An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Everything runs in float64: floating inputs are replaced by float64 copies (the originals are not touched), and
    ``fn`` runs under ``default_dtype(float64)`` so numbers and lists it turns into tensors are float64 too. A float32
    input triggers a ``UserWarning`` (see the module docstring for why float32 cannot be checked). Tensors ``fn``
    captures from outside (e.g. a float32 model's weights) are not converted: convert the model to float64 first.

    If ``fn`` returns a non-scalar ``out``, the checked function is ``L = sum(out * v)`` with ``v`` a fixed random
    normal array drawn from ``seed``: backward(gradient=v) gives the vector-Jacobian product ``v^T J`` and the
    differences estimate the same quantity. A wrong Jacobian entry is caught for almost every ``v``.

    ``fn`` must be deterministic (no dropout unless seeded identically on each call) and smooth near the inputs
    (a kink such as relu at 0 within ``eps`` of an element makes the difference quotient meaningless).

    Returns a ``GradcheckReport`` (truthy when all inputs pass). With ``raise_exception=True`` a failure raises
    ``GradcheckError`` naming the input and the index of the worst mismatch.
    """
    xs, notes = _float64_inputs((inputs,) if isinstance(inputs, Tensor) else inputs)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input has requires_grad=True, so there is no gradient to check")

    with default_dtype(np.float64):
        out = fn(*xs)
        if not isinstance(out, Tensor):
            raise GradcheckError(f"gradcheck: fn must return a Tensor, it returned {type(out).__name__}")
        if out.dtype != np.float64:
            raise GradcheckError(
                f"gradcheck: fn returned dtype {out.dtype}; it must compute in float64 (does it use float32 "
                "tensors captured from outside, e.g. a model's parameters? convert them with .double())"
            )
        projected = out.data.size != 1
        v = np.random.default_rng(seed).standard_normal(out.shape) if projected else np.ones(out.shape)
        if not out.requires_grad:
            raise GradcheckError("gradcheck: fn's output does not depend on any input that requires grad")
        out.backward(gradient=v)

        def loss() -> float:
            with no_grad():
                return float(np.sum(fn(*xs).data * v))

        checks = []
        for i in checked:
            x = xs[i]
            name = x.name or f"input {i}"
            analytic = np.zeros_like(x.data) if x.grad is None else x.grad.data
            if analytic.shape != x.shape:
                raise GradcheckError(f"gradcheck: {name} has shape {x.shape} but its gradient has shape "
                                     f"{analytic.shape}")
            numeric = central_differences(loss, x.data, eps).reshape(x.shape)
            checks.append(_compare(i, name, analytic, numeric, atol, rtol))

    report = GradcheckReport(checks, eps, atol, rtol, projected, notes)
    if raise_exception and not report.ok:
        bad = next(c for c in checks if not c.ok)
        raise GradcheckError(
            f"gradcheck: gradient of {bad.name} (shape {bad.shape}) is wrong at index {bad.worst_index}: analytic "
            f"{bad.analytic:.10g}, numeric {bad.numeric:.10g} (abs error {abs(bad.analytic - bad.numeric):.3e} > "
            f"atol {atol:g} + rtol {rtol:g} * |numeric|)\n{report}"
        )
    return report


def _compare(position: int, name: str, analytic: np.ndarray, numeric: np.ndarray, atol: float,
             rtol: float) -> InputCheck:
    if analytic.size == 0:
        return InputCheck(position, name, analytic.shape, 0.0, 0.0, (), 0.0, 0.0, True)
    diff = np.abs(analytic - numeric)
    excess = diff - (atol + rtol * np.abs(numeric))
    # NaN anywhere is a failure, and is the worst mismatch
    excess = np.where(np.isnan(excess), np.inf, excess)
    worst = np.unravel_index(int(np.argmax(excess)), analytic.shape)
    return InputCheck(
        position=position,
        name=name,
        shape=tuple(analytic.shape),
        max_abs_error=float(np.max(np.where(np.isnan(diff), np.inf, diff))),
        max_rel_error=float(np.max(relative_error(analytic, numeric))),
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]),
        numeric=float(numeric[worst]),
        ok=bool(np.all(excess <= 0)),
    )
