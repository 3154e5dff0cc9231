"""Running experiments: a study (trained by ``runner``, written down by ``report``), one experiment by name
(``run``), or every one in sequence with a summary table (``run_all``)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nnblocks.experiments.base import ExperimentResult, RunConfig, Study
from nnblocks.experiments.data import ExperimentData, load_data
from nnblocks.experiments.registry import experiments, get
from nnblocks.experiments.report import summary_markdown, write_study_outputs
from nnblocks.experiments.runner import train_study

DEFAULT_OUT = Path("nnblocks-out") / "experiments"


def load_config_data(config: RunConfig) -> ExperimentData:
    """The chapter-3 data ``config`` names (loaded once per command and shared by every study)."""
    return load_data(config.dataset, config.data_dir, config.download, config.subset, config.seed)


def run_study(study: Study, config: RunConfig, data: ExperimentData | None = None) -> ExperimentResult:
    """Train every variant of ``study`` (on ``config``'s data unless ``data`` is given) and, when ``config.out`` is
    set, write its report and figures there."""
    if data is None:
        data = load_config_data(config)
    result = train_study(study, config, data)
    if study.verdict is not None:
        result.extra["verdict"] = study.verdict(result)
    if config.out is not None:
        out = Path(config.out)
        write_study_outputs(result, out, data)
        config.say(f"{study.name}: report written to {out / 'report.md'}")
    return result


def run_experiment(experiment: Any, config: RunConfig, data: ExperimentData | None = None) -> ExperimentResult:
    """A study is declared as data and run by ``run_study``; any other experiment (toy-sum) has a ``run`` of its own.
    ``data``: the chapter-3 data set, for chapter-3 experiments."""
    if isinstance(experiment, Study):
        return run_study(experiment, config, data)
    return experiment.run(config, data)


def run(name: str, config: RunConfig) -> ExperimentResult:
    """Run experiment ``name``; its report and figures go to ``config.out`` (default ``nnblocks-out/experiments/NAME``)."""
    experiment = get(name)
    config = replace(config, out=Path(config.out) if config.out is not None else DEFAULT_OUT / name)
    return run_experiment(experiment, config, load_config_data(config) if experiment.chapter >= 3 else None)


def run_all(config: RunConfig) -> tuple[list[ExperimentResult], Path | None, float]:
    """Run every experiment in sequence, each into ``<out>/<name>``, then write ``<out>/summary.md``.

    Returns the results, the summary's path and the total wall time. The data is loaded once, before anything runs,
    so a missing data set stops the command at once.
    """
    base = Path(config.out) if config.out is not None else DEFAULT_OUT
    started = time.perf_counter()
    data = load_config_data(config)
    results = [run_experiment(experiment, replace(config, out=base / experiment.name),
                              data if experiment.chapter >= 3 else None) for experiment in experiments()]
    seconds = time.perf_counter() - started
    epochs = "each study's default epochs" if config.epochs is None else f"--epochs {config.epochs}"
    heading = (f"Data: {data.describe()}. Seed {config.seed}, {epochs}"
               + (f", --subset {config.subset}" if config.subset else "") + ". toy-sum uses its own four samples.")
    base.mkdir(parents=True, exist_ok=True)
    path = base / "summary.md"
    path.write_text(summary_markdown(results, seconds, heading), encoding="utf-8")
    return results, path, seconds
