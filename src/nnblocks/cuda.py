"""``nnblocks.cuda``: what PyTorch's ``torch.cuda`` answers on a machine without a GPU, because nnblocks computes
on the CPU with NumPy.

``is_available()`` is False and ``device_count()`` 0, so ``'cuda' if torch.cuda.is_available() else 'cpu'`` picks
``'cpu'``. Seeding is accepted and does nothing (there is no CUDA generator; PyTorch does the same without a GPU);
``nnblocks.manual_seed`` seeds everything nnblocks draws. What needs a GPU raises ``DeviceError``.
"""
from __future__ import annotations

from typing import Any

from nnblocks.errors import DeviceError


def is_available() -> bool:
    """False: nnblocks has no GPU backend."""
    return False


def device_count() -> int:
    """0: no CUDA devices."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Accepted and ignored, as PyTorch does without a GPU (``nnblocks.manual_seed`` seeds nnblocks' draws)."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored, as PyTorch does without a GPU."""


def empty_cache() -> None:
    """Nothing to free: no GPU memory."""


def _no_gpu(name: str) -> Any:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise DeviceError(f"nnblocks.cuda.{name}(): there is no GPU; nnblocks computes on the CPU with NumPy "
                          "(check nnblocks.cuda.is_available() first, and use device 'cpu')")

    missing.__name__ = missing.__qualname__ = name
    return missing


current_device = _no_gpu("current_device")
get_device_name = _no_gpu("get_device_name")
synchronize = _no_gpu("synchronize")
set_device = _no_gpu("set_device")
