"""Making and saving matplotlib figures without pyplot: no window, no global figure list, any backend.

Every plotting function in ``nnblocks.viz`` builds its figure with ``new_figure`` and writes it with
``save_figure``, so all pictures are made and saved the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(size: tuple[float, float] = (6.4, 4.0), margins: dict[str, float] | None = None) -> Any:
    """A Figure on the Agg canvas. ``margins`` (``subplots_adjust`` arguments) fix the layout where it is known:
    cheaper than a layout engine for small plots whose labels fit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    if margins:
        fig.subplots_adjust(**margins)
    return fig


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf; .png when there is none), creating the
    folder. SVG text stays text (searchable, small). Returns the path written."""
    import matplotlib

    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, dpi=dpi)
    return path
