"""Running experiments by name: one (``run``) or every one in sequence with a summary table (``run_all``)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from nnblocks.experiments.base import ExperimentResult, RunConfig
from nnblocks.experiments.registry import experiments, get

DEFAULT_OUT = Path("nnblocks-out") / "experiments"


def _data_for(config: RunConfig):  # the chapter-3 data, loaded once per command
    from nnblocks.experiments.data import load_data

    return load_data(config.dataset, config.data_dir, config.download, config.subset, config.seed)


def run(name: str, config: RunConfig) -> ExperimentResult:
    """Run experiment ``name``; its report and figures go to ``config.out`` (default ``nnblocks-out/experiments/NAME``)."""
    experiment = get(name)
    config = replace(config, out=Path(config.out) if config.out is not None else DEFAULT_OUT / name)
    data = _data_for(config) if experiment.chapter >= 3 else None
    return experiment.run(config, data)


def run_all(config: RunConfig) -> tuple[list[ExperimentResult], Path | None, float]:
    """Run every experiment in sequence, each into ``<out>/<name>``, then write ``<out>/summary.md``.

    Returns the results, the summary's path and the total wall time. The data is loaded once, before anything runs,
    so a missing data set stops the command at once.
    """
    from nnblocks.experiments.report import summary_markdown

    base = Path(config.out) if config.out is not None else DEFAULT_OUT
    started = time.perf_counter()
    data = _data_for(config)
    results = []
    for experiment in experiments():
        sub = replace(config, out=base / experiment.name)
        results.append(experiment.run(sub, data if experiment.chapter >= 3 else None))
    seconds = time.perf_counter() - started
    epochs = "each study's default epochs" if config.epochs is None else f"--epochs {config.epochs}"
    heading = (f"Data: {data.describe()}. Seed {config.seed}, {epochs}"
               + (f", --subset {config.subset}" if config.subset else "") + ". toy-sum uses its own four samples.")
    base.mkdir(parents=True, exist_ok=True)
    path = base / "summary.md"
    path.write_text(summary_markdown(results, seconds, heading), encoding="utf-8")
    return results, path, seconds
