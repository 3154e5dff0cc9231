"""Chapter 1's two experiments, run: the 2-3-1 network and the learning-rate study, with the finite differences
compared with the chain rule at every step, and the measurements the report's conclusions rest on.

Everything here is computed; ``report`` and ``figures`` only read a ``DemoResult``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnblocks.experiments.chapter1.comparison import (
    DEFAULT_TOLERANCE,
    ElementFinding,
    StepComparison,
    as_float64,
    compare_with_chain_rule,
    relative_differences,
)
from nnblocks.fundamentals import (
    DEFAULT_STEP,
    LEARNING_RATES,
    METHODS,
    NETWORK_EPOCHS,
    NETWORK_LR,
    PRECISIONS,
    STUDY_EPOCHS,
    Trajectory,
    chain_rule_gradients,
    finite_difference_gradients,
    linear_neuron,
    network_231,
    gradient_descent,
)

NETWORK_NAMES = ["W1", "b1", "W2", "b2"]
NEURON_NAMES = ["W", "b"]
# The chapter also plots W over 1000 epochs at each rate (Learning_rate.ipynb cells 5, 7, 9); ~0.1 s each.
LONG_STUDY_EPOCHS = 1000


@dataclass
class RunResult:
    """One training run with its finite differences compared with the chain rule at every step."""

    label: str
    names: list[str]
    precision: str
    method: str
    history: Trajectory
    comparisons: list[StepComparison]
    chain_history: Trajectory | None = None  # the same run with the chain rule, for comparison

    @property
    def max_relative_difference(self) -> tuple[float, int]:
        worst = max(self.comparisons, key=lambda c: c.max_relative_difference)
        return worst.max_relative_difference, worst.epoch

    @property
    def findings(self) -> list[ElementFinding]:
        return [f for c in self.comparisons for f in c.findings]

    @property
    def weight_turns(self) -> int:
        """How often the first weight (the neuron's W) changed direction: 0 for a steady walk, more for a zig-zag."""
        w = np.array([float(np.ravel(ws[0])[0]) for ws in self.history.weights])
        return int(np.sum(np.diff(np.sign(np.diff(w))) != 0))


@dataclass
class InitialGradients:
    """The 2-3-1 network's gradient at its initial weights, by finite differences and by the chain rule (float64)."""

    scheme: str  # "forward" or "central"
    finite_difference: list[np.ndarray]
    chain_rule: list[np.ndarray]
    max_relative_difference: float


@dataclass
class NetworkAgreement:
    """Why the 2-3-1 network's finite differences stay close to the chain rule, measured at its worst step."""

    worst: float  # the largest relative difference over all steps, at ``worst_epoch``
    worst_epoch: int
    largest_weight: float  # in size, over all steps
    weight_dtype: np.dtype
    spacing: float  # between neighbouring numbers of ``weight_dtype`` at ``largest_weight``
    truncation_only: float  # the same finite difference in float64 at the worst step: (almost) only truncation error
    largest_gradient_start: float
    largest_gradient_worst: float


@dataclass
class DemoResult:
    network: RunResult
    study: dict[float, RunResult]
    precision: str
    method: str
    h: float
    tolerance: float
    initial: InitialGradients
    agreement: NetworkAgreement | None  # measured only when the network's finite differences never disagree
    long_study: dict[float, Trajectory | str] | None = None  # LONG_STUDY_EPOCHS per rate (str: it overflowed)


def run_experiment(
    label: str,
    names: list[str],
    data: tuple[np.ndarray, np.ndarray, list[np.ndarray]],
    lr: float,
    epochs: int,
    *,
    precision: str,
    method: str,
    h: float,
    tolerance: float,
) -> RunResult:
    """Train on ``data`` with ``method``, compare the finite difference with the chain rule at every step, and rerun
    with the chain rule."""
    x, y, w0 = data
    history = gradient_descent(x, y, w0, lr, epochs, method, h=h)
    scheme = method if method in ("forward", "central") else "forward"
    comparisons = []
    for epoch in range(history.epochs):
        weights = history.weights[epoch]
        fd = history.gradients[epoch] if method != "chain" else finite_difference_gradients(x, y, weights, h, scheme)
        comparisons.append(compare_with_chain_rule(x, y, weights, fd, names, epoch, h, tolerance,
                                                   history.losses[epoch], scheme, trains_with_fd=method != "chain"))
    chain = history if method == "chain" else gradient_descent(x, y, w0, lr, epochs, "chain", h=h)
    return RunResult(label, names, precision, method, history, comparisons, chain)


def initial_gradients(precision: str, method: str, h: float) -> InitialGradients:
    """Both gradients of the 2-3-1 network at its initial weights: the finite difference of ``method`` (the forward
    one when training uses the chain rule) and the chain rule in float64."""
    scheme = "central" if method == "central" else "forward"
    x, y, w = network_231(precision)
    fd = finite_difference_gradients(x, y, w, h, scheme)
    ref = chain_rule_gradients(*as_float64([x, y]), as_float64(w))
    worst = 0.0
    for g, r in zip(fd, ref):
        worst = max(worst, float(np.max(relative_differences(g, r))))
    return InitialGradients(scheme, fd, ref, worst)


def network_agreement(net: RunResult, method: str, h: float) -> NetworkAgreement:
    """What dominates the worst step of the 2-3-1 network: the method's own truncation error, or rounding."""
    scheme = "central" if method == "central" else "forward"
    worst, worst_epoch = net.max_relative_difference
    largest_weight = max(float(np.max(np.abs(w))) for ws in net.history.weights for w in ws)
    weight_dtype = np.result_type(net.history.weights[0][0])
    spacing = float(np.spacing(np.asarray(largest_weight, dtype=weight_dtype)))
    x, y, _ = network_231("float64")
    w64 = as_float64(net.history.weights[worst_epoch])
    ref = chain_rule_gradients(x, y, w64)
    exact_fd = finite_difference_gradients(x, y, w64, h, scheme)  # float64: (almost) only truncation error
    truncation_only = max(float(np.max(relative_differences(e, r))) for e, r in zip(exact_fd, ref))
    g_start = max(float(np.max(np.abs(g))) for g in chain_rule_gradients(x, y, as_float64(net.history.weights[0])))
    g_worst = max(float(np.max(np.abs(g))) for g in ref)
    return NetworkAgreement(worst, worst_epoch, largest_weight, weight_dtype, spacing, truncation_only, g_start,
                            g_worst)


def run_demo(
    precision: str = "chapter", method: str = "forward", h: float = DEFAULT_STEP, tolerance: float = DEFAULT_TOLERANCE
) -> DemoResult:
    """Both experiments of the chapter, compared with the chain rule at every step (a fraction of a second)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    options = dict(precision=precision, method=method, h=h, tolerance=tolerance)
    network = run_experiment("2-3-1 network", NETWORK_NAMES, network_231(precision), NETWORK_LR, NETWORK_EPOCHS,
                             **options)
    study = {
        lr: run_experiment(f"linear neuron, lr {lr:g}", NEURON_NAMES, linear_neuron(precision), lr, STUDY_EPOCHS,
                           **options)
        for lr in LEARNING_RATES
    }
    agreement = None if network.findings else network_agreement(network, method, h)
    long_study: dict[float, Trajectory | str] = {}
    for lr in LEARNING_RATES:
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # lr 1 explodes
                long_study[lr] = gradient_descent(*linear_neuron(precision), lr, LONG_STUDY_EPOCHS, method, h=h)
        except ValueError as exc:  # by the chain rule (or in float64) the loss overflows to inf: said, not drawn
            long_study[lr] = str(exc)
    return DemoResult(network, study, precision, method, h, tolerance, initial_gradients(precision, method, h),
                      agreement, long_study)
