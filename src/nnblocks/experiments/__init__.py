"""Named, reproducible experiments (the book's chapters), built only from the public API of the rooms below.

- ``names()``, ``get(name)``, ``experiments()``: the registry (chapter 2's ``toy-sum``, chapter 3's studies).
- ``run(name, config)`` / ``run_all(config)``: train, then write a Markdown report and figures to ``config.out``.
- ``base``: how a study is declared (``Study``, ``Variant``, ``MLP``, ``Opt``, ``Inputs``, ``Penalty``, ``Plateau``).

Chapter 1's experiments live in ``chapter1`` and run with ``nnblocks demo``.
"""
from __future__ import annotations

from nnblocks.experiments.base import ExperimentResult, RunConfig, VariantResult
from nnblocks.experiments.registry import experiments, get, names, register
from nnblocks.experiments.suite import run, run_all

__all__ = ["ExperimentResult", "RunConfig", "VariantResult", "experiments", "get", "names", "register", "run",
           "run_all"]
