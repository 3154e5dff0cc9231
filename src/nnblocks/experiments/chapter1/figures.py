"""The demo's PNG plots, drawn from a ``DemoResult``: the 2-3-1 network's loss, the learning-rate study, and the
finite differences' largest relative difference to the chain rule, step by step."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnblocks.experiments.chapter1.report import METHOD_TEXT
from nnblocks.experiments.chapter1.runs import LONG_STUDY_EPOCHS, DemoResult
from nnblocks.fundamentals import NETWORK_LR, Trajectory
from nnblocks.viz.curves import gradient_check_figure, learning_rate_study_figure, loss_curve_figure, save_figure


def save_figures(result: DemoResult, out_dir: str | Path) -> list[Path]:
    """Write the demo's PNG plots into ``out_dir`` (created if needed) and return their paths."""
    out = Path(out_dir)
    method = METHOD_TEXT[result.method]
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
    if result.long_study:
        long_runs = {lr: _neuron_series(t) for lr, t in result.long_study.items() if not isinstance(t, str)}
        fig = learning_rate_study_figure(long_runs, label=method, title=f"Learning-rate study over "
                                         f"{LONG_STUDY_EPOCHS} epochs (as the chapter plots it; a rate whose loss "
                                         "overflowed is left out)")
        paths.append(save_figure(fig, out / "learning_rate_study_long.png"))

    differences = {"2-3-1 network": [c.max_relative_difference for c in net.comparisons]}
    for lr, run in result.study.items():
        differences[f"neuron, lr {lr:g}"] = [c.max_relative_difference for c in run.comparisons]
    fig = gradient_check_figure(differences, tolerance=result.tolerance,
                                title=f"{method} vs chain rule, step by step")
    paths.append(save_figure(fig, out / "gradient_check.png"))
    return paths


def _neuron_series(history: Trajectory) -> dict[str, np.ndarray]:
    """W and b at the start of every epoch plus the end, and the loss at the same points."""
    w = np.array([float(np.ravel(ws[0])[0]) for ws in history.weights])
    b = np.array([float(np.ravel(ws[1])[0]) for ws in history.weights])
    loss = np.append(np.asarray(history.losses, np.float64), float(history.final_loss))
    return {"W": w, "b": b, "loss": loss}
