"""The benchmark harness: nnblocks against PyTorch (CPU), a hand-written NumPy MLP and scikit-learn, side by side.

The flags of ``nnblocks bench`` and ``python -m nnblocks.bench`` (one declaration for both), their defaults, and the
dispatch to what runs: a worker (started by the parent), the finite-difference comparison (``--backprop``), or the
side-by-side training-speed benchmark. Standard library only until ``run``, so that ``nnblocks --help`` stays
instant; ``run`` imports the part it needs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnblocks.bench.workload import CNN_SYSTEMS, SYSTEMS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``nnblocks bench`` / ``python -m nnblocks.bench`` (shared by both entry points)."""
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, metavar="B",
                        help="mini-batch sizes to measure (default: 32 256 10000; --cnn 32 256)")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs per worker (default 3; --quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds; each round runs every system once per batch size (default 3; --quick 1)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples (default 60000; --quick 2000)")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="test samples for the accuracy column (default 10000; --quick 500)")
    parser.add_argument("--systems", nargs="+", default=None, choices=SYSTEMS, metavar="SYSTEM",
                        help=f"systems to run, among {' '.join(SYSTEMS)} (default: all that are installed; --cnn: "
                             f"{' '.join(CNN_SYSTEMS)})")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with MNIST's IDX files (raw or .gz); without it, synthetic MNIST-shaped data")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP/torch threads in every worker (default: each library's own default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, initialisations and shuffling")
    parser.add_argument("--json", type=Path, default=Path("nnblocks-out/bench.json"), dest="json_path",
                        metavar="PATH", help="where to write the results (default nnblocks-out/bench.json)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: 2,000 samples, 1 epoch, 1 round (numbers are not meaningful)")
    parser.add_argument("--profile", action="store_true",
                        help="also run one extra nnblocks epoch per batch size under cProfile (not timed) and print "
                             "the top functions by own time")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a worker is abandoned")
    parser.add_argument("--cnn", action="store_true",
                        help="train the book's chapter-4 CNN instead of the MLP (nnblocks and PyTorch; default batch "
                             "sizes 32 256, 4,096 samples, 2 epochs)")
    parser.add_argument("--backprop", action="store_true",
                        help="instead: finite-difference gradients (chapter 1) against the engine's backward")
    parser.add_argument("--fd-sample", type=int, default=200,
                        help="--backprop: weights whose finite differences are timed on the big networks "
                             "(the full cost is extrapolated from them; default 200)")
    parser.add_argument("--fd-batch", type=int, default=32,
                        help="--backprop: samples in the batch each forward pass sees on the big networks (default 32)")
    # Internal: the parent starts workers with these.
    parser.add_argument("--worker", choices=SYSTEMS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gemm-seconds", type=float, default=1.0, help=argparse.SUPPRESS)


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset from --quick or the full-run defaults, and check them."""
    quick = {"epochs": 1, "rounds": 1, "samples": 2000, "test_samples": 500}
    full = {"epochs": 3, "rounds": 3, "samples": 60000, "test_samples": 10000}
    if args.cnn:  # a CNN step costs ~100x an MLP step: fewer samples keep a full run within minutes
        quick, full = {**quick, "samples": 512, "test_samples": 256}, {**full, "epochs": 2, "samples": 4096,
                                                                        "test_samples": 1000}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.batch_sizes is None:
        args.batch_sizes = [32, 256] if args.cnn else [32, 256, 10000]
    if args.systems is None:
        args.systems = list(CNN_SYSTEMS if args.cnn else SYSTEMS)
    elif args.cnn and set(args.systems) - set(CNN_SYSTEMS):
        raise SystemExit(f"nnblocks bench --cnn: only {' and '.join(CNN_SYSTEMS)} train the CNN, got --systems "
                         f"{' '.join(args.systems)}")
    if args.quick:
        args.gemm_seconds = min(args.gemm_seconds, 0.2)
        args.fd_sample = min(args.fd_sample, 20)
    for name in ("epochs", "rounds", "samples", "test_samples", "fd_sample", "fd_batch"):
        if getattr(args, name) < 1:
            raise SystemExit(f"nnblocks bench: --{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if any(b < 1 for b in args.batch_sizes):
        raise SystemExit(f"nnblocks bench: --batch-sizes must be positive, got {args.batch_sizes}")
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"nnblocks bench: --threads must be at least 1, got {args.threads}")
    args.systems = list(dict.fromkeys(args.systems))  # keep the order given, drop repeats
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnblocks.bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Entry point of ``nnblocks bench``: a worker, the backprop comparison, or the whole side-by-side benchmark."""
    if args.worker is not None:
        from nnblocks.bench.worker import worker_main

        return worker_main(args)
    args = resolve_defaults(args)
    if args.backprop:
        from nnblocks.bench.backprop import backprop_main

        return backprop_main(args)
    from nnblocks.bench.speed import speed_main

    return speed_main(args)
