"""The ``nnblocks`` command: a thin layer over experiments/, train/ and viz/.

Each sub-command lives in its own small module here with two functions: ``register(subparsers)``, which declares
its flags with argparse, and ``run(args) -> int``. Heavy imports (matplotlib, the engine) happen inside ``run`` so
that ``nnblocks --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import os
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
    """Run one sub-command; its exit status: 0 done, 1 the run failed, 2 bad input, 130 interrupted (Ctrl-C).

    The last line of defence against tracebacks for what the environment does, not what nnblocks does: Ctrl-C, a
    closed pipe (``nnblocks explain | head``), a disk that fills up or a file that cannot be written, memory that
    runs out. Each becomes one line on stderr. (A bug in nnblocks itself still shows its traceback.)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    from nnblocks.cli.argtypes import CommandError

    prog = f"nnblocks {args.command}"
    from nnblocks import _memory

    if _memory.requested():  # opt-in, for this command's own process only (see nnblocks/_memory.py)
        _memory.keep_freed_memory()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below rather than reported at exit
        return code
    except CommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, without a second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError as exc:
        print(f"{prog}: error: out of memory ({exc or 'no detail'}); try a smaller network, batch size or data set",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
