"""``nnblocks bench``: nnblocks against PyTorch, a hand-written NumPy MLP and scikit-learn, side by side.

The flags are declared by ``nnblocks.bench.add_arguments`` (so ``python -m nnblocks.bench`` takes the same ones);
``nnblocks.bench`` imports only the standard library until it runs.
"""
from __future__ import annotations

import argparse
from typing import Any

from nnblocks import bench


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark training speed against PyTorch, NumPy and scikit-learn (or FD vs backprop with --backprop)",
        description="Train the chapter-3 MLP (784-1000-ReLU-10, SGD) with nnblocks, PyTorch, a hand-written NumPy "
                    "MLP and scikit-learn, each in its own process, interleaved over rounds; print samples/s, "
                    "ratios, the GEMM bound, test accuracy and peak memory, and save them as JSON.",
    )
    bench.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnblocks.cli.argtypes import fail, output_problem

    problem = output_problem(args.json_path, "file") if args.worker is None else None
    if problem is not None:  # before the benchmark runs, not after its minutes of work
        fail(f"argument --json: {problem}")
    return bench.run(args)
