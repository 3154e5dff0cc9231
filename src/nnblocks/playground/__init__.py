"""The playground: watch a network learn in the browser, computed by nnblocks itself (``nnblocks playground``).

A local web server (``server``: the standard library's ``http.server``, a JSON API and Server-Sent Events) drives
one *session* per browser tab (``session``, ``store``). A session holds one *run* (``run``): the data from the
library's pipeline (``dataset``), ``nn.MLP``, the loss, optimizer and loaders from ``recipe``, trained one mini-batch
at a time with the penalties of ``train.penalty``. What the page shows is computed here (``frames``: the weights,
the losses, the decision boundary and every neuron's output on a grid), and so is the maths behind a click
(``maths``: the chain-rule trace of ``nnblocks explain`` and float64 finite differences) and what a run exports
(``export``: its checkpoint and the Python code that trains the same model). The page itself is plain JavaScript
and SVG/canvas in ``static/``, shipped in the package: it works offline.

    from nnblocks.playground import serve
    serve(port=8000)                       # what `nnblocks playground --port 8000 --no-browser` does
"""
from __future__ import annotations

from typing import Callable

from nnblocks.playground.server import PlaygroundServer
from nnblocks.playground.session import FRAME_RATE
from nnblocks.playground.store import IDLE_TIMEOUT
from nnblocks.playground.settings import Limits, Settings, SettingsError

__all__ = ["PlaygroundServer", "Limits", "Settings", "SettingsError", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, limits: Limits = Limits(), quiet: bool = True,
          ready: Callable[[PlaygroundServer], None] | None = None, frame_rate: float = FRAME_RATE,
          idle_timeout: float = IDLE_TIMEOUT) -> None:
    """Serve the playground until interrupted (Ctrl-C); ``ready(server)`` is called once it listens."""
    server = PlaygroundServer((host, port), limits, frame_rate, idle_timeout, quiet=quiet)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.store.close_all()
        server.server_close()
