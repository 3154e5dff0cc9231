"""Running experiments: a study (trained by ``runner``, written down by ``report``), one experiment by name
(``run``), or every one with a summary table (``run_all``).

``run`` and ``run_all`` go through ``schedule``: they time the first steps of every variant and say how long the
command will take, then train the variants (on ``jobs`` worker processes when asked), report progress across the
studies as each variant finishes, and write a study's report as soon as its last variant is done.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nnblocks.experiments import schedule
from nnblocks.experiments.base import ExperimentResult, RunConfig, Study
from nnblocks.experiments.data import ExperimentData, load_data
from nnblocks.experiments.registry import experiments, get
from nnblocks.experiments.report import summary_markdown, write_study_outputs
from nnblocks.experiments.runner import assemble_study, train_study
from nnblocks.experiments.verdict import UNVERIFIED, Verdict

DEFAULT_OUT = Path("nnblocks-out") / "experiments"


def load_config_data(config: RunConfig) -> ExperimentData:
    """The chapter-3 data ``config`` names (loaded once per command and shared by every study)."""
    return load_data(config.dataset, config.data_dir, config.download, config.subset, config.seed)


def finish_study(study: Study, config: RunConfig, data: ExperimentData, result: ExperimentResult) -> ExperimentResult:
    """The verdict beside the book, then (when ``config.out`` is set) the report and figures."""
    if study.verdict is not None:
        try:
            result.extra["verdict"] = study.verdict(result)
        except (KeyError, StopIteration, ValueError, ZeroDivisionError) as exc:  # a variant missing or diverged
            result.extra["verdict"] = Verdict(UNVERIFIED, f"not computed from this run ({type(exc).__name__}: {exc})")
    if config.out is not None:
        out = Path(config.out)
        write_study_outputs(result, out, data)
        config.say(f"{study.name}: report written to {out / 'report.md'}")
    return result


def run_study(study: Study, config: RunConfig, data: ExperimentData | None = None) -> ExperimentResult:
    """Train every variant of ``study`` in this process (on ``config``'s data unless ``data`` is given) and, when
    ``config.out`` is set, write its report and figures there."""
    if data is None:
        data = load_config_data(config)
    return finish_study(study, config, data, train_study(study, config, data))


def run_experiment(experiment: Any, config: RunConfig, data: ExperimentData | None = None) -> ExperimentResult:
    """A study is declared as data and run by ``run_study``; any other experiment (toy-sum) has a ``run`` of its own."""
    if isinstance(experiment, Study):
        return run_study(experiment, config, data)
    return experiment.run(config, data)


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min" if seconds >= 90 else \
        f"{seconds:.0f} s"


def run_many(names: list[str], config: RunConfig, out_of: Any, jobs: int = 1,
             data: ExperimentData | None = None) -> list[ExperimentResult]:
    """Estimate, then train every variant of the experiments ``names`` (``jobs`` processes), writing each study's
    report into ``out_of(name)`` once its variants are done. Results come back in the order of ``names``."""
    if data is None and any(get(n).chapter >= 3 for n in names):
        data = load_config_data(config)
    tasks = schedule.estimate(schedule.plan(names, config, out_of), data, config)
    total = sum(t.seconds for t in tasks)
    config.say(f"estimated duration: {_minutes(total)} of training in {len(tasks)} run(s)"
               + (f"; on {jobs} worker processes ({config.blas_threads or 'default'} BLAS thread(s) each) about "
                  f"{_minutes(schedule.makespan([t.seconds for t in tasks], jobs))} wall time" if jobs > 1 else "")
               + f" (from timing the first {schedule.TIMED_STEPS} steps of every variant; the machine's load changes it)")
    started, trained, finished = time.perf_counter(), {}, {}
    remaining = {n: [t for t in tasks if t.experiment == n] for n in names}

    def on_done(task: schedule.Task, result: Any, seconds: float) -> None:
        trained[task] = (result, seconds)
        left = sum(t.seconds for t in tasks if t not in trained)
        config.say(f"[{len(trained)}/{len(tasks)}] {task.label} done in {seconds:.1f} s (estimated {task.seconds:.1f} s); "
                   f"elapsed {_minutes(time.perf_counter() - started)}, about {_minutes(left / max(jobs, 1))} to go")
        if all(t in trained for t in remaining[task.experiment]):
            finished[task.experiment] = _complete(task.experiment, remaining[task.experiment], trained, config, data,
                                                  out_of)

    schedule.execute(tasks, config, data, jobs, on_done)
    return [finished[n] for n in names]


def _complete(name: str, tasks: list[schedule.Task], trained: dict, config: RunConfig, data: Any,
              out_of: Any) -> ExperimentResult:
    experiment = get(name)
    if not isinstance(experiment, Study):
        return trained[tasks[0]][0]
    variants = [trained[t][0] for t in sorted(tasks, key=lambda t: t.variant)]
    result = assemble_study(experiment, config, data, variants, sum(trained[t][1] for t in tasks))
    return finish_study(experiment, replace(config, out=out_of(name)), data, result)


def run(name: str, config: RunConfig, jobs: int = 1) -> ExperimentResult:
    """Run experiment ``name``; its report and figures go to ``config.out`` (default ``nnblocks-out/experiments/NAME``)."""
    get(name)  # an unknown name fails before any data is loaded
    out = Path(config.out) if config.out is not None else DEFAULT_OUT / name
    return run_many([name], config, lambda _: out, jobs)[0]


def run_all(config: RunConfig, jobs: int = 1) -> tuple[list[ExperimentResult], Path | None, float]:
    """Run every experiment, each into ``<out>/<name>``, then write ``<out>/summary.md``; ``jobs`` worker processes.

    Returns the results, the summary's path and the total wall time. The data is loaded once, before anything runs,
    so a missing data set stops the command at once.
    """
    base = Path(config.out) if config.out is not None else DEFAULT_OUT
    started = time.perf_counter()
    data = load_config_data(config)
    results = run_many([e.name for e in experiments()], config, lambda name: base / name, jobs, data)
    seconds = time.perf_counter() - started
    epochs = "each study's default epochs" if config.epochs is None else f"--epochs {config.epochs}"
    heading = (f"Data: {data.describe()}. Seed {config.seed}, {epochs}"
               + (f", --subset {config.subset}" if config.subset else "")
               + f", protocol {config.protocol}, {jobs} worker process(es). toy-sum uses its own four samples.")
    base.mkdir(parents=True, exist_ok=True)
    path = base / "summary.md"
    path.write_text(summary_markdown(results, seconds, heading), encoding="utf-8")
    return results, path, seconds
