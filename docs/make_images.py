"""Regenerate the README tour's pictures in ``docs/`` (a few seconds, offline, seeded: the same files every run).

    python docs/make_images.py              # writes into docs/
    python docs/make_images.py --out DIR    # somewhere else

Files written:

- ``chapter1_loss.png``: the 2-3-1 network's loss over 100 epochs of the chapter's gradient descent
  (forward finite differences) beside the chain rule (``nnblocks demo``'s figure);
- ``learning_rate_study.png``: one linear neuron fitting y = 3x at lr 0.01, 0.1 and 1;
- ``graph_231.png``: the 2-3-1 network's computational graph with every value and gradient (``draw_graph``);
- ``trace.txt``: the start of the chain-rule trace of the same network (``nnblocks explain``);
- ``decision_boundary_moons.png``: a small MLP's decision regions on the two moons;
- ``gradient_check.png``: gradient checks during training on digits (``nnblocks train --check-gradients``).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TRACE_LINES = 60  # with 3 elements per gradient the whole trace fits (47 lines): from the loss back to W1


def _compact(path: Path) -> Path:
    """Rewrite a PNG with a 256-colour palette: plots have few colours, so it looks the same at ~1/3 of the size."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path


def _save(fig, path: Path, dpi: int = 100) -> Path:
    # no "Software" stamp (the matplotlib version), so regenerating with another version changes only real pixels
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    return _compact(path)


def chapter1_figures(out: Path) -> list[Path]:
    """The chapter-1 loss curve and learning-rate study, as ``nnblocks demo`` draws them."""
    from nnblocks.experiments.chapter1 import run_demo, save_figures

    with tempfile.TemporaryDirectory() as tmp:
        written = {p.name: p for p in save_figures(run_demo(), tmp)}
        targets = [(written["network_loss.png"], out / "chapter1_loss.png"),
                   (written["learning_rate_study.png"], out / "learning_rate_study.png")]
        for source, target in targets:
            shutil.copyfile(source, target)
            _compact(target)
    return [t for _, t in targets]


def graph_and_trace(out: Path) -> list[Path]:
    """The 2-3-1 network in the engine (float64, the chapter's weights): its graph and its chain-rule trace."""
    from nnblocks.cli.explain import build_problem
    from nnblocks.viz import draw_graph, explain

    model, _, _, loss_fn = build_problem("chapter")
    params = dict(model.named_parameters())
    fig = draw_graph(loss_fn(), None, show_values=True, show_grads=True, params=params)
    graph = _save(fig, out / "graph_231.png", dpi=90)
    lines = explain(loss_fn, params, max_elements=3).to_text().splitlines()
    excerpt = lines[:TRACE_LINES] + ([f"... ({len(lines) - TRACE_LINES} more lines: run `nnblocks explain`)"]
                                     if len(lines) > TRACE_LINES else [])
    trace = out / "trace.txt"
    trace.write_text("\n".join(excerpt) + "\n", encoding="utf-8")
    return [graph, trace]


def decision_boundary(out: Path) -> Path:
    """A 2-16-16-2 tanh network trained 40 epochs on 400 noisy moons."""
    from nnblocks import nn, optim
    from nnblocks.data import DataLoader, TensorDataset, moons
    from nnblocks.train import fit
    from nnblocks.viz import plot_decision_boundary

    X, y = moons(400, noise=0.15, seed=0)
    net = nn.Sequential(nn.Linear(2, 16, seed=0), nn.Tanh(), nn.Linear(16, 16, seed=1), nn.Tanh(),
                        nn.Linear(16, 2, seed=2))
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=0)
    fit(net, nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=0.02), loader, epochs=40, progress=False)
    fig = plot_decision_boundary(net, X, y, resolution=150, title=None)
    return _save(fig, out / "decision_boundary_moons.png", dpi=80)


def gradient_check(out: Path) -> Path:
    """``nnblocks train``'s digits setup (64-128-10 ReLU, Adam 1e-3, batch 32) for 5 epochs, checked every 10 steps."""
    from nnblocks import nn, optim
    from nnblocks.data import DataLoader, Standardizer, TensorDataset, digits, train_val_split
    from nnblocks.train import fit
    from nnblocks.train.spot_check import DEFAULT_RTOL, SpotCheckWarning
    from nnblocks.viz.spot_check import plot_spot_checks

    X, y = digits()
    Xtr, _, ytr, _ = train_val_split(X, y, 0.2, seed=0, stratify=True)
    Xtr = Standardizer().fit(Xtr).transform(Xtr)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(64, 128, seed=rng), nn.ReLU(), nn.Linear(128, 10, seed=rng))
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpotCheckWarning)  # a picture of a failing check would be a bug
        history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), loader, epochs=5,
                      progress=False, check_gradients=10)
    fig = plot_spot_checks(history, tolerance=DEFAULT_RTOL,
                               title="digits, 64-128-10: gradient checks every 10 steps")
    return _save(fig, out / "gradient_check.png", dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: docs/)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    paths = [*chapter1_figures(out), *graph_and_trace(out), decision_boundary(out), gradient_check(out)]
    for p in paths:
        print(f"{p}  ({p.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
