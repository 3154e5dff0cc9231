"""The text ``nnblocks demo`` prints: chapter 1's results in plain words, read from a ``DemoResult`` (nothing is
computed here beyond picking and formatting numbers)."""
from __future__ import annotations

import numpy as np

from nnblocks.experiments import book
from nnblocks.experiments.chapter1.runs import LONG_STUDY_EPOCHS, NETWORK_NAMES, DemoResult, RunResult
from nnblocks.fundamentals import NETWORK_LR, STUDY_EPOCHS

# The chapter prints float32 weights with 7-8 significant digits: agreeing to 1e-6 is agreeing to float32 precision
# for weights below 1 in size (spacing 6e-8 there; a few roundings of difference over 100 epochs stay far below).
BOOK_TOLERANCE = 1e-6

PRECISION_TEXT = {
    "chapter": "the chapter's dtypes: float32 weights, integer data, so losses and gradients are float64",
    "float32": "float32 weights and data: every number is float32",
    "float64": "float64 everywhere",
}
METHOD_TEXT = {
    "forward": "forward finite difference",
    "central": "central finite difference",
    "chain": "chain rule",
}


def format_report(result: DemoResult) -> str:
    """The text ``nnblocks demo`` prints."""
    faithful = (result.precision, result.method) == ("chapter", "forward")
    lines = [
        "nnblocks demo: chapter 1 by hand",
        f"mode: {METHOD_TEXT[result.method]} (step {result.h:g}) with {PRECISION_TEXT[result.precision]}"
        + (" [faithful: the chapter's procedure]" if faithful else ""),
        "",
        *_network_section(result),
        "",
        *_study_section(result),
        "",
        *_conclusions(result),
        "",
        *book_lines(result),
    ]
    return "\n".join(lines)


def book_comparison(result: DemoResult) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(what, the book's printed value, this run's) for every number the chapter printed that the demo computes."""
    net, neuron = book.record("demo/network"), book.record("demo/learning-rate")
    final = result.network.history.final_weights
    rows = [(f"{name} after 100 epochs", np.asarray(net.value(f"{name} after 100 epochs" + (
        " (rows: inputs)" if name == "W1" else "")), np.float64), np.asarray(w, np.float64))
        for name, w in zip(NETWORK_NAMES, final)]
    rows.insert(0, ("loss at the initial weights", np.asarray(net.value("loss at the initial weights")),
                    np.asarray(float(result.network.history.losses[0]))))
    for lr, run in result.study.items():
        w, b = (float(np.ravel(a)[0]) for a in run.history.final_weights)
        rows.append((f"W, b after {STUDY_EPOCHS} epochs at lr {lr:g}",
                     np.asarray(neuron.value(f"W, b after 10 epochs at lr {lr:g}"), np.float64), np.array([w, b])))
    return rows


def book_lines(result: DemoResult) -> list[str]:
    """The book's printed numbers beside this run's, and the verdict (relative differences, float32 precision)."""
    lines = ["The book (Chapter01/Back_propagation.ipynb cell 6, Chain_rule.ipynb cell 3, Learning_rate.ipynb cells "
             "13-17; exact printed values):"]
    worst = 0.0
    for what, printed, mine in book_comparison(result):
        rel = float(np.max(np.abs(mine - printed) / np.maximum(np.abs(printed), 1.0)))
        worst = max(worst, rel)
        shown = [", ".join(f"{float(v):.8g}" for v in np.ravel(a)) for a in (printed, mine)]
        lines.append(f"  {what}: book [{shown[0]}]; this run [{shown[1]}]")
    faithful = (result.precision, result.method) == ("chapter", "forward")
    status = "reproduced" if worst <= BOOK_TOLERANCE else "differs"
    why = "" if status == "reproduced" or not faithful else " (unexpected: the faithful mode should match)"
    if status == "differs" and not faithful:
        why = " (this mode is not the chapter's procedure: run without --method/--precision to compare)"
    lines.append(f"  Verdict: {status}: largest difference {worst:.1e} (relative, or absolute below 1){why}.")
    return lines


def _fmt(values: np.ndarray, digits: int = 4) -> str:
    return "[" + ", ".join(f"{float(v):.{digits}f}" for v in np.ravel(values)) + "]"


def _summarise_findings(run: RunResult, tolerance: float) -> list[str]:
    findings = run.findings
    if not findings:
        return [f"  agree within {tolerance:.0%} at every step."]
    steps = sorted({f.epoch for f in findings})
    zeros = sum(1 for f in findings if f.finite_difference == 0)
    summary = (f"  DISAGREE beyond {tolerance:.0%} at {len(steps)} of {len(run.comparisons)} steps "
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


def _network_section(result: DemoResult) -> list[str]:
    net, hist, initial = result.network, result.network.history, result.initial
    lines = [
        f"1. The 2-3-1 network: x = [[1, 1]], y = [[0]], lr {NETWORK_LR:g}, {hist.epochs} epochs",
        f"  initial loss {float(hist.losses[0]):.8g}",
        f"  loss at epoch {hist.epochs} (before its update, the chapter's last point) {float(hist.losses[-1]):.8g}; "
        f"after the last update {float(hist.final_loss):.8g}",
    ]
    if net.chain_history is not None and net.chain_history is not hist:
        lines.append(f"  same run with the chain rule: final loss {float(net.chain_history.final_loss):.8g}")
    lines.append(f"  gradients at the initial weights ({METHOD_TEXT[initial.scheme]} vs chain rule in float64):")
    for name, g, r in zip(NETWORK_NAMES, initial.finite_difference, initial.chain_rule):
        lines.append(f"    dL/d{name:<3} finite difference {_fmt(g)}")
        lines.append(f"    {'':7}chain rule        {_fmt(r)}")
    lines.append("  final weights after the last update: " + "; ".join(
        f"{name} {_fmt(w, 8)}" for name, w in zip(NETWORK_NAMES, hist.final_weights)))
    rel, epoch = net.max_relative_difference
    lines += [
        f"  largest relative difference at the initial weights: {initial.max_relative_difference:.2e}",
        f"  largest relative difference over all {len(net.comparisons)} steps: {rel:.2e} (epoch {epoch})",
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
    if result.long_study:
        lines.append(f"  over {LONG_STUDY_EPOCHS} epochs (as the chapter also plots): " + "; ".join(
            f"lr {lr:g}: " + (t if isinstance(t, str) else f"W = {float(np.ravel(t.final_weights[0])[0]):.7g}, "
                              f"b = {float(np.ravel(t.final_weights[1])[0]):.7g}")
            for lr, t in result.long_study.items()))
    return lines


def _conclusions(result: DemoResult) -> list[str]:
    """A few plain sentences on what the numbers above mean, each backed by a measurement in ``result``."""
    out = ["What this shows:"]
    for lr, run in result.study.items():
        hist = run.history
        start, end = float(hist.losses[0]), float(hist.final_loss)
        if end < start:
            w_end, b_end = (float(np.ravel(a)[0]) for a in hist.final_weights)
            how = "overshoots and zig-zags" if run.weight_turns >= 2 else "moves steadily, one small step at a time"
            out.append(f"- lr {lr:g}: the loss falls from {start:.4g} to {end:.4g} in {hist.epochs} epochs; W {how} "
                       f"(W = {w_end:.3g}, b = {b_end:.3g} at the end; the exact fit is W = 3, b = 0).")
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
    if result.agreement is not None:
        out.append(_network_conclusion(result))
    return out


def _network_conclusion(result: DemoResult) -> str:
    """Why the 2-3-1 network's finite differences stay close to the chain rule, with the measured numbers."""
    a, h = result.agreement, result.h
    text = (f"- The 2-3-1 network: finite differences and the chain rule agree to {a.worst:.2e} or better at every "
            f"step. Its weights stay below {a.largest_weight:.2g} in size, where {a.weight_dtype} numbers are at most "
            f"{a.spacing:.1g} apart, so the {h:g} nudge is stored with a relative error of at most "
            f"{a.spacing / 2 / h:.1e}.")
    if a.truncation_only >= a.worst / 2:
        text += (f" The largest difference (epoch {a.worst_epoch}) is the method's own truncation error: the same "
                 f"finite difference in float64 is off by {a.truncation_only:.1e} too. It looms larger as training "
                 f"goes on because the gradients shrink (largest {a.largest_gradient_start:.2g} at the start, "
                 f"{a.largest_gradient_worst:.2g} at epoch {a.worst_epoch}) while that error does not.")
    else:
        text += (f" The largest difference (epoch {a.worst_epoch}) comes from rounding, not from the method: the "
                 f"same finite difference in float64 is off by only {a.truncation_only:.1e}.")
    return text
