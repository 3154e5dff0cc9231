"""A worker: one system, one batch size, one round, in a fresh Python process.

The parent calls ``start_worker``, which runs ``python -m nnblocks.bench --worker SYSTEM ...`` and reads back the
JSON the child's ``worker_main`` writes. A fresh process per run keeps the systems from sharing caches, allocator
state or threads, and makes each run's peak memory its own.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from nnblocks.bench.data import load_data, train_size
from nnblocks.bench.gemm import gemm_bound
from nnblocks.bench.machine import blas_info, peak_rss_mib
from nnblocks.bench.cnn import CNN_TRAINERS
from nnblocks.bench.systems import TRAINERS


def _profiled(train: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``train()``'s result plus, under ``"profile"``, its top 15 functions by own time (cProfile)."""
    profiler = cProfile.Profile()
    profiler.enable()
    result = train()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    return {**result, "profile": text.getvalue()}


def worker_main(args: argparse.Namespace) -> int:
    """Run one system once and write its measurements as JSON to ``--out`` (the parent reads them)."""
    result: dict[str, Any] = {"system": args.worker, "batch_size": args.batch_sizes[0]}
    batch = args.batch_sizes[0]
    if args.worker == "gemm":
        n = train_size(args.data)
        result["effective_batch"] = min(batch, n)
        result.update(gemm_bound(min(batch, n), args.gemm_seconds, args.seed))
    else:
        data = load_data(args.data)
        result["effective_batch"] = min(batch, len(data[1]))
        result["rss_before_training_mib"] = peak_rss_mib()
        trainer = CNN_TRAINERS[args.worker] if args.cnn else TRAINERS[args.worker]
        if args.profile:
            data = data[:2] + (data[2][:1], data[3][:1])  # profile the epochs, not the evaluation
            result.update(_profiled(lambda: trainer(data, batch, args.epochs, args.seed)))
        else:
            result.update(trainer(data, batch, args.epochs, args.seed))
        result["samples"] = len(data[1])
        result["samples_per_s"] = [len(data[1]) / t for t in result["epoch_seconds"]]
    result["peak_rss_mib"] = peak_rss_mib()
    result["blas"] = blas_info()
    args.out.write_text(json.dumps(result))
    return 0


def start_worker(system: str, batch: int, args: argparse.Namespace, data_dir: Path, seed: int,
                 profile: bool = False) -> dict[str, Any]:
    """Run ``system`` at ``batch`` in a fresh interpreter; its result dict, or ``{"error": ...}`` if it failed."""
    with tempfile.TemporaryDirectory(prefix="nnblocks-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "nnblocks.bench", "--worker", system, "--data", str(data_dir),
                   "--batch-sizes", str(batch), "--epochs", str(args.epochs), "--seed", str(seed),
                   "--out", str(out), "--gemm-seconds", str(args.gemm_seconds)]
        if profile:
            command.append("--profile")
        if args.cnn:
            command.append("--cnn")
        env = dict(os.environ)
        if args.threads is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(args.threads)
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout:.0f} s"}
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            return {"error": f"worker exited with code {done.returncode}: " + " | ".join(tail)}
        return json.loads(out.read_text())
