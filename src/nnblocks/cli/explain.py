"""``nnblocks explain``: print the chain rule, step by step, for the chapter's 2-3-1 network or any small network.

    nnblocks explain                                   the chapter's network, x = [[1, 1]], y = [[0]], its weights
    nnblocks explain --network 2-4-3-1 --seed 3        random weights (seeded), random data
    nnblocks explain --activation relu --batch 4 --network 2-3-1 --format markdown --figure graph.svg
    nnblocks explain --network conv --activation relu       a 6x6 image through Conv2d(1, 2, 3), MaxPool2d(2), Linear

Everything runs in float64 so the finite-difference column is accurate to ~1e-10 (``--float32`` to see float32).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnblocks.cli import argtypes
from nnblocks.cli.argtypes import nonneg_int as _nonneg_int
from nnblocks.cli.argtypes import positive_int as _positive_int

ACTIVATIONS = ("sigmoid", "relu", "tanh", "leaky_relu")
LOSSES = ("mse", "cross-entropy", "bce-logits")
MAX_WIDTH, MAX_LAYERS = 64, 8


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explain", help="print backpropagation step by step (upstream x local = gradient) with finite differences",
        description="Walk the graph of a small network's loss from the loss back to every weight, printing "
                    "'upstream gradient x local derivative = gradient' for each element, then the central finite "
                    "difference of the same weight. Default: the chapter's 2-3-1 network and its weights.",
    )
    p.add_argument("--network", default="chapter", metavar="SIZES",
                   help="'chapter' (default: the chapter's 2-3-1 weights), layer widths such as 2-4-3-1 "
                        "(random weights from --seed), or 'conv': a 6x6 image through Conv2d(1, 2, 3) -> "
                        "MaxPool2d(2) -> activation -> Flatten -> Linear(8, 2)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed for random weights and data (default 0)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid", help="hidden activation (default sigmoid)")
    p.add_argument("--loss", choices=LOSSES, default="mse",
                   help="mse (default), cross-entropy (logits, integer classes) or bce-logits")
    p.add_argument("--batch", type=_positive_int, default=1,
                   help="samples in the batch (default 1; >1 needs --network SIZES)")
    p.add_argument("--format", choices=("text", "markdown"), default="text", help="output format (default text)")
    p.add_argument("--figure", metavar="PATH", default=None, type=argtypes.output_file,
                   help="also draw the graph with values and gradients to PATH (.svg or .png; no suffix: both)")
    p.add_argument("--max-elements", type=_positive_int, default=12,
                   help="elements printed per gradient (default 12)")
    p.add_argument("--float32", action="store_true", help="compute in float32 instead of float64")
    p.set_defaults(func=run)


def parse_sizes(spec: str) -> list[int]:
    """'2-4-3-1' -> [2, 4, 3, 1], with a message naming the flag when it is malformed or too big to print."""
    try:
        sizes = [int(s) for s in spec.split("-")]
    except ValueError:
        raise ValueError(f"--network: expected widths like 2-4-3-1, got {spec!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"--network: need at least two widths >= 1 (inputs-...-outputs), got {spec!r}")
    if max(sizes) > MAX_WIDTH or len(sizes) - 1 > MAX_LAYERS:
        raise ValueError(f"--network: {spec!r} is too big to explain line by line "
                         f"(at most {MAX_LAYERS} layers of width {MAX_WIDTH})")
    return sizes


def build_problem(network: str = "chapter", seed: int = 0, activation: str = "sigmoid", loss: str = "mse",
                  batch: int = 1, dtype: Any = None) -> tuple[Any, Any, Any, Any]:
    """(model, x, y, loss_fn): the network to explain, its data, and a function computing the loss from them."""
    import numpy as np

    from nnblocks import nn
    from nnblocks.nn import functional as F
    from nnblocks.tensor import Tensor

    dtype = np.dtype(dtype or np.float64)
    rng = np.random.default_rng(seed)
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    if network == "conv":
        return conv_problem(rng, activation, loss, batch, dtype)
    if network == "chapter":
        if batch != 1:
            raise ValueError("--batch: the chapter's network has one sample; give --network 2-3-1 for a batch")
        from nnblocks.fundamentals import network_231

        x_np, y_np, weights = network_231("float64")
        sizes = [2, 3, 1]
    else:
        sizes, weights = parse_sizes(network), None
    # Random weights are drawn even when the chapter's replace them, so that a --seed keeps drawing the same labels
    # afterwards (--loss bce-logits).
    model = nn.MLP(sizes, activation=activation, dtype=dtype, seed=rng)
    if weights is not None:
        nn.load_chapter_weights(model, weights)
        x = Tensor(np.asarray(x_np, dtype=dtype))
    else:
        x = Tensor(rng.standard_normal((batch, sizes[0])).astype(dtype))
    n_out = sizes[-1]
    if loss == "cross-entropy":
        if n_out < 2:
            raise ValueError("--loss cross-entropy needs at least 2 outputs (one logit per class), e.g. 2-3-2")
        y = Tensor(rng.integers(0, n_out, size=len(x)).astype(np.int64))
        loss_fn = lambda: F.cross_entropy(model(x), y)  # noqa: E731
    elif loss == "bce-logits":
        y = Tensor(rng.integers(0, 2, size=(len(x), n_out)).astype(dtype))
        loss_fn = lambda: F.binary_cross_entropy_with_logits(model(x), y)  # noqa: E731
    else:
        y = Tensor(np.asarray(y_np, dtype=dtype)) if weights is not None else Tensor(
            rng.random((len(x), n_out)).astype(dtype))
        loss_fn = lambda: F.mse_loss(model(x), y)  # noqa: E731
    return model, x, y, loss_fn


def conv_problem(rng: Any, activation: str, loss: str, batch: int, dtype: Any) -> tuple[Any, Any, Any, Any]:
    """The tiny convolutional network of ``--network conv``: (model, x, y, loss_fn), names K, bK for the filters."""
    import numpy as np

    from nnblocks import nn
    from nnblocks.nn import functional as F
    from nnblocks.tensor import Tensor

    if loss == "bce-logits":
        raise ValueError("--network conv: use --loss mse or cross-entropy (its 2 outputs are class logits)")
    model = nn.CNN((1, 6, 6), channels=[2], hidden=[], out=2, activation=activation, dtype=dtype, seed=rng)
    model[0].weight.name, model[0].bias.name = "K", "bK"
    x = Tensor(rng.standard_normal((batch, 1, 6, 6)).astype(dtype), name="x")
    if loss == "cross-entropy":
        y = Tensor(rng.integers(0, 2, size=batch).astype(np.int64))
        return model, x, y, lambda: F.cross_entropy(model(x), y)
    y = Tensor(rng.random((batch, 2)).astype(dtype))
    return model, x, y, lambda: F.mse_loss(model(x), y)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from nnblocks.viz.explain import explain
    from nnblocks.viz.graph import draw_graph

    try:
        model, _, _, loss_fn = build_problem(args.network, args.seed, args.activation, args.loss, args.batch,
                                             np.float32 if args.float32 else np.float64)
    except ValueError as exc:
        argtypes.fail(str(exc))
    params = dict(model.named_parameters())
    loss = loss_fn()
    trace = explain(loss, params, recompute=loss_fn, max_elements=args.max_elements)
    print(trace.to_markdown() if args.format == "markdown" else trace.to_text())
    if args.figure:
        figure = Path(args.figure)
        written = [figure] if figure.suffix else [figure.with_suffix(".svg"), figure.with_suffix(".png")]
        draw_graph(loss, figure, show_values=True, show_grads=True, params=params)
        print("\ngraph figure written to " + ", ".join(str(p) for p in written))
    return 0
