"""The registry of named experiments: ``register(exp)``, ``get(name)``, ``names()``.

Chapter modules register their experiments when imported; ``_load()`` imports them on first use, so importing
``nnblocks.experiments`` stays cheap (and chapter 1's module, which has its own command, is not touched).
"""
from __future__ import annotations

import importlib
from typing import Any

from nnblocks.errors import InvalidValueError

CHAPTER_MODULES = ("nnblocks.experiments.chapter2", "nnblocks.experiments.chapter3")

_REGISTRY: dict[str, Any] = {}


def register(experiment: Any) -> Any:
    """Add an experiment (anything with ``name``, ``title``, ``chapter``, ``epochs`` and ``run``); returns it."""
    if experiment.name in _REGISTRY and _REGISTRY[experiment.name] is not experiment:
        raise InvalidValueError(f"an experiment named {experiment.name!r} is already registered")
    _REGISTRY[experiment.name] = experiment
    return experiment


def _load() -> None:
    for module in CHAPTER_MODULES:
        importlib.import_module(module)


def experiments() -> list[Any]:
    """Every registered experiment, in chapter order then registration order."""
    _load()
    return sorted(_REGISTRY.values(), key=lambda e: e.chapter)


def names() -> list[str]:
    return [e.name for e in experiments()]


def get(name: str) -> Any:
    """The experiment called ``name``; unknown names raise ``InvalidValueError`` listing the known ones."""
    _load()
    if name not in _REGISTRY:
        raise InvalidValueError(f"unknown experiment {name!r}; known: {', '.join(names())} (or 'all')")
    return _REGISTRY[name]
