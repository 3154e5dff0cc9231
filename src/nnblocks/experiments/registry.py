"""The registry of named experiments: ``get(name)``, ``names()``, ``experiments()``, and ``register(exp)`` for one
of your own.

It starts with chapter 2's ``toy-sum`` and chapter 3's studies. The chapter modules only declare their experiments
and know nothing of this registry (chapter 1's experiments have their own command, ``nnblocks demo``).
"""
from __future__ import annotations

from typing import Any

from nnblocks.errors import InvalidValueError
from nnblocks.experiments import chapter2, chapter3
from nnblocks.experiments import chapter4

_REGISTRY: dict[str, Any] = {e.name: e for e in (chapter2.TOY_SUM, *chapter3.STUDIES)}
_REGISTRY.update({e.name: e for e in chapter4.STUDIES})  # translation, augmentation, feature-maps


def register(experiment: Any) -> Any:
    """Add an experiment (a ``Study``, or anything with ``name``, ``title``, ``chapter``, ``epochs`` and
    ``run(config, data)``); returns it."""
    if experiment.name in _REGISTRY and _REGISTRY[experiment.name] is not experiment:
        raise InvalidValueError(f"an experiment named {experiment.name!r} is already registered")
    _REGISTRY[experiment.name] = experiment
    return experiment


def experiments() -> list[Any]:
    """Every registered experiment, in chapter order then registration order."""
    return sorted(_REGISTRY.values(), key=lambda e: e.chapter)


def names() -> list[str]:
    return [e.name for e in experiments()]


def get(name: str) -> Any:
    """The experiment called ``name``; unknown names raise ``InvalidValueError`` listing the known ones."""
    if name not in _REGISTRY:
        raise InvalidValueError(f"unknown experiment {name!r}; known: {', '.join(names())} (or 'all')")
    return _REGISTRY[name]
