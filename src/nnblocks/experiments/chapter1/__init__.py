"""Chapter 1's two experiments, run and checked: the 2-3-1 network and the learning-rate study.

By default everything is the chapter's procedure exactly ("faithful": its dtypes, the forward finite difference,
step 1e-4), so the numbers are the chapter's. At every step the finite-difference gradient is also compared with
the chain rule computed in float64 at the same weights; where they disagree beyond a tolerance, or where the finite
difference is exactly 0 and the chain rule is not, the comparison records why, in plain words.

Computing and writing down are apart: ``run_demo`` (``runs``) computes everything into a ``DemoResult``, with the
step-by-step comparison in ``comparison``; ``format_report`` (``report``) turns it into the text ``nnblocks demo``
prints and ``save_figures`` (``figures``) draws the plots, both only reading it.
"""
from __future__ import annotations

from nnblocks.experiments.chapter1.comparison import (
    DEFAULT_TOLERANCE,
    ElementFinding,
    StepComparison,
    compare_with_chain_rule,
    explain_element,
)
from nnblocks.experiments.chapter1.figures import save_figures
from nnblocks.experiments.chapter1.report import format_report
from nnblocks.experiments.chapter1.runs import DemoResult, RunResult, run_demo, run_experiment

__all__ = [
    "DEFAULT_TOLERANCE",
    "DemoResult",
    "ElementFinding",
    "RunResult",
    "StepComparison",
    "compare_with_chain_rule",
    "explain_element",
    "format_report",
    "run_demo",
    "run_experiment",
    "save_figures",
]
