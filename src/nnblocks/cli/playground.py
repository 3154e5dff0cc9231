"""``nnblocks playground``: watch a network learn in your browser, computed by nnblocks.

    nnblocks playground                         serve on http://127.0.0.1:8000/ and open the page
    nnblocks playground --port 0 --no-browser   any free port; print the address only

The server binds to the loopback address by default, so only this computer can reach it. Ctrl-C stops it.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from nnblocks.cli import argtypes


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "playground", help="watch a network learn in the browser (data, layers, activations, live maths)",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--port", type=argtypes.nonneg_int, default=8000, help="port to listen on (0: any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind; the default keeps the playground on this computer")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a web browser")
    p.add_argument("--max-layers", type=argtypes.positive_int, default=6, help="cap on hidden layers")
    p.add_argument("--max-neurons", type=argtypes.positive_int, default=16, help="cap on neurons per hidden layer")
    p.add_argument("--max-samples", type=argtypes.positive_int, default=2000, help="cap on points of a toy set")
    p.add_argument("--max-sessions", type=argtypes.positive_int, default=16,
                   help="cap on sessions (one per open browser tab)")
    p.add_argument("--fps", type=argtypes.positive_float, default=20.0, help="frames per second sent while training")
    p.add_argument("--idle-timeout", type=argtypes.positive_float, default=120.0,
                   help="seconds after which a session whose tab is gone is closed")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import webbrowser

    from nnblocks.playground import Limits, serve

    limits = Limits(max_layers=args.max_layers, max_neurons=args.max_neurons, max_samples=args.max_samples,
                    max_sessions=args.max_sessions)

    def ready(server: Any) -> None:
        print(f"nnblocks playground: serving on {server.url}  (Ctrl-C to stop)", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"nnblocks playground: warning: bound to {args.host}: other computers can reach it",
                  file=sys.stderr, flush=True)
        if not args.no_browser:
            webbrowser.open(server.url)

    try:
        serve(args.host, args.port, limits, quiet=not args.verbose, ready=ready, frame_rate=args.fps,
              idle_timeout=args.idle_timeout)
    except (OSError, OverflowError) as exc:
        print(f"nnblocks playground: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
