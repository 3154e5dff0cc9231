"""Finite differences against the chain rule at one step's weights, and why they disagree where they do.

The chain rule computed in float64 at the same weights is the reference. An element disagrees when
|fd - chain| > tolerance * |chain|, or when fd is exactly 0 and chain is not; each disagreement is explained from
measurements, in plain words (see ``explain_element``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnblocks.fundamentals import chain_rule_gradients

# In the faithful runs finite differences stay within 0.3 % of the chain rule wherever nothing breaks down
# (measured: 2.75e-3 at worst, on the 2-3-1 network), so 1 % marks a clear disagreement.
DEFAULT_TOLERANCE = 1e-2


@dataclass
class ElementFinding:
    """One weight whose finite-difference derivative disagrees with the chain rule, and why."""

    epoch: int
    name: str
    index: tuple[int, ...]
    weight: float
    finite_difference: float
    chain_rule: float
    reason: str  # "nudge lost", "nudge distorted", "loss rounding", "truncation"
    explanation: str


@dataclass
class StepComparison:
    """Finite differences against the float64 chain rule at one step's weights."""

    epoch: int
    max_relative_difference: float
    findings: list[ElementFinding] = field(default_factory=list)


def as_float64(arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def relative_differences(fd: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|fd - ref| / |ref| per element; 0 where both are 0, inf where only ref is 0."""
    fd, ref = np.asarray(fd, np.float64), np.asarray(ref, np.float64)
    diff = np.abs(fd - ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(ref)
    return np.where(diff == 0, 0.0, rel)


def _truncation_error(x64, y64, w64, i: int, index: tuple, h: float, scheme: str) -> float:
    """The finite difference's own error with exact arithmetic, estimated from chain-rule gradients in float64.

    Forward: (L(w+h) - L(w)) / h = L'(w) + h/2 L''(w) + ...;  central: L'(w) + h^2/6 L'''(w) + ...
    L'' and L''' come from differencing the chain-rule derivative itself, so no loss rounding enters.
    """

    def slope_at(shift: float) -> float:
        shifted = [w.copy() for w in w64]
        shifted[i][index] += shift
        return float(chain_rule_gradients(x64, y64, shifted)[i][index])

    g0, g_plus = slope_at(0.0), slope_at(h)
    if scheme == "forward":
        return h / 2 * (g_plus - g0) / h
    return h**2 / 6 * (g_plus - 2 * g0 + slope_at(-h)) / h**2


def explain_element(
    inputs: object,
    outputs: object,
    weights: list[np.ndarray],
    i: int,
    index: tuple[int, ...],
    fd: float,
    ref: float,
    loss: np.generic,
    h: float,
    tolerance: float,
    scheme: str = "forward",
    trains_with_fd: bool = True,
) -> tuple[str, str]:
    """Why the finite-difference derivative of ``weights[i][index]`` is off: (reason, a sentence for a learner).

    The reasons are measured, not guessed: the nudged weight is stored in the weights' own dtype exactly as the
    finite difference stored it ("nudge lost" if it did not move, "nudge distorted" if it moved by a step
    noticeably different from h); otherwise the method's truncation error is estimated from chain-rule
    derivatives ("truncation"), and what that does not account for is rounding in the two losses ("loss rounding").
    """
    weight = np.asarray(weights[i])[index]
    dtype_w = np.result_type(weight)
    w = float(weight)
    step = float(np.asarray(weight + h, dtype=dtype_w)) - w  # what ``w[index] += h`` really adds
    spacing = float(np.spacing(np.abs(weight)))
    if step == 0:
        consequence = (" Gradient descent then stops moving this weight for good." if trains_with_fd else
                       " (Training here uses the chain rule, so the weight still moves.)")
        return "nudge lost", (
            f"the weight is {w:.7g}, stored as {dtype_w}, where neighbouring numbers are {spacing:.2g} apart; "
            f"{w:.7g} + {h:g} rounds back to {w:.7g}, so the nudged network is the same network, the loss does "
            f"not move and the finite difference is exactly 0, although the true slope is {ref:.4g}." + consequence
        )
    if abs(step - h) > tolerance / 2 * h:
        return "nudge distorted", (
            f"the weight is {w:.7g}, stored as {dtype_w}, where neighbouring numbers are {spacing:.2g} apart; "
            f"{w:.7g} + {h:g} lands {step:.3g} away instead of {h:g}, but the difference in loss is still divided "
            f"by {h:g}, so the slope comes out {abs(step / h - 1):.0%} "
            f"{'too steep' if step > h else 'too shallow'} ({fd:.4g} instead of {ref:.4g})."
        )
    x64, y64, w64 = as_float64([inputs])[0], as_float64([outputs])[0], as_float64(weights)
    truncation = _truncation_error(x64, y64, w64, i, index, h, scheme)
    rounding = (fd - ref) - truncation
    if abs(truncation) >= abs(rounding):
        formula = "h^2/6 x (third derivative)" if scheme == "central" else "h/2 x (second derivative)"
        return "truncation", (
            f"even with exact arithmetic a finite difference measures the average slope over a step of {h:g}, "
            f"not the slope at the point; that error, {formula} = {truncation:.2g}, is large next to a gradient "
            f"as small as {ref:.3g} ({fd:.4g} instead)."
        )
    loss_spacing = float(np.spacing(np.abs(loss)))
    return "loss rounding", (
        f"the loss is {float(loss):.4g}, stored as {np.result_type(loss)} in steps of {loss_spacing:.2g}; a nudge "
        f"of {h:g} moves it by only about {abs(ref) * h:.2g}, so a rounding error of a few steps in either loss "
        f"is a large part of their difference ({fd:.4g} instead of {ref:.4g}; truncation accounts for only "
        f"{abs(truncation):.2g} of the {abs(fd - ref):.2g})."
    )


def compare_with_chain_rule(
    inputs: object,
    outputs: object,
    weights: list[np.ndarray],
    fd_grads: list[np.ndarray],
    names: list[str],
    epoch: int,
    h: float,
    tolerance: float,
    loss: np.generic,
    scheme: str = "forward",
    trains_with_fd: bool = True,
) -> StepComparison:
    """Compare ``fd_grads`` with the chain rule in float64 at ``weights`` and explain each disagreement.

    An element disagrees when |fd - chain| > tolerance * |chain|, or when fd is exactly 0 and chain is not.
    """
    ref = chain_rule_gradients(as_float64([inputs])[0], as_float64([outputs])[0], as_float64(weights))
    comparison = StepComparison(epoch=epoch, max_relative_difference=0.0)
    for i, (name, g, r) in enumerate(zip(names, fd_grads, ref)):
        rel = relative_differences(g, r)
        comparison.max_relative_difference = max(comparison.max_relative_difference, float(np.max(rel)))
        bad = (rel > tolerance) | ((np.asarray(g) == 0) & (r != 0))
        for index in zip(*np.nonzero(bad)):
            index = tuple(int(k) for k in index)
            fd_value, ref_value = float(g[index]), float(r[index])
            reason, text = explain_element(inputs, outputs, weights, i, index, fd_value, ref_value, loss, h,
                                           tolerance, scheme, trains_with_fd)
            comparison.findings.append(ElementFinding(epoch, name, index, float(np.asarray(weights[i])[index]),
                                                      fd_value, ref_value, reason, text))
    return comparison
