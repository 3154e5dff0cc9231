"""Chapter 1's two experiments, run and checked: the 2-3-1 network and the learning-rate study.

By default everything is the chapter's procedure exactly ("faithful": its dtypes, the forward finite difference,
step 1e-4), so the numbers are the chapter's. At every step the finite-difference gradient is also compared with
the chain rule computed in float64 at the same weights; where they disagree beyond a tolerance, or where the finite
difference is exactly 0 and the chain rule is not, the check records why, in plain words (see ``explain_element``).

``run_demo`` runs both experiments, ``format_report`` turns the results into the text ``nnblocks demo`` prints,
and ``save_figures`` draws the plots.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    train,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "DemoResult",
    "ElementFinding",
    "GradientCheck",
    "RunResult",
    "check_gradients",
    "explain_element",
    "format_report",
    "run_demo",
    "run_experiment",
    "save_figures",
]

# In the faithful runs finite differences stay within 0.3 % of the chain rule wherever nothing breaks down
# (measured: 2.75e-3 at worst, on the 2-3-1 network), so 1 % marks a clear disagreement.
DEFAULT_TOLERANCE = 1e-2

NETWORK_NAMES = ["W1", "b1", "W2", "b2"]
NEURON_NAMES = ["W", "b"]


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
class GradientCheck:
    """Finite differences against the float64 chain rule at one step's weights."""

    epoch: int
    max_relative_difference: float
    findings: list[ElementFinding] = field(default_factory=list)


@dataclass
class RunResult:
    """One training run with its per-step gradient checks."""

    label: str
    names: list[str]
    precision: str
    method: str
    history: Trajectory
    checks: list[GradientCheck]
    chain_history: Trajectory | None = None  # the same run with the chain rule, for comparison

    @property
    def max_relative_difference(self) -> tuple[float, int]:
        worst = max(self.checks, key=lambda c: c.max_relative_difference)
        return worst.max_relative_difference, worst.epoch

    @property
    def findings(self) -> list[ElementFinding]:
        return [f for c in self.checks for f in c.findings]


@dataclass
class DemoResult:
    network: RunResult
    study: dict[float, RunResult]
    precision: str
    method: str
    h: float
    tolerance: float


def _as64(arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _relative_differences(fd: np.ndarray, ref: np.ndarray) -> np.ndarray:
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
    x64, y64, w64 = _as64([inputs])[0], _as64([outputs])[0], _as64(weights)
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


def check_gradients(
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
) -> GradientCheck:
    """Compare ``fd_grads`` with the chain rule in float64 at ``weights`` and explain each disagreement.

    An element disagrees when |fd - chain| > tolerance * |chain|, or when fd is exactly 0 and chain is not.
    """
    ref = chain_rule_gradients(_as64([inputs])[0], _as64([outputs])[0], _as64(weights))
    check = GradientCheck(epoch=epoch, max_relative_difference=0.0)
    for i, (name, g, r) in enumerate(zip(names, fd_grads, ref)):
        rel = _relative_differences(g, r)
        check.max_relative_difference = max(check.max_relative_difference, float(np.max(rel)))
        bad = (rel > tolerance) | ((np.asarray(g) == 0) & (r != 0))
        for index in zip(*np.nonzero(bad)):
            index = tuple(int(k) for k in index)
            fd_value, ref_value = float(g[index]), float(r[index])
            reason, text = explain_element(inputs, outputs, weights, i, index, fd_value, ref_value, loss, h,
                                           tolerance, scheme, trains_with_fd)
            check.findings.append(ElementFinding(epoch, name, index, float(np.asarray(weights[i])[index]),
                                                 fd_value, ref_value, reason, text))
    return check


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
    """Train on ``data`` with ``method``, check the finite difference at every step, and rerun with the chain rule."""
    x, y, w0 = data
    history = train(x, y, w0, lr, epochs, method, h=h)
    scheme = method if method in ("forward", "central") else "forward"
    checks = []
    for epoch in range(history.epochs):
        weights = history.weights[epoch]
        fd = history.gradients[epoch] if method != "chain" else finite_difference_gradients(x, y, weights, h, scheme)
        checks.append(check_gradients(x, y, weights, fd, names, epoch, h, tolerance, history.losses[epoch],
                                      scheme, trains_with_fd=method != "chain"))
    chain = history if method == "chain" else train(x, y, w0, lr, epochs, "chain", h=h)
    return RunResult(label, names, precision, method, history, checks, chain)


def run_demo(
    precision: str = "chapter", method: str = "forward", h: float = DEFAULT_STEP, tolerance: float = DEFAULT_TOLERANCE
) -> DemoResult:
    """Both experiments of the chapter, with gradient checks at every step (a fraction of a second)."""
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
    return DemoResult(network, study, precision, method, h, tolerance)


# ----------------------------------------------------------------------------------------------------------- report

_PRECISION_TEXT = {
    "chapter": "the chapter's dtypes: float32 weights, integer data, so losses and gradients are float64",
    "float32": "float32 weights and data: every number is float32",
    "float64": "float64 everywhere",
}
_METHOD_TEXT = {
    "forward": "forward finite difference",
    "central": "central finite difference",
    "chain": "chain rule",
}


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.4f}" for v in np.ravel(values)) + "]"


def _summarise_findings(run: RunResult, tolerance: float) -> list[str]:
    findings = run.findings
    if not findings:
        return [f"  agree within {tolerance:.0%} at every step."]
    steps = sorted({f.epoch for f in findings})
    zeros = sum(1 for f in findings if f.finite_difference == 0)
    summary = (f"  DISAGREE beyond {tolerance:.0%} at {len(steps)} of {len(run.checks)} steps "
               f"(first at epoch {steps[0]})")
    if zeros:
        summary += f"; {zeros} derivatives came out exactly 0 while the chain rule's were not"
    lines = [summary + "."]
    seen: set[str] = set()
    for f in findings:  # one example of each reason, in the order they first happened
        if f.reason in seen:
            continue
        seen.add(f.reason)
        idx = "" if f.name in ("W", "b") and f.index in ((0,), (0, 0)) else str(list(f.index))
        lines.append(f"  - {f.reason}, e.g. {f.name}{idx} at epoch {f.epoch}: {f.explanation}")
    return lines


def format_report(result: DemoResult) -> str:
    """The text ``nnblocks demo`` prints."""
    faithful = (result.precision, result.method) == ("chapter", "forward")
    lines = [
        "nnblocks demo: chapter 1 by hand",
        f"mode: {_METHOD_TEXT[result.method]} (step {result.h:g}) with {_PRECISION_TEXT[result.precision]}"
        + (" [faithful: the chapter's procedure]" if faithful else ""),
        "",
        *_network_section(result),
        "",
        *_study_section(result),
        "",
        *_conclusions(result),
    ]
    return "\n".join(lines)


def _network_section(result: DemoResult) -> list[str]:
    net, hist = result.network, result.network.history
    lines = [
        f"1. The 2-3-1 network: x = [[1, 1]], y = [[0]], lr {NETWORK_LR:g}, {hist.epochs} epochs",
        f"  initial loss {float(hist.losses[0]):.8g}",
        f"  loss at epoch {hist.epochs} (before its update, the chapter's last point) {float(hist.losses[-1]):.8g}; "
        f"after the last update {float(hist.final_loss):.8g}",
    ]
    if net.chain_history is not None and net.chain_history is not hist:
        lines.append(f"  same run with the chain rule: final loss {float(net.chain_history.final_loss):.8g}")
    scheme = "central" if result.method == "central" else "forward"
    x, y, w = network_231(result.precision)
    fd = finite_difference_gradients(x, y, w, result.h, scheme)
    ref = chain_rule_gradients(*_as64([x, y]), _as64(w))
    lines.append(f"  gradients at the initial weights ({_METHOD_TEXT[scheme]} vs chain rule in float64):")
    worst = 0.0
    for name, g, r in zip(NETWORK_NAMES, fd, ref):
        worst = max(worst, float(np.max(_relative_differences(g, r))))
        lines.append(f"    dL/d{name:<3} finite difference {_fmt(g)}")
        lines.append(f"    {'':7}chain rule        {_fmt(r)}")
    rel, epoch = net.max_relative_difference
    lines += [
        f"  largest relative difference at the initial weights: {worst:.2e}",
        f"  largest relative difference over all {len(net.checks)} steps: {rel:.2e} (epoch {epoch})",
        *_summarise_findings(net, result.tolerance),
    ]
    return lines


def _study_section(result: DemoResult) -> list[str]:
    lines = [f"2. Learning-rate study: y = 3x on x = 1..4, one neuron y = W x + b from W = b = 0, "
             f"{STUDY_EPOCHS} epochs"]
    for lr, run in result.study.items():
        hist = run.history
        w, b = (float(np.ravel(a)[0]) for a in hist.final_weights)
        lines.append(f"  lr {lr:<5g} final W = {w:.7g}, b = {b:.7g}, loss {float(hist.final_loss):.6g}")
        if run.chain_history is not None and run.chain_history is not hist:
            cw, cb = (float(np.ravel(a)[0]) for a in run.chain_history.final_weights)
            lines.append(f"  {'':8} chain rule: W = {cw:.7g}, b = {cb:.7g}, "
                         f"loss {float(run.chain_history.final_loss):.6g}")
        rel, epoch = run.max_relative_difference
        rel_text = f"{rel:.2e}" if np.isfinite(rel) else "inf (a derivative was not 0 where the chain rule's was)"
        lines.append(f"  {'':8} largest relative difference to the chain rule: {rel_text} (epoch {epoch})")
        lines += ["  " + line for line in _summarise_findings(run, result.tolerance)]
    return lines


def _conclusions(result: DemoResult) -> list[str]:
    """A few plain sentences on what the numbers above mean, each backed by a measurement in ``result``."""
    out = ["What this shows:"]
    for lr, run in result.study.items():
        hist = run.history
        start, end = float(hist.losses[0]), float(hist.final_loss)
        w = np.array([float(np.ravel(ws[0])[0]) for ws in hist.weights])
        turns = int(np.sum(np.diff(np.sign(np.diff(w))) != 0))  # how often W changes direction
        if end < start:
            b_end = float(np.ravel(hist.final_weights[1])[0])
            how = "overshoots and zig-zags" if turns >= 2 else "moves steadily, one small step at a time"
            out.append(f"- lr {lr:g}: the loss falls from {start:.4g} to {end:.4g} in {hist.epochs} epochs; W {how} "
                       f"(W = {w[-1]:.3g}, b = {b_end:.3g} at the end; the exact fit is W = 3, b = 0).")
            continue
        text = (f"- lr {lr:g}: each step overshoots by more than it corrects, so W and b swing ever wider and the "
                f"loss explodes ({start:.4g} to {end:.4g}): the run diverges.")
        stuck = [f for f in run.findings if f.reason == "nudge lost"]
        dtype = np.result_type(hist.weights[0][0])
        if stuck and result.method != "chain":
            text += (f" With finite differences the weights then freeze from epoch {stuck[0].epoch}: they are so "
                     f"large that adding the {result.h:g} nudge does not change them in {dtype}, so every "
                     "derivative reads exactly 0. That flat line in the plot is an artefact of the method, not "
                     "convergence; the chain rule keeps diverging.")
        elif stuck:
            text += (f" Finite differences checked at the same weights read exactly 0 from epoch {stuck[0].epoch}: "
                     f"the weights are so large that the {result.h:g} nudge does not change them in {dtype}.")
        out.append(text)
    if not result.network.findings:
        out.append(_network_conclusion(result))
    return out


def _network_conclusion(result: DemoResult) -> str:
    """Why the 2-3-1 network's finite differences stay close to the chain rule, with the measured numbers."""
    net, h = result.network, result.h
    scheme = "central" if result.method == "central" else "forward"
    worst, worst_epoch = net.max_relative_difference
    largest_weight = max(float(np.max(np.abs(w))) for ws in net.history.weights for w in ws)
    weight_dtype = np.result_type(net.history.weights[0][0])
    spacing = float(np.spacing(np.asarray(largest_weight, dtype=weight_dtype)))
    text = (f"- The 2-3-1 network: finite differences and the chain rule agree to {worst:.2e} or better at every "
            f"step. Its weights stay below {largest_weight:.2g} in size, where {weight_dtype} numbers are at most "
            f"{spacing:.1g} apart, so the {h:g} nudge is stored with a relative error of at most "
            f"{spacing / 2 / h:.1e}.")
    # What dominates the worst step: the method's own truncation error, or rounding? Measure both.
    x, y, _ = network_231("float64")
    w64 = _as64(net.history.weights[worst_epoch])
    ref = chain_rule_gradients(x, y, w64)
    exact_fd = finite_difference_gradients(x, y, w64, h, scheme)  # float64: (almost) only truncation error
    truncation_only = max(float(np.max(_relative_differences(e, r))) for e, r in zip(exact_fd, ref))
    g_start = max(float(np.max(np.abs(g))) for g in chain_rule_gradients(x, y, _as64(net.history.weights[0])))
    g_worst = max(float(np.max(np.abs(g))) for g in ref)
    if truncation_only >= worst / 2:
        text += (f" The largest difference (epoch {worst_epoch}) is the method's own truncation error: the same "
                 f"finite difference in float64 is off by {truncation_only:.1e} too. It looms larger as training "
                 f"goes on because the gradients shrink (largest {g_start:.2g} at the start, {g_worst:.2g} at "
                 f"epoch {worst_epoch}) while that error does not.")
    else:
        text += (f" The largest difference (epoch {worst_epoch}) comes from rounding, not from the method: the "
                 f"same finite difference in float64 is off by only {truncation_only:.1e}.")
    return text


# ---------------------------------------------------------------------------------------------------------- figures


def save_figures(result: DemoResult, out_dir: str | Path) -> list[Path]:
    """Write the demo's PNG plots into ``out_dir`` (created if needed) and return their paths."""
    from nnblocks.viz.curves import (
        gradient_check_figure,
        learning_rate_study_figure,
        loss_curve_figure,
        save_figure,
    )

    out = Path(out_dir)
    method = _METHOD_TEXT[result.method]
    net = result.network
    series = {method: net.history.losses}
    if net.chain_history is not None and net.chain_history is not net.history:
        series["chain rule"] = net.chain_history.losses
    paths = [save_figure(loss_curve_figure(series, title=f"2-3-1 network, lr {NETWORK_LR:g}: loss over epochs"),
                         out / "network_loss.png")]

    runs, reference = {}, {}
    for lr, run in result.study.items():
        runs[lr] = _neuron_series(run.history)
        if run.chain_history is not None and run.chain_history is not run.history:
            reference[lr] = _neuron_series(run.chain_history)
    fig = learning_rate_study_figure(runs, reference=reference or None, label=method, reference_label="chain rule",
                                     title="Learning-rate study: y = W x + b fitting y = 3x")
    paths.append(save_figure(fig, out / "learning_rate_study.png"))

    checks = {"2-3-1 network": [c.max_relative_difference for c in net.checks]}
    for lr, run in result.study.items():
        checks[f"neuron, lr {lr:g}"] = [c.max_relative_difference for c in run.checks]
    fig = gradient_check_figure(checks, tolerance=result.tolerance,
                                title=f"{method} vs chain rule, step by step")
    paths.append(save_figure(fig, out / "gradient_check.png"))
    return paths


def _neuron_series(history: Trajectory) -> dict[str, np.ndarray]:
    """W and b at the start of every epoch plus the end, and the loss at the same points."""
    w = np.array([float(np.ravel(ws[0])[0]) for ws in history.weights])
    b = np.array([float(np.ravel(ws[1])[0]) for ws in history.weights])
    loss = np.append(np.asarray(history.losses, np.float64), float(history.final_loss))
    return {"W": w, "b": b, "loss": loss}
