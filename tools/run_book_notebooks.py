"""Run the book's notebooks cell by cell on nnblocks and on PyTorch, and tabulate what fails.

    python tools/run_book_notebooks.py NOTEBOOK_DIR [--data /tmp/bookdata] [--epochs 1] [--samples 2000]
                                       [--only NAME] [--backend both|nnblocks|torch] [--json out.json] [-v]

NOTEBOOK_DIR holds the notebooks of *Modern Computer Vision with PyTorch* (chapters 2-3): `.ipynb` files as the
book's repository stores them, or `.py` files whose cells are separated by `# %%` lines. The book's code is not part
of nnblocks: fetch the notebooks yourself and keep them outside the repository.

What is changed before a cell runs, and nothing else:
- nnblocks runs: the import lines (`import torch` -> `import nnblocks as torch`, `torch.nn`, `torch.optim`,
  `torch.utils.data`, `from torchvision import datasets` -> `from nnblocks.vision import datasets`,
  `from torchsummary import summary` -> `from nnblocks.utils import summary`);
- both runs: the Fashion-MNIST folder (`data_folder = '...'`) points at --data (`FashionMNIST/raw/*-ubyte`); without
  torchvision, PyTorch's run reads the same files through tests/book_style/torch_datasets.py;
- to keep the run short (the same calls, less work): `for epoch in range(N)` runs at most --epochs epochs (the
  plots' `np.arange(N)+1` follows), and the images are sliced to --samples (training) and --samples/2 (validation);
- IPython: `%matplotlib` lines and `!` shell lines are left out (they need Jupyter, README: exempt); `%timeit stmt`
  runs `stmt` once.

--same-start (to catch silent wrong answers): both libraries start from the same weights and see the same batches:
every model the notebook builds (`model, loss_fn, optimizer = get_model()`, `mynet = ...`, `model = nn.Sequential(`)
gets its parameters from one NumPy generator, and `shuffle=True` becomes `shuffle=False`; the losses and accuracies
the notebook keeps (`losses`, `train_losses`, `val_accuracies`, `loss_history`, ...) are then compared number by
number (dropout masks still differ: those notebooks are expected to differ).

Every cell runs in order in one namespace per notebook and backend (a subprocess each); a cell whose last statement
is an expression has that expression's repr() taken, as Jupyter displays it. A failing cell is recorded (its first
error line) and the next cells still run. The table: cells, cells failing on nnblocks, on PyTorch, and the nnblocks
failures that PyTorch does not share (the ones to fix).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
STANDINS = ROOT / "tests" / "book_style"  # torch_datasets.py: torchvision's FashionMNIST for PyTorch runs

NNBLOCKS_IMPORTS = [
    (r"^(\s*)import torch\.nn\.functional as (\w+)", r"\1import nnblocks.nn.functional as \2"),
    (r"^(\s*)import torch\.nn as (\w+)", r"\1import nnblocks.nn as \2"),
    (r"^(\s*)import torch\.optim as (\w+)", r"\1import nnblocks.optim as \2"),
    (r"^(\s*)import torch\s*$", r"\1import nnblocks as torch"),
    (r"^(\s*)import torch as (\w+)", r"\1import nnblocks as \2"),
    (r"^(\s*)from torch import ", r"\1from nnblocks import "),
    (r"^(\s*)from torch\.", r"\1from nnblocks."),
    (r"^(\s*)from torchvision import datasets", r"\1from nnblocks.vision import datasets"),
    (r"^(\s*)from torchsummary import summary", r"\1from nnblocks.utils import summary"),
]


def notebook_cells(path: Path) -> list[str]:
    """The code cells' sources, in order (empty cells left out)."""
    if path.suffix == ".ipynb":
        book = json.loads(path.read_text(encoding="utf-8"))
        cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                 for c in book["cells"] if c.get("cell_type") == "code"]
    else:
        cells = re.split(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.M)
    return [c.strip("\n") for c in cells if c.strip()]


SAME_START = """
import numpy as _np
_rng = _np.random.default_rng(0)
with torch.no_grad():
    for _p in {model}.parameters():
        _p.copy_(torch.tensor(_rng.uniform(-0.05, 0.05, tuple(_p.shape)).astype("float32")))
"""
BUILT = re.compile(r"^(\s*)(\w+)(?:, loss_fn, optimizer)? = (?:get_model\(\)|MyNeuralNet\(\)\.to\(device\))\s*$")


def rewrite(cell: str, backend: str, data: str, epochs: int, samples: int, same_start: bool = False) -> str:
    """The cell as it runs here (see the module docstring for every change)."""
    if same_start:
        cell = re.sub(r"(model = nn\.Sequential\((?:.|\n)*?\n\)\.to\(device\))", r"\1\n#<same-start model>", cell)
        cell = cell.replace("shuffle=True", "shuffle=False")
    lines = []
    for line in cell.splitlines():
        stripped = line.strip()
        if stripped.startswith("!") or stripped.startswith("%matplotlib"):
            continue
        if stripped.startswith("%timeit"):
            line = line[: len(line) - len(line.lstrip())] + stripped[len("%timeit"):].strip()
        if backend == "nnblocks":
            for pattern, repl in NNBLOCKS_IMPORTS:
                line = re.sub(pattern, repl, line)
        elif re.match(r"\s*from torchvision import datasets", line) and not _has("torchvision"):
            line = line.replace("from torchvision import datasets", "import torch_datasets as datasets")
        line = re.sub(r"^(\s*data_folder\s*=\s*)(['\"]).*?\2", rf"\1'{data}'", line)
        line = re.sub(r"(for\s+epoch\s+in\s+range\()(\d+)\)", lambda m: f"{m[1]}{min(int(m[2]), epochs)})", line)
        line = re.sub(r"(np\.arange\()(\d+)(\)\s*\+\s*1)", lambda m: f"{m[1]}{min(int(m[2]), epochs)}{m[3]}", line)
        line = re.sub(r"^(\s*\w+\s*=\s*)(\w*fmnist)\.(data|targets)\s*$",
                      lambda m: f"{m[1]}{m[2]}.{m[3]}[:{samples if 'val' not in m[2] else samples // 2}]", line)
        lines.append(line)
        built = BUILT.match(line) if same_start else None
        if line == "#<same-start model>" or built:
            indent, name = (built[1], built[2]) if built else ("", "model")
            lines.extend(indent + ln for ln in SAME_START.format(model=name).strip().splitlines())
    return "\n".join(lines)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


WORKER = r'''
import ast, io, json, sys, traceback, contextlib, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *a, **k: plt.close("all")
KEPT = ("losses", "accuracies", "train_losses", "train_accuracies", "val_losses", "val_accuracies", "loss_history")
def kept(ns):
    found = {}
    for name in KEPT:
        value = ns.get(name)
        if isinstance(value, list) and value:
            try:
                found[name] = [float(v) for v in value]
            except Exception:
                pass
    return found
before = {}
warnings.simplefilter("ignore")
cells = json.load(sys.stdin)
ns = {"__name__": "__main__"}
results = []
for source in cells:
    out = io.StringIO()
    entry = {"ok": True, "error": "", "output": ""}
    try:
        tree = ast.parse(source)
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        shown = last is not None and not source.rstrip().endswith(";")
        body = ast.Module(body=tree.body[:-1] if shown else tree.body, type_ignores=[])
        with contextlib.redirect_stdout(out):
            exec(compile(body, "<cell>", "exec"), ns)
            if shown:
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)
                if value is not None:
                    print(repr(value))
    except BaseException as exc:
        entry["ok"] = False
        entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        entry["where"] = traceback.format_exc().strip().splitlines()[-3:-1]
    plt.close("all")
    now = kept(ns)
    entry["values"] = {k: v for k, v in now.items() if before.get(k) != v}
    before = now
    entry["output"] = out.getvalue()[-2000:]
    results.append(entry)
print(json.dumps(results))
'''


def run_notebook(cells: list[str], backend: str, args: argparse.Namespace, cwd: Path) -> list[dict]:
    """Every cell in one namespace in a subprocess; a result per cell."""
    sources = [rewrite(c, backend, args.data, args.epochs, args.samples, args.same_start) for c in cells]
    paths = [str(SRC), str(STANDINS), os.environ.get("PYTHONPATH", "")]
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env = {**os.environ, **threads, "PYTHONPATH": os.pathsep.join(paths), "MPLBACKEND": "Agg", "PAGER": "cat"}
    try:
        done = subprocess.run([sys.executable, "-c", WORKER], input=json.dumps(sources), capture_output=True,
                              text=True, env=env, cwd=cwd, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return [{"ok": False, "error": f"timeout after {args.timeout} s (whole notebook)", "output": ""}] * len(cells)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        error = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return [{"ok": False, "error": f"worker crashed: {error}", "output": ""}] * len(cells)


def summarize(name: str, cells: list[str], runs: dict[str, list[dict]]) -> dict:
    ours, theirs = runs.get("nnblocks"), runs.get("torch")
    # to_fix: fails on nnblocks, runs on PyTorch; unjudged: fails on nnblocks while PyTorch was not run (no torch)
    row = {"notebook": name, "cells": len(cells), "failing_nnblocks": [], "failing_torch": [], "to_fix": [],
           "unjudged": []}
    for i in range(len(cells)):
        bad_ours = ours is not None and not ours[i]["ok"]
        bad_theirs = theirs is not None and not theirs[i]["ok"]
        if bad_ours:
            row["failing_nnblocks"].append(i + 1)
        if bad_theirs:
            row["failing_torch"].append(i + 1)
        if bad_ours and theirs is None:
            row["unjudged"].append(i + 1)
        elif bad_ours and not bad_theirs:
            row["to_fix"].append({"cell": i + 1, "error": ours[i]["error"], "where": ours[i].get("where", [])})
    return row


def compare_values(rows: list[dict], runs_by_nb: dict) -> None:
    """The numbers the notebooks keep, nnblocks against PyTorch (--same-start): the largest relative difference."""
    print("\nkept numbers, nnblocks vs PyTorch (same start, same batches):")
    for row in rows:
        runs = runs_by_nb[row["notebook"]]
        if "torch" not in runs or "nnblocks" not in runs:
            continue
        worst, where, count = 0.0, "", 0
        for i, (ours, theirs) in enumerate(zip(runs["nnblocks"], runs["torch"])):
            for name, values in theirs.get("values", {}).items():
                mine = ours.get("values", {}).get(name)
                if mine is None or len(mine) != len(values):
                    print(f"  {row['notebook']} cell {i + 1}: {name} missing or of another length on nnblocks")
                    continue
                for a, b in zip(mine, values):
                    count += 1
                    diff = abs(a - b) / max(abs(b), 1e-3)
                    if diff > worst:
                        worst, where = diff, f"cell {i + 1} {name}: nnblocks {a:.6g}, PyTorch {b:.6g}"
        if count:
            print(f"  {row['notebook']:<58} {count:>4} numbers, largest relative difference {worst:.1e} ({where})")


def print_table(rows: list[dict], runs_by_nb: dict, verbose: bool) -> None:
    print(f"{'notebook':<58} {'cells':>5} {'fail nb':>7} {'fail pt':>7} {'to fix':>6}")
    for row in rows:
        print(f"{row['notebook']:<58} {row['cells']:>5} {len(row['failing_nnblocks']):>7} "
              f"{len(row['failing_torch']):>7} {len(row['to_fix']):>6}")
    total = {k: sum(len(r[k]) for r in rows) for k in ("failing_nnblocks", "failing_torch", "to_fix")}
    print(f"{'total':<58} {sum(r['cells'] for r in rows):>5} {total['failing_nnblocks']:>7} "
          f"{total['failing_torch']:>7} {total['to_fix']:>6}")
    for row in rows:
        runs = runs_by_nb[row["notebook"]]
        for i in sorted(set(row["failing_nnblocks"]) | set(row["failing_torch"])):
            ours = runs.get("nnblocks", [{}] * i)[i - 1]
            theirs = runs.get("torch", [{}] * i)[i - 1]
            status = "FIX " if i in [f["cell"] for f in row["to_fix"]] else "nb? " if i in row["unjudged"] else \
                "both" if not theirs.get("ok", True) and not ours.get("ok", True) else "pt  "
            torch_said = "not run" if "torch" not in runs else theirs.get("error") or "ok"
            print(f"  [{status}] {row['notebook']} cell {i}: nnblocks: {ours.get('error') or 'ok'} | "
                  f"PyTorch: {torch_said}")
            if verbose and ours.get("where"):
                print("         " + " / ".join(s.strip() for s in ours["where"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", type=Path)
    parser.add_argument("--data", default="/tmp/bookdata")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--only", default="")
    parser.add_argument("--backend", choices=["both", "nnblocks", "torch"], default="both")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--same-start", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.notebooks.iterdir() if p.suffix in (".ipynb", ".py") and not p.name.startswith("_"))
    files = [p for p in files if args.only in p.name]
    backends = ["nnblocks", "torch"] if args.backend == "both" else [args.backend]
    rows, runs_by_nb = [], {}
    for path in files:
        cells = notebook_cells(path)
        workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"booknb-run-{path.stem}"
        workdir.mkdir(parents=True, exist_ok=True)
        runs = {b: run_notebook(cells, b, args, workdir) for b in backends}
        runs_by_nb[path.stem] = runs
        rows.append(summarize(path.stem, cells, runs))
    print_table(rows, runs_by_nb, args.verbose)
    if args.same_start:
        compare_values(rows, runs_by_nb)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "runs": runs_by_nb}, indent=1))
    return 1 if any(r["to_fix"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
