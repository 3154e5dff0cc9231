"""Named, reproducible experiments (the book's chapters), built only from the public API of the rooms below.

- ``names()``, ``get(name)``, ``experiments()``: the registry (chapter 2's ``toy-sum``, chapter 3's studies).
- ``run(name, config)`` / ``run_all(config)``: train, then write a Markdown report and figures to ``config.out``;
  ``run_study(study, config)`` does the same for a ``Study`` of your own.
- ``base``: how a study is declared (``Study``, ``Variant``, ``MLP``, ``Opt``, ``Inputs``, ``Penalty``, ``Plateau``).

The modules, each importing only those above it in this list:

- ``base``: what a study is (its declaration) and what running one returns;
- ``data``: the chapter-3 data set, split and described;
- ``runner``: how a study runs (train every variant, measure what the report will say);
- ``figures`` then ``report``: how a result is written down (figures, Markdown, JSON, the summary table);
- ``chapter2``, ``chapter3``: the experiments themselves; ``registry``: them by name;
- ``suite``: running by name, and ``run_study`` (``runner`` then ``report``).

Chapter 1's experiments live in ``chapter1`` and run with ``nnblocks demo``.
"""
from __future__ import annotations

from nnblocks.experiments.base import ExperimentResult, RunConfig, Study, VariantResult
from nnblocks.experiments.registry import experiments, get, names, register
from nnblocks.experiments.suite import run, run_all, run_study

__all__ = ["ExperimentResult", "RunConfig", "Study", "VariantResult", "experiments", "get", "names", "register",
           "run", "run_all", "run_study"]
