"""Where random numbers come from: a seed, a ``numpy.random.Generator``, or the global generator.

Every nnblocks function that draws random numbers takes ``seed=`` (an int or a Generator). When none is given, it
draws from one global generator, which ``nnblocks.manual_seed(s)`` resets (PyTorch's ``torch.manual_seed``): the same
seed gives the same run, bit for bit, on the same machine. ``set_generator_state`` restores a saved state (what
checkpoints do), ``check_generator_state`` checks one without restoring it.
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np

from nnblocks.errors import InvalidValueError

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


def check_generator_state(generator: np.random.Generator, state: Any) -> None:
    """Raise ``InvalidValueError`` if ``generator`` cannot take ``state`` (a saved ``bit_generator.state``).

    Changes nothing: the state is tried on a fresh bit generator of the same kind (a PCG64 state does not fit an
    MT19937, nor does a dict with keys missing).
    """
    bit_generator = type(generator.bit_generator)
    try:
        bit_generator().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidValueError(f"a {bit_generator.__name__} generator cannot take this state: {exc}") from exc


def set_generator_state(generator: np.random.Generator, state: Any) -> None:
    """``generator.bit_generator.state = state``, checked first (a refused state leaves the generator as it was)."""
    check_generator_state(generator, state)
    generator.bit_generator.state = state
