"""The ``nnblocks`` command: a thin layer over experiments/, train/ and viz/.

Each sub-command lives in its own small module here with two functions: ``register(subparsers)``, which declares
its flags with argparse, and ``run(args) -> int``. Heavy imports (matplotlib, the engine) happen inside ``run`` so
that ``nnblocks --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules, in the order ``nnblocks --help`` lists them. A module missing here is simply not offered.
COMMANDS = ["demo", "train", "evaluate", "experiment", "explain", "playground", "export", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnblocks",
        description="Neural networks from their basic blocks: the chapter by hand, an autodiff engine, real data.",
    )
    from nnblocks import __version__

    parser.add_argument("--version", action="version", version=f"nnblocks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"nnblocks.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"nnblocks.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
