"""The side-by-side benchmark's terminal table: one row per (batch size, system), the ratios, the BLAS of each worker.

Reading it: samples/s is the median over rounds x epochs and "min .. max" the spread of the same measurements (a
``!`` marks a row whose spread exceeds ``NOISY``: the machine was not quiet); above 1.00, a ratio says nnblocks is
faster; test accuracy should be about equal within one batch size (same network, data and steps), else a bug.
"""
from __future__ import annotations

from typing import Any

from nnblocks.bench.workload import LABELS

NOISY = 1.5  # a row whose max/min samples/s exceeds this is flagged in the table


def format_table(report: dict[str, Any]) -> str:
    """The terminal table: one row per (batch size, system), then the ratios."""
    config, machine = report["config"], report["machine"]
    lines = [
        f"{report['workload']}",
        f"{config['data']['train']:,} training samples ({config['data']['source']}), {config['epochs']} epoch(s) x "
        f"{config['rounds']} round(s), each run in a fresh process; threads per worker: "
        f"{config['threads'] or 'each library default'}",
        f"machine: {machine['cpu']}, {machine['usable_cpus']} usable CPUs; numpy {machine['versions']['numpy']} "
        f"(BLAS {machine['numpy_blas']}); torch {machine['versions']['torch'] or '-'}; "
        f"scikit-learn {machine['versions']['scikit-learn'] or '-'}",
    ]
    if machine.get("load_average_start") is not None:
        start, end = machine["load_average_start"][0], machine["load_average_end"][0]
        lines.append(f"load average (1 min) at start {start:.2f}, at end {end:.2f}")
    header = f"{'batch':>6}  {'system':<14} {'samples/s':>11}  {'min .. max':>21}  {'test acc':>8}  {'peak RSS':>9}"
    lines += ["", header, "-" * len(header)]
    noisy = False
    for batch, per_system in report["results"].items():
        for system, s in per_system.items():
            name = LABELS[system]
            if "samples_per_s" not in s:
                lines.append(f"{batch:>6}  {name:<14} {'FAILED':>11}  {s['errors'][0][:60]}")
                continue
            spread = f"{s['min_samples_per_s']:,.0f} .. {s['max_samples_per_s']:,.0f}"
            if s["max_samples_per_s"] > NOISY * s["min_samples_per_s"]:
                spread += " !"
                noisy = True
            acc = f"{100 * s['test_accuracy']:.1f}%" if "test_accuracy" in s else ""
            lines.append(f"{batch:>6}  {name:<14} {s['samples_per_s']:>11,.0f}  {spread:>21}  {acc:>8}  "
                         f"{s['peak_rss_mib']:>5.0f} MiB")
    if noisy:
        lines.append(f"! fastest and slowest measurement more than {NOISY}x apart: the machine was not quiet, "
                     "do not trust that median")
    names = {"pytorch": "PyTorch", "numpy": "NumPy", "sklearn": "sklearn", "gemm": "GEMM bound", "fit": "fit()"}
    columns = [s for s in ("pytorch", "numpy", "gemm", "sklearn", "fit") if s in config["systems"]]
    if "nnblocks" in config["systems"] and columns:
        header = f"{'batch':>6}  " + "  ".join(f"{'nnblocks/' + names[s]:>19}" for s in columns)
        lines += ["", "ratios of samples/s (above 1.00: nnblocks' eager loop is faster; nnblocks/fit() is the bare loop "
                  "against fit() on the same work)", header, "-" * len(header)]
        for batch, r in report["ratios"].items():
            cells = [f"{r[f'nnblocks/{s}']:.2f}x" if f"nnblocks/{s}" in r else "-" for s in columns]
            lines.append(f"{batch:>6}  " + "  ".join(f"{c:>19}" for c in cells))
    blas: dict[str, str] = {}
    for per_system in report["results"].values():
        for system, s in per_system.items():
            blas.setdefault(LABELS[system], s.get("blas", "?"))
    lines += ["", "BLAS in each worker: " + "; ".join(f"{name}: {text}" for name, text in blas.items())]
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
