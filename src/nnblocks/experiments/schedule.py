"""Many trainings in one command: the tasks (one per variant of each study; toy-sum whole), an estimate of how long
they take from timing their first steps, and running them in worker processes.

Every variant seeds itself (weights, shuffling, dropout masks from ``config.seed``), so a variant trained in a
worker is the very run it would be in sequence: the studies are independent, and so are their variants. Workers
are forked processes that inherit the loaded data; each limits its BLAS threads (``threadpoolctl``) so that
``jobs * blas_threads`` does not exceed the cores.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from nnblocks import nn, no_grad
from nnblocks.experiments.base import RunConfig, Study
from nnblocks.experiments.data import ExperimentData
from nnblocks.experiments.registry import get
from nnblocks.experiments.runner import PenalizedLoss, train_variant
from nnblocks.tensor import Tensor

TIMED_STEPS = 10  # training steps timed per variant after two warm-up steps (a batch of 32: ~0.1-0.5 s in all)


@dataclass(frozen=True)
class Task:
    experiment: str  # a registry name
    variant: int | None  # index into the study's variants; None: the whole experiment (toy-sum)
    label: str
    out: str | None = None  # the experiment's report folder (a whole experiment writes its own report)
    seconds: float = 0.0  # the estimate


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def plan(names: list[str], config: RunConfig, out_of: Callable[[str], Any] = lambda name: None) -> list[Task]:
    """One task per variant of each study, one per other experiment (its report goes to ``out_of(name)``)."""
    tasks = []
    for name in names:
        experiment = get(name)
        if isinstance(experiment, Study):
            tasks += [Task(name, i, f"{name}/{v.name}") for i, v in enumerate(experiment.variants_for(config.protocol))]
        else:
            out = out_of(name)
            tasks.append(Task(name, None, name, None if out is None else str(out)))
    return tasks


def _step_seconds(study: Study, index: int, data: ExperimentData, config: RunConfig) -> tuple[float, float]:
    """(seconds per training step, seconds per evaluated sample) of one variant, from a few real steps."""
    variant = study.variants_for(config.protocol)[index]
    model = variant.model(data.n_features, data.n_classes, config.seed)
    optimizer = variant.optimizer(model.parameters())
    loss_fn: Any = nn.CrossEntropyLoss()
    if variant.penalty is not None:
        loss_fn = PenalizedLoss(loss_fn, model, variant.penalty)
    size = min(variant.batch_size, len(data.y_train))
    steps = TIMED_STEPS if size <= 1000 else 3
    X = variant.inputs(data.X_train[:size], data.pixel_max)
    x, y = Tensor(X), Tensor(data.y_train[:size])
    times = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(steps + 2):
            started = time.perf_counter()
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            times.append(time.perf_counter() - started)
        model.eval()
        n = min(1000, len(data.y_val))
        started = time.perf_counter()
        with no_grad():
            model(Tensor(variant.inputs(data.X_val[:n], data.pixel_max)))
        per_sample = (time.perf_counter() - started) / n
    return float(np.median(times[2:])), per_sample


def estimate(tasks: list[Task], data: ExperimentData | None, config: RunConfig) -> list[Task]:
    """The tasks with their estimated seconds: steps per epoch x timed step, plus validation (and, with the book's
    protocol, the second pass over the training set), x epochs; an experiment with a run of its own gives its own
    ``estimate_seconds(config, data)`` (chapter 4's studies), or none (toy-sum: well under a second)."""
    out = []
    with blas_limit(config.blas_threads):  # timed as the workers will run: with their BLAS threads
        for task in tasks:
            out.append(_estimate_task(task, data, config))
    return out


def _estimate_task(task: Task, data: ExperimentData | None, config: RunConfig) -> Task:
    experiment = get(task.experiment)
    if task.variant is None:  # a run of its own: chapter 4's studies time their networks' steps; toy-sum is instant
        own = getattr(experiment, "estimate_seconds", None)
        return replace(task, seconds=own(config, data) if own is not None and data is not None else 0.5)
    if data is None:
        return replace(task, seconds=0.5)
    epochs = config.epochs if config.epochs is not None else experiment.epochs
    step, per_sample = _step_seconds(experiment, task.variant, data, config)
    batch = experiment.variants_for(config.protocol)[task.variant].batch_size
    n_train, n_val = len(data.y_train), len(data.y_val)
    evaluated = n_val + (n_train if config.protocol == "book" else 0)
    per_epoch = math.ceil(n_train / batch) * step + evaluated * per_sample
    return replace(task, seconds=epochs * per_epoch + n_train * per_sample)  # + the final eval pass


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of running tasks of these durations on ``workers`` processes, longest first (each to the process
    that frees up first)."""
    loads = [0.0] * max(1, workers)
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


# ---- execution --------------------------------------------------------------------------------------------------------
_DATA: ExperimentData | None = None  # the command's data, inherited by forked workers


def blas_limit(blas_threads: int | None) -> Any:
    """``threadpoolctl.threadpool_limits(blas_threads)`` (a context manager that also acts at once), or a no-op
    without a limit or without threadpoolctl (the 'bench' extra: NumPy then keeps its default threads)."""
    import contextlib

    if blas_threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=blas_threads)


def _init_worker(blas_threads: int | None) -> None:
    blas_limit(blas_threads)  # for the worker's whole life


def run_task(task: Task, config: RunConfig, data: ExperimentData | None) -> Any:
    """Train one task: a ``VariantResult`` for a study's variant, an ``ExperimentResult`` for toy-sum."""
    experiment = get(task.experiment)
    if task.variant is None:  # an experiment with a run of its own: toy-sum (its own data), chapter 4's studies
        return experiment.run(replace(config, out=task.out), data)
    variant = experiment.variants_for(config.protocol)[task.variant]
    epochs = config.epochs if config.epochs is not None else experiment.epochs
    return train_variant(variant, data, epochs, config, task.label, None, experiment.book_protocol)


def _worker(task: Task, config: RunConfig) -> tuple[Task, Any, float]:
    started = time.perf_counter()
    result = run_task(task, config, _DATA)
    if task.variant is None:  # written by the worker: only the numbers travel back
        result.notice, result.extra = (), {k: result.extra[k] for k in ("verdict", "protocol") if k in result.extra}
        for v in result.variants:
            v.model = None
    return task, result, time.perf_counter() - started


def execute(tasks: list[Task], config: RunConfig, data: ExperimentData | None, jobs: int,
            on_done: Callable[[Task, Any, float], None]) -> None:
    """Run ``tasks`` (longest first) on ``jobs`` worker processes, or in this process when ``jobs == 1``;
    ``on_done(task, result, seconds)`` is called in this process as each one finishes."""
    ordered = sorted(tasks, key=lambda t: -t.seconds)
    if jobs <= 1 or len(tasks) <= 1:
        with blas_limit(config.blas_threads):  # the same BLAS threads as workers: the same sums, the same runs
            for task in ordered:
                started = time.perf_counter()
                on_done(task, run_task(task, config, data), time.perf_counter() - started)
        return
    global _DATA
    _DATA = data
    quiet = replace(config, log=None)  # workers print nothing: progress is reported here, per task
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(config.blas_threads,)) as pool:
            pending = {pool.submit(_worker, task, quiet) for task in ordered}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(*future.result())
    finally:
        _DATA = None
