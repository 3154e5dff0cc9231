"""The book-style corpus (tests/book_style/): each script runs with `import nnblocks as torch` on small local
Fashion-MNIST-shaped data, and, where PyTorch is installed, with its import lines turned back into PyTorch's; the
`check:` lines of the two runs must agree, number by number.

A script that needs a part of the engine that issue 12 adds elsewhere (its `engine-features:` header: devices,
`max(dim)` tuples, module-level functions...) is an expected failure only while one of those features is missing,
as probed here in this process; once they all exist, the script must pass like any other.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from fmnist_files import write_fashion_mnist

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "book_style"
SRC = HERE.parent / "src"
SCRIPTS = sorted(p for p in CORPUS.glob("*.py") if p.name != "torch_datasets.py")


def _probe_cuda() -> None:
    import nnblocks as nb

    assert nb.cuda.is_available() in (True, False)


def _probe_to_device() -> None:
    import nnblocks as nb
    from nnblocks import nn

    assert nb.tensor([1.0]).to("cpu").shape == (1,) and isinstance(nn.Linear(1, 1).to("cpu"), nn.Linear)


def _probe_max_dim() -> None:
    import nnblocks as nb

    values, indices = nb.tensor([[1.0, 3.0], [4.0, 2.0]]).max(-1)
    assert indices.tolist() == [1, 0] and values.tolist() == [3.0, 4.0]


def _probe_module_functions() -> None:
    import nnblocks as nb

    t = nb.tensor([[1.0], [2.0]])
    assert nb.mean(nb.square(t)).item() == 2.5 and nb.squeeze(t, 1).shape == (2,)
    assert bool(nb.all(t > 0)) and bool((t > 0).all()) and nb.randint(low=0, high=3, size=(2,)).shape == (2,)


def _probe_dtype_names() -> None:
    import nnblocks as nb

    assert nb.tensor([1]).dtype == nb.int64 and nb.tensor([1.0]).dtype == nb.float32 and nb.uint8 is not None


PROBES: dict[str, Callable[[], object]] = {
    "cuda": _probe_cuda,
    "to_device": _probe_to_device,
    "cpu": lambda: __import__("nnblocks").tensor([1.0]).cpu().numpy(),
    "max_dim": _probe_max_dim,
    "module_functions": _probe_module_functions,
    "cat_axis": lambda: __import__("nnblocks").cat([__import__("nnblocks").ones(1)] * 2, axis=0),
    "dtype_names": _probe_dtype_names,
    "format": lambda: f"{__import__('nnblocks').tensor(1.5):.2f}",
    "plot_0d": lambda: np.asarray([__import__("nnblocks").tensor(1.0, requires_grad=True) * 2], dtype=float),
    "unique": lambda: __import__("nnblocks").tensor([2, 1, 2]).unique(),
    "norm": lambda: __import__("nnblocks").norm(__import__("nnblocks").tensor([1.0, -2.0]), 1),
}


def missing_engine_features(script: Path) -> list[str]:
    header = re.search(r"^engine-features:(.*)$", script.read_text(), flags=re.M)
    features = [f.strip() for f in header.group(1).split(",")] if header else []
    missing = []
    for feature in features:
        if feature == "none":
            continue
        try:
            PROBES[feature]()
        except Exception:  # any failure of the probe: the feature is not (fully) there
            missing.append(feature)
    return missing


def torch_source(source: str) -> str:
    """The script as PyTorch runs it: import lines back to torch's, `# nnblocks-only` lines left out."""
    try:
        import torchvision  # noqa: F401

        vision = "from torchvision import datasets"
    except ImportError:  # the stand-in in tests/book_style reads the same files into torch tensors
        vision = "import torch_datasets as datasets"
    lines = []
    for line in source.splitlines():
        if "# nnblocks-only" in line:
            continue
        line = line.replace("from nnblocks.vision import datasets", vision).replace("import nnblocks as torch",
                                                                                     "import torch")
        if re.match(r"\s*(import|from)\s", line):
            line = re.sub(r"\bnnblocks\b", "torch", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(source: str, data: Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    # one BLAS thread per run: the machine's 2 cores are shared, and spinning threads of two libraries slow each
    # other down (measured: a PyTorch run of the training template 41 s with 2 threads under load)
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env = {**os.environ, **threads, "BOOK_DATA": str(data), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(SRC), str(CORPUS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=900, input=stdin)


def checks(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("check:")]


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def assert_same_checks(ours: list[str], theirs: list[str]) -> None:
    """Same lines, the same words, and numbers within float32 training noise (1e-3 absolute + 1e-3 relative)."""
    assert len(ours) == len(theirs), f"nnblocks printed {len(ours)} check lines, PyTorch {len(theirs)}"
    for a, b in zip(ours, theirs):
        assert NUMBER.sub("#", a) == NUMBER.sub("#", b), f"\nnnblocks: {a}\nPyTorch:  {b}"
        for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
            assert abs(float(x) - float(y)) <= 1e-3 + 1e-3 * abs(float(y)), f"\nnnblocks: {a}\nPyTorch:  {b}"


@pytest.fixture(scope="module")
def book_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("FMNIST")
    write_fashion_mnist(root, n_train=600, n_test=100)
    return root


# The PyTorch runs share one process: importing torch costs ~2 s of CPU each time, the scripts themselves less.
DRIVER = """
import contextlib, io, json, sys, traceback
import matplotlib.pyplot as plt
results = {}
for name, source in json.load(sys.stdin).items():
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, name, "exec"), {"__name__": "__main__"})
        results[name] = [0, out.getvalue(), ""]
    except BaseException:
        results[name] = [1, out.getvalue(), traceback.format_exc()]
    plt.close("all")
sys.stdout.write(json.dumps(results))
"""


@pytest.fixture(scope="module")
def torch_runs(book_data: Path, tmp_path_factory) -> dict[str, list] | None:
    """Every script's PyTorch run: name -> [exit status, stdout, traceback]; None without PyTorch."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    sources = {p.name: torch_source(p.read_text()) for p in SCRIPTS}
    done = run(DRIVER, book_data, tmp_path_factory.mktemp("torch_runs"), stdin=json.dumps(sources))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_corpus_is_there():
    assert len(SCRIPTS) >= 10
    for script in SCRIPTS:
        text = script.read_text()
        assert "import nnblocks as torch" in text and re.search(r"^engine-features:", text, flags=re.M), script.name


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_book_style_script(script: Path, book_data: Path, torch_runs, tmp_path: Path):
    theirs = None
    if torch_runs is not None:
        status, stdout, error = torch_runs[script.name]
        assert status == 0, f"the PyTorch run of {script.name} failed:\n{error[-3000:]}"
        theirs = checks(stdout)
    result = run(script.read_text(), book_data, tmp_path)
    if result.returncode != 0:
        missing = missing_engine_features(script)
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "?"
        if missing:
            pytest.xfail(f"needs the engine part of issue 12 ({', '.join(missing)}); it stopped at: {last}")
        pytest.fail(f"{script.name} failed on nnblocks:\n{result.stderr[-3000:]}")
    ours = checks(result.stdout)
    assert ours, f"{script.name} printed no check lines"
    if theirs is not None:
        assert_same_checks(ours, theirs)


def test_the_translation_to_pytorch():
    source = ("import nnblocks as torch\nimport nnblocks.nn as nn\nfrom nnblocks.utils.data import DataLoader\n"
              "from nnblocks.utils import summary  # nnblocks-only\nx = f(1,\n  verbose=True,  # nnblocks-only\n"
              "  y=2)\nprint('nnblocks')\n")
    out = torch_source(source).splitlines()
    assert out[:3] == ["import torch", "import torch.nn as nn", "from torch.utils.data import DataLoader"]
    assert out[3:] == ["x = f(1,", "  y=2)", "print('nnblocks')"]
    assert_same_checks(["check: loss 0.1234 [1, 2] True"], ["check: loss 0.1236 [1, 2] True"])
    with pytest.raises(AssertionError):
        assert_same_checks(["check: loss 0.1234"], ["check: loss 0.1434"])
    with pytest.raises(AssertionError):
        assert_same_checks(["check: True"], ["check: False"])
