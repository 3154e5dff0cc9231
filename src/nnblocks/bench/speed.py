"""Training speed side by side: every system trains the chapter-3 network on the same data, in turns.

How the measurement is kept honest:
- the data is made once by the parent and saved as ``.npy``; every worker loads the same files;
- each (system, batch size, round) runs in its own fresh process, and the systems take turns inside every round
  (A B C A B C ...), so a slow patch of a shared machine hits all of them;
- only the training epochs are timed; imports, data loading, model construction and evaluation are not. The
  headline number is the median samples/s over rounds x epochs;
- every worker reports its peak RSS, its test accuracy after training, and the BLAS it actually loaded;
- the GEMM bound is measured on the spot (``gemm``): no NumPy/BLAS system can train faster than that.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from nnblocks.bench.data import prepare_data
from nnblocks.bench.machine import (available_systems, describe_blas, load_average, machine_description,
                                    slow_kernel_note)
from nnblocks.bench.table import format_table
from nnblocks.bench.worker import start_worker
from nnblocks.bench.workload import CNN_WORKLOAD, LABELS, WORKLOAD


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median samples/s over rounds x epochs (and the spread) of one system at one batch size."""
    good = [r for r in runs if "error" not in r]
    summary: dict[str, Any] = {"runs": runs, "errors": [r["error"] for r in runs if "error" in r]}
    if not good:
        return summary
    if good[0]["system"] == "gemm":
        rates = [r["samples_per_s"] for r in good]
    else:
        rates = [rate for r in good for rate in r["samples_per_s"]]
        summary["test_accuracy"] = statistics.median(r["test_accuracy"] for r in good)
        summary["last_epoch_loss"] = statistics.median(r["epoch_loss"][-1] for r in good)
        summary["dtype"] = good[0].get("dtype")
        if "workspace_mib" in good[0]:
            summary["workspace_mib"] = max(r["workspace_mib"] for r in good)
    summary.update(samples_per_s=statistics.median(rates), min_samples_per_s=min(rates),
                   max_samples_per_s=max(rates), measurements=len(rates),
                   peak_rss_mib=max(r["peak_rss_mib"] for r in good),
                   blas=describe_blas(good[0].get("blas", [])), effective_batch=good[0]["effective_batch"])
    if "torch_blas" in good[0]:  # torch links its BLAS statically: threadpoolctl does not see it
        summary["blas"] = f"{good[0]['torch_blas']} inside torch, {good[0]['torch_threads']} threads"
    return summary


def ratios(per_system: dict[str, dict[str, Any]]) -> dict[str, float]:
    """nnblocks' samples/s divided by each other system's (above 1: nnblocks is faster)."""
    ours = per_system.get("nnblocks", {}).get("samples_per_s")
    out = {}
    for system, summary in per_system.items():
        theirs = summary.get("samples_per_s")
        if system != "nnblocks" and ours and theirs:
            out[f"nnblocks/{system}"] = ours / theirs
    return out


def progress_line(round_index: int, rounds: int, batch: int, system: str, result: dict[str, Any]) -> str:
    head = f"  round {round_index + 1}/{rounds}  batch {batch:>6}  {LABELS[system]:<13}"
    if "error" in result:
        return f"{head} FAILED: {result['error']}"
    rate = result["samples_per_s"] if system == "gemm" else statistics.median(result["samples_per_s"])
    tail = "" if system == "gemm" else f"  test acc {100 * result['test_accuracy']:.1f}%"
    return f"{head} {rate:>12,.0f} samples/s{tail}"


def busy_note(machine: dict[str, Any]) -> str | None:
    """A warning when the load average says other work shares the CPUs (None on a quiet machine)."""
    load = machine["load_average_start"]
    if load is None or load[0] <= 0.5 * (machine["usable_cpus"] or 1):
        return None
    return (f"the machine is busy (load average {load[0]:.2f} on {machine['usable_cpus']} CPUs): timings will be "
            "noisy, and multi-threaded BLAS can slow down many times over when its threads wait on each other; "
            "measure on an idle machine, or compare with --threads 1")


def run_rounds(args: argparse.Namespace, systems: list[str], data_dir: Path) -> dict[int, dict[str, list]]:
    """Every (round, batch size, system) in its own worker, the systems taking turns; progress printed as it goes."""
    runs: dict[int, dict[str, list]] = {b: {s: [] for s in systems} for b in args.batch_sizes}
    for round_index in range(args.rounds):
        for batch in args.batch_sizes:
            for system in systems:  # A B C A B C ...: systems take turns within every round
                result = start_worker(system, batch, args, data_dir, seed=args.seed + round_index)
                runs[batch][system].append(result)
                print(progress_line(round_index, args.rounds, batch, system, result), flush=True)
    return runs


def workspace_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    """What the convolutions' reused im2col buffers held after training (--cnn), per batch size."""
    held = {batch: r["nnblocks"]["workspace_mib"] for batch, r in results.items()
            if "workspace_mib" in r.get("nnblocks", {})}
    if not held:
        return []
    return ["nnblocks im2col workspace after training (reused every step, not reallocated): "
            + ", ".join(f"{mib:.1f} MiB at batch {batch}" for batch, mib in held.items())]


def speed_main(args: argparse.Namespace) -> int:
    """Run the side-by-side benchmark; print the table (and profiles) and save everything as JSON."""
    systems, notes = available_systems(args.systems)
    machine = machine_description()
    print(f"nnblocks bench: {machine['cpu']}, {machine['usable_cpus']} usable CPUs, numpy BLAS {machine['numpy_blas']}")
    for note in (busy_note(machine), slow_kernel_note(machine)):  # each once per run
        if note is not None:
            notes.append(note)
    with tempfile.TemporaryDirectory(prefix="nnblocks-bench-data-") as tmp:
        data_dir = Path(tmp)
        data = prepare_data(args, data_dir)
        print(f"data: {data['train']:,} training / {data['test']:,} test samples, {data['source']}")
        for note in notes:
            print(f"note: {note}")
        runs = run_rounds(args, systems, data_dir)
        profiles = {}
        if args.profile and "nnblocks" in systems:
            for batch in args.batch_sizes:
                profiles[batch] = start_worker("nnblocks", batch, args, data_dir, seed=args.seed, profile=True)
    machine["load_average_end"] = load_average()

    results = {str(b): {s: summarise(runs[b][s]) for s in systems} for b in args.batch_sizes}
    notes += workspace_notes(results)
    report = {
        "workload": CNN_WORKLOAD if args.cnn else WORKLOAD,
        "config": {"batch_sizes": args.batch_sizes, "epochs": args.epochs, "rounds": args.rounds,
                   "systems": systems, "threads": args.threads, "seed": args.seed, "quick": args.quick, "data": data},
        "machine": machine, "notes": notes, "results": results,
        "ratios": {str(b): ratios(results[str(b)]) for b in args.batch_sizes},
    }
    print()
    print(format_table(report))
    for batch, result in profiles.items():
        print(f"\ncProfile of one nnblocks run at batch {batch} ({args.epochs} epoch(s)), top 15 by own time:")
        print(result.get("profile") or result.get("error"))
    args.json_path.parent.mkdir(parents=True, exist_ok=True)
    args.json_path.write_text(json.dumps(report, indent=1))
    print(f"\nresults written to {args.json_path}")
    failed = [f"{s} at batch {b}" for b in results for s, r in results[b].items() if r["errors"]]
    if failed:
        print("FAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0
