"""Pictures of what the network does: loss curves, learning-rate studies, graphs, decision boundaries, weights.

Importing this package is cheap: matplotlib is imported only when a drawing function is called, and the plotting
modules themselves are loaded on first use (``nnblocks.viz.plot_decision_boundary`` imports ``pictures``).

- ``explain(loss)``: the chain rule step by step (``upstream x local = gradient``) with finite differences.
- ``draw_graph(tensor, path)``: the computational graph, laid out in layers, to SVG/PNG (no Graphviz needed).
- ``plot_loss``, ``plot_accuracy``, ``plot_confusion_matrix`` (from ``viz.training``), ``loss_curve_figure``,
  ``learning_rate_study_figure`` (from ``viz.curves``): training runs and the chapter's studies.
- ``plot_decision_boundary``, ``plot_activation_maps``, ``plot_weight_histograms``,
  ``plot_activation_histograms``, ``animate_decision_boundary``, ``BoundarySnapshots``: what a 2-D classifier
  learned, what its neurons respond to, and how it got there.
"""
from __future__ import annotations

import importlib
from typing import Any

# ``explain`` is both a submodule and the function it defines: importing the function here rebinds the package
# attribute from the module to the function, so ``nnblocks.viz.explain(loss)`` works. (explain and graph import
# only NumPy and the engine.)
from nnblocks.viz.explain import ChainRuleTrace, explain
from nnblocks.viz.figures import new_figure, save_figure
from nnblocks.viz.graph import draw_graph, layout_graph, walk_graph

_LAZY = {
    "plot_decision_boundary": "pictures",
    "plot_activation_maps": "pictures",
    "plot_weight_histograms": "pictures",
    "plot_activation_histograms": "pictures",
    "animate_decision_boundary": "pictures",
    "BoundarySnapshots": "pictures",
    "predict_grid": "pictures",
    "plot_spot_checks": "spot_check",
    "layer_activations": "pictures",
    # the training helper's figures (nnblocks.viz.training / nnblocks.viz.curves), re-exported here
    "plot_metric": "training",
    "plot_loss": "training",
    "plot_accuracy": "training",
    "plot_batch_loss": "training",
    "plot_confusion_matrix": "training",
    "loss_curve_figure": "curves",
    "learning_rate_study_figure": "curves",
    "gradient_check_figure": "curves",
}

__all__ = ["ChainRuleTrace", "explain", "draw_graph", "layout_graph", "new_figure", "save_figure", "walk_graph", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"nnblocks.viz.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nnblocks.viz' has no attribute {name!r}")
