"""``nnblocks experiment``: the book's experiments of chapters 2, 3 and 4, by name.

    nnblocks experiment list
    nnblocks experiment run scaling --dataset digits
    nnblocks experiment run learning-rate --data-dir ~/data/fashion-mnist --epochs 2 --subset 6000
    nnblocks experiment run all --dataset digits
    nnblocks experiment run batchnorm --dataset mnist --data-dir ~/data/mnist --protocol book

Before training, each run times the first steps of every variant and prints an estimate of its duration; it then
trains the variants on ``--jobs`` worker processes (default: one per core, each with ``--blas-threads`` BLAS threads)
and reports progress as each variant finishes. ``--protocol book`` measures as the book's notebooks do (see
``nnblocks.experiments.base.PROTOCOLS``); the default protocol is nnblocks' own.

Each run writes a Markdown report, curve plots (every variant on one figure) and, where the study is about weights
or activations, histograms, to ``--out`` (default ``nnblocks-out/experiments/NAME``; with ``all``, one folder per
experiment under ``nnblocks-out/experiments`` and a ``summary.md`` table).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from nnblocks.cli.argtypes import fail, output_dir, output_problem
from nnblocks.cli.argtypes import nonneg_int as _nonneg_int
from nnblocks.cli.argtypes import positive_int as _positive_int
from nnblocks.errors import DataError, InvalidValueError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("experiment", help="run the book's chapter-2, 3 and 4 experiments by name",
                              description=__doc__.split("\n\n")[0])
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="list the experiments")
    listing.set_defaults(func=list_experiments)
    r = actions.add_parser("run", help="run one experiment (or 'all') and write its report")
    r.add_argument("name", metavar="NAME", help="an experiment name from `nnblocks experiment list`, or 'all'")
    r.add_argument("--dataset", choices=("fashion-mnist", "mnist", "digits"), default="fashion-mnist",
                   help="data for the chapter-3 and chapter-4 studies (digits ships with nnblocks and needs no download)")
    r.add_argument("--data-dir", default=None, help="folder holding the MNIST-format IDX files (raw or .gz)")
    r.add_argument("--download", action="store_true", help="download Fashion-MNIST / MNIST if missing")
    r.add_argument("--epochs", type=_positive_int, default=None, help="override every study's default epochs")
    r.add_argument("--subset", type=_positive_int, default=None, metavar="N",
                   help="train on a seeded subset of N images and validate on N // 6 (a quick look)")
    r.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the initial weights, shuffling and subsets")
    r.add_argument("--out", default=None, type=output_dir,
                   help="output folder (default nnblocks-out/experiments/NAME)")
    r.add_argument("--protocol", choices=("nnblocks", "book"), default="nnblocks",
                   help="nnblocks (default): train in train mode, validate in eval mode; book: measure as the book's "
                        "notebooks do (second-pass training accuracy, batch norm trained in eval mode from epoch 2, "
                        "dropout-on accuracies, unsquared L2)")
    r.add_argument("--jobs", type=_positive_int, default=None,
                   help="worker processes training variants side by side (default: the number of cores)")
    r.add_argument("--blas-threads", type=_positive_int, default=None,
                   help="BLAS threads per process (default: cores // jobs, so the machine is not oversubscribed)")
    r.add_argument("--quiet", action="store_true", help="print only the final table")
    r.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def list_experiments(args: argparse.Namespace) -> int:
    """``nnblocks experiment list``."""
    from nnblocks import experiments

    width = max(len(e.name) for e in experiments.experiments())
    for e in experiments.experiments():
        print(f"{e.name.ljust(width)}  ch.{e.chapter}  {e.epochs:>3} epochs  {e.title}")
    return 0


def run(args: argparse.Namespace) -> int:
    """``nnblocks experiment run NAME`` (or ``all``)."""
    from nnblocks import experiments
    from nnblocks.experiments.report import summary_text

    if args.name != "all" and args.name not in experiments.names():
        print(f"nnblocks experiment: unknown experiment {args.name!r}; known: {', '.join(experiments.names())}, "
              "or 'all'", file=sys.stderr)
        return 2
    from nnblocks.experiments.schedule import cores
    from nnblocks.experiments.suite import DEFAULT_OUT

    if args.out is None:  # the default folder too, before any data is read (a given --out was checked as a flag)
        problem = output_problem(DEFAULT_OUT if args.name == "all" else DEFAULT_OUT / args.name)
        if problem is not None:
            fail(f"argument --out: {problem}")

    jobs = args.jobs or cores()
    blas = args.blas_threads or max(1, cores() // jobs)
    config = experiments.RunConfig(dataset=args.dataset, data_dir=args.data_dir, download=args.download,
                                   epochs=args.epochs, subset=args.subset, seed=args.seed, out=args.out,
                                   log=None if args.quiet else (lambda line: print(line, flush=True)),
                                   protocol=args.protocol, blas_threads=blas)
    try:
        if args.name == "all":
            results, path, seconds = experiments.run_all(config, jobs=jobs)
            print()
            print(summary_text(results, seconds))
            print(f"\nsummary written to {path}")
        else:
            result = experiments.run(args.name, config, jobs=jobs)
            print()
            print(summary_text([result], result.seconds))
            print(f"report: {result.out / 'report.md' if result.out else '(not written)'}")
    except (DataError, InvalidValueError) as exc:
        print(f"nnblocks experiment: {exc}", file=sys.stderr)
        return 2
    return 0
