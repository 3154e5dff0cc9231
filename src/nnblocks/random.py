"""Where random numbers come from: a seed, a ``numpy.random.Generator``, or the global generator.

Every nnblocks function that draws random numbers takes ``seed=`` (an int or a Generator). When none is given, it
draws from one global generator, which ``nnblocks.manual_seed(s)`` resets (PyTorch's ``torch.manual_seed``): the same
seed gives the same run, bit for bit, on the same machine.
"""
from __future__ import annotations

from typing import Union

import numpy as np

SeedLike = Union[int, np.random.Generator, None]

_GLOBAL = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the global generator (used by layers' initialisation, dropout and loaders when no seed is given).

    The generator is reseeded in place, not replaced, so a Dropout layer or DataLoader built before this call (and
    holding the global generator) follows the new seed too.
    """
    _GLOBAL.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _GLOBAL


def get_generator(seed: SeedLike = None) -> np.random.Generator:
    """A Generator from a seed: None -> the global one, int -> a new one seeded with it, Generator -> itself."""
    if seed is None:
        return _GLOBAL
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
