"""Finite differences against backpropagation (``nnblocks bench --backprop``): the cost of one gradient.

The chapter's forward difference (``nnblocks.fundamentals``: nudge one weight, run the whole network again, one
forward pass per weight) against the engine's forward + backward, on the chapter's 2-3-1 network and on 784-h-10
networks. Every weight of the small network is measured; on the big ones ``--fd-sample`` weights drawn at random are
timed and the full cost extrapolated (the table says so). Runs in this process: one gradient, nothing to isolate.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import nnblocks as nb
from nnblocks import nn
from nnblocks.bench.backprop_table import format_backprop_table, growth_lines
from nnblocks.bench.data import synthetic_mnist
from nnblocks.bench.machine import machine_description
from nnblocks.bench.workload import CLASSES, HIDDEN, IN_FEATURES
from nnblocks.fundamentals import feed_forward, init_weights, network_231

def time_call(fn: Callable[[], Any], seconds: float, min_repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over repeated calls (at least ``min_repeats``, for about ``seconds``)."""
    fn()  # warm-up
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_repeats or (time.perf_counter() < deadline and len(times) < 10000):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample_positions(weights: list[Any], count: int, seed: int) -> list[tuple[int, tuple[int, ...]]]:
    """``count`` distinct (array number, index) pairs drawn uniformly over all the network's weights (all of them
    when ``count`` is at least their number), in the order ``finite_difference_gradients`` visits them."""
    sizes = [w.size for w in weights]
    total = sum(sizes)
    flat = np.arange(total) if count >= total else np.sort(
        np.random.default_rng(seed).choice(total, size=count, replace=False))
    starts = np.cumsum([0] + sizes)
    positions = []
    for f in flat:
        k = int(np.searchsorted(starts, f, side="right") - 1)
        positions.append((k, tuple(int(i) for i in np.unravel_index(f - starts[k], weights[k].shape))))
    return positions


def forward_difference_at(inputs: Any, outputs: Any, weights: list[Any], positions: list[tuple[int, tuple]],
                          h: float = 1e-4) -> tuple[list[float], float]:
    """The chapter's forward difference (L(w + h) - L(w)) / h for the weights at ``positions`` only.

    Exactly the procedure of ``fundamentals.finite_difference_gradients``: nudge one weight in a copy of the weights,
    run ``feed_forward`` (the whole network on every input), restore it; one forward pass per weight. Returns the
    derivatives and the wall time of the loop (the base loss L(w) included).
    """
    nudged = [w.copy() for w in weights]
    start = time.perf_counter()
    base = feed_forward(inputs, outputs, nudged)
    derivatives = []
    for k, index in positions:
        original = nudged[k][index]
        nudged[k][index] += h
        derivatives.append(float((feed_forward(inputs, outputs, nudged) - base) / h))
        nudged[k][index] = original
    return derivatives, time.perf_counter() - start


def measure_backprop(name: str, inputs: Any, outputs: Any, weights: list[Any], fd_sample: int, seconds: float,
                     seed: int) -> dict[str, Any]:
    """Cost of one gradient of one network: forward difference (measured or extrapolated) vs. engine backward."""
    n_weights = sum(w.size for w in weights)
    positions = sample_positions(weights, fd_sample, seed)
    derivatives, _ = forward_difference_at(inputs, outputs, weights, positions)
    fd_loop = time_call(lambda: forward_difference_at(inputs, outputs, weights, positions), seconds, min_repeats=1)
    per_weight = fd_loop / (len(positions) + 1)  # the loop runs len(positions) + 1 forward passes
    fd_seconds = per_weight * (n_weights + 1)

    model, loss_fn = nn.MLP.from_chapter_weights(weights), nn.MSELoss()  # sigmoid hidden layers, linear output
    x, y = nb.Tensor(inputs), nb.Tensor(outputs)

    def engine_step() -> None:
        model.zero_grad()
        loss_fn(model(x), y).backward()

    def engine_forward() -> None:
        with nb.no_grad():
            loss_fn(model(x), y)

    backprop = time_call(engine_step, seconds)
    forward_engine = time_call(engine_forward, seconds)
    forward_by_hand = time_call(lambda: feed_forward(inputs, outputs, weights), seconds)
    engine_step()
    grads = [p.grad for p in model.parameters()]  # W1, b1, W2, b2 ... in the engine's layout
    engine_values = [float((grads[k].T if grads[k].ndim == 2 else grads[k].reshape(weights[k].shape))[index])
                     for k, index in positions]
    return {
        "network": name, "weights": int(n_weights), "batch": int(len(inputs)), "dtype": str(weights[0].dtype),
        "fd_weights_timed": len(positions), "fd_extrapolated": len(positions) < n_weights,
        "fd_seconds": fd_seconds, "fd_seconds_per_weight": per_weight,
        "forward_seconds_by_hand": forward_by_hand, "forward_seconds_engine": forward_engine,
        "backprop_seconds": backprop, "fd_over_backprop": fd_seconds / backprop,
        "backprop_over_forward": backprop / forward_engine,
        "max_abs_fd_minus_backprop": float(np.max(np.abs(np.subtract(derivatives, engine_values)))),
    }


def backprop_networks(args: argparse.Namespace) -> list[tuple[str, Any, Any, list[Any]]]:
    """The chapter's 2-3-1 network, then 784-h-10 networks on a batch of MNIST-shaped inputs (one-hot targets)."""
    x, y, w = network_231("float32")
    networks = [("2-3-1 (chapter)", x, y, w)]
    images, labels = synthetic_mnist(args.fd_batch, seed=args.seed)
    inputs = images.astype(np.float32) / np.float32(255)
    targets = np.eye(CLASSES, dtype=np.float32)[labels]
    hidden_sizes = (10, 100, HIDDEN) if not args.quick else (10, HIDDEN)
    for hidden in hidden_sizes:
        weights = init_weights([IN_FEATURES, hidden, CLASSES], seed=args.seed, dtype=np.float32)
        networks.append((f"{IN_FEATURES}-{hidden}-{CLASSES}", inputs, targets, weights))
    return networks


def limit_threads(threads: int | None) -> Any:
    """A context limiting this process's BLAS threads (threadpoolctl), for --backprop, which runs in-process."""
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("note: --threads needs threadpoolctl in --backprop mode; running with the BLAS default", file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads)


def backprop_main(args: argparse.Namespace) -> int:
    """Print and save the finite-difference vs. backprop comparison (one gradient, one process)."""
    seconds = 0.1 if args.quick else 1.0
    rows = []
    with limit_threads(args.threads):
        for name, inputs, outputs, weights in backprop_networks(args):
            rows.append(measure_backprop(name, inputs, outputs, weights, args.fd_sample, seconds, args.seed))
            print(f"  measured {name}", flush=True)
    print(f"\nOne gradient of the MSE loss, float32; 784-h-10 networks see a batch of {args.fd_batch} synthetic "
          f"MNIST-shaped inputs. 'forward' is one fundamentals.feed_forward pass; FD = one nudge + one forward pass "
          f"per weight (the chapter's forward difference); backprop = the engine's forward + backward.\n")
    print(format_backprop_table(rows))
    print("\nHow the costs grow with the number of weights W: finite differences run W forward passes of O(W) "
          "each, O(W^2); backprop costs a small constant number of forward passes (the backprop/fwd column), O(W).")
    for line in growth_lines(rows):
        print("  " + line)
    report = {"mode": "backprop", "machine": machine_description(), "threads": args.threads, "fd_batch": args.fd_batch,
              "fd_sample": args.fd_sample, "rows": rows, "growth": growth_lines(rows)}
    report["machine"]["load_average_end"] = report["machine"].pop("load_average_start")
    path = args.json_path
    if path == Path("nnblocks-out/bench.json"):
        path = Path("nnblocks-out/bench-backprop.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"\nresults written to {path}")
    return 0
