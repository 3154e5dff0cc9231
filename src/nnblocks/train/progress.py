"""The progress ``fit`` shows on a terminal: a tqdm bar per epoch and one line per finished epoch, on stderr."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator


def _terminal() -> bool:
    try:
        return sys.stderr.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # streams replaced by objects without isatty, or closed
        return False


class Progress:
    """Does nothing unless ``enabled`` (None: only when stdout and stderr are both terminals)."""

    def __init__(self, enabled: bool | None, epochs: int, batches: int | None) -> None:
        self.enabled = _terminal() if enabled is None else bool(enabled)
        self.epochs, self.batches = epochs, batches
        self.bar: Any = None
        if self.enabled:
            from tqdm.auto import tqdm  # imported only when shown: measured 0.13 s to import

            self.tqdm = tqdm

    @contextmanager
    def epoch(self, epoch: int) -> Iterator[None]:
        """A bar for ``epoch`` (0-based) while the block runs, closed even when training fails."""
        if self.enabled:
            self.bar = self.tqdm(total=self.batches, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                                 file=sys.stderr)
        try:
            yield
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.enabled:
            text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "epoch")
            self.tqdm.write(f"epoch {epoch + 1}/{self.epochs}  {text}", file=sys.stderr)
