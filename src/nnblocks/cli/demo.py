"""``nnblocks demo``: chapter 1 in a few seconds, no network access.

Runs the 2-3-1 network and the learning-rate study (by default exactly the chapter's procedure), checks the
finite-difference gradients against the chain rule at every step, prints a short report and writes PNG plots.
"""
from __future__ import annotations

import argparse

from nnblocks.cli.argtypes import fail, output_dir, output_problem
from nnblocks.cli.argtypes import positive_float as _positive_float

DEFAULT_OUT = "nnblocks-out/demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run chapter 1's two experiments and write their plots (a few seconds)",
        description="Run chapter 1's experiments (the 2-3-1 network, the learning-rate study), compare "
        "finite-difference and chain-rule gradients at every step, print a report and write PNG plots. "
        "The defaults repeat the chapter's procedure exactly.",
    )
    parser.add_argument("--out", default=DEFAULT_OUT, type=output_dir,
                        help=f"folder for the PNG plots (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--method",
        choices=["forward", "central", "chain"],
        default="forward",
        help="how the gradient is computed: forward finite difference (the chapter's, default), central finite "
        "difference, or the chain rule",
    )
    parser.add_argument(
        "--precision",
        choices=["chapter", "float32", "float64"],
        default="chapter",
        help="dtypes: 'chapter' (float32 weights and integer data, as the chapter's code; default), "
        "'float32' (everything float32) or 'float64'",
    )
    parser.add_argument("--float64", action="store_true", help="shorthand for --precision float64")
    parser.add_argument("--step", type=_positive_float, default=1e-4, help="finite-difference step h (default 1e-4)")
    parser.add_argument(
        "--tolerance",
        type=_positive_float,
        default=1e-2,
        help="relative difference above which finite differences and the chain rule are reported as disagreeing "
        "(default 0.01)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnblocks.experiments.chapter1 import format_report, run_demo, save_figures

    precision = "float64" if args.float64 else args.precision
    if args.float64 and args.precision not in ("chapter", "float64"):
        fail(f"argument --float64: --float64 contradicts --precision {args.precision}")
    problem = output_problem(args.out)  # the default folder too, before the work
    if problem is not None:
        fail(f"argument --out: {problem}")
    try:
        result = run_demo(precision=precision, method=args.method, h=args.step, tolerance=args.tolerance)
    except ValueError as exc:  # the chapter's own loop stops a run whose loss became NaN/inf
        big = args.step >= 1 and args.method != "chain"
        fail(f"{exc}" + (f"; but --step {args.step:g} nudges each weight that far, so the finite-difference gradient "
                         "blows up first: try a step below 1 (default 1e-4)" if big else ""), 1)
    print(format_report(result))
    try:
        paths = save_figures(result, args.out)
    except OSError as exc:
        fail(f"cannot write the plots into {args.out!r}: {exc.strerror or exc}", 1)
    print("")
    print("Plots written:")
    for path in paths:
        print(f"  {path}")
    return 0
