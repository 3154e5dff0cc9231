"""Named, reproducible experiments (the book's chapters), built only from the public API of the rooms below.

- ``names()``, ``get(name)``, ``experiments()``: the registry (chapter 2's ``toy-sum``, chapter 3's studies).
- ``run(name, config, jobs)`` / ``run_all(config, jobs)``: estimate the duration, train (on ``jobs`` worker
  processes), then write a Markdown report and figures to ``config.out``, with the book's numbers and a verdict;
  ``run_study(study, config)`` does the same for a ``Study`` of your own, in this process.
- ``RunConfig(protocol="book")``: measure as the book's notebooks do (``base.PROTOCOLS``, ``base.BookProtocol``).
- ``book``: the book's setup, published numbers and conclusions, with provenance (package data).
- ``base``: how a study is declared (``Study``, ``Variant``, ``MLP``, ``Opt``, ``Inputs``, ``Penalty``, ``Plateau``).

The modules, each importing only those above it in this list:

- ``base``: what a study is (its declaration) and what running one returns; ``book``: the book's side, as data;
- ``data``: the chapter-3 data set, split and described;
- ``runner``: how a study runs (train every variant, measure what the report will say); ``verdict``: beside the book;
- ``figures``, ``report_book`` then ``report``: how a result is written down (figures, Markdown, JSON, the summary);
- ``chapter2``, ``chapter3`` (+ ``chapter3_findings``): the experiments themselves; ``registry``: them by name;
- ``schedule``: tasks, the estimate, worker processes; ``suite``: running by name, and ``run_study``.

Chapter 1's experiments live in ``chapter1`` and run with ``nnblocks demo``.
"""
from __future__ import annotations

from nnblocks.experiments.base import ExperimentResult, RunConfig, Study, VariantResult
from nnblocks.experiments.registry import experiments, get, names, register
from nnblocks.experiments.suite import run, run_all, run_study

__all__ = ["ExperimentResult", "RunConfig", "Study", "VariantResult", "experiments", "get", "names", "register",
           "run", "run_all", "run_study"]
