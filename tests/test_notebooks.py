"""The example notebooks: in sync with ``examples/build_notebooks.py``, committed without outputs, and each one runs
top to bottom in a fresh ``python3`` kernel (this interpreter), writing its files into a temporary folder only."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))

# What each notebook must print (substrings of its outputs) and the files it must write into its folder.
EXPECTED = {
    "01_chapter1_fundamentals.ipynb": (["loss: 0.33455008989960927", "central 2.9", "True [-0.042789",
                                        "loss 0.334550 -> 0.000305 after 100 epochs"], []),
    "02_chapter2_engine.ipynb": (["dz/dw = tensor([1., 2., 3.])  dz/db = tensor(3.)",  # .grad is a Tensor
                                  "same as chapter 1: True", "gradcheck passed",
                                  "prediction for [10, 11]:", "2 batches per epoch"],
                                 ["toy-sum.npz", "toy-sum-out/report.md"]),
    "03_chapter3_studies.ipynb": (["batch-32", "batch-10000", "SGD", "Adam", "# `optimizer`"],
                                  ["studies/batch-size/curves.png", "studies/optimizer/report.md"]),
    "04_lab.ipynb": (["Chain-rule trace of L = 0.3346", "largest relative error", "relative error 0.5 > tolerance",
                      "'0.weight': 0.5"],
                     ["lab-out/graph_231.png", "lab-out/moons.png"]),
}


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", EXAMPLES / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_built_by_the_generator_and_has_no_outputs():
    builder = _builder()
    assert NOTEBOOKS == sorted(builder.NOTEBOOKS) == sorted(EXPECTED)
    for name in NOTEBOOKS:
        committed = (EXAMPLES / name).read_text(encoding="utf-8")
        assert committed == builder.text(builder.build(name)), f"{name} is stale: run python examples/build_notebooks.py"
        nb = json.loads(committed)
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, name


def _kernel_manager(tmp_dir: Path):
    """None when the installed 'python3' kernel spec runs this interpreter; otherwise a KernelManager on a spec
    written for this interpreter into ``tmp_dir`` (so the notebooks import the nnblocks under test)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        exe = KernelSpecManager().get_kernel_spec("python3").argv[0]
    except NoSuchKernel:
        exe = None
    # jupyter_client replaces a bare 'python'/'python3'/'python3.X' by sys.executable when it launches the kernel
    bare = {"python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]}
    if exe is not None and (exe in bare or os.path.abspath(exe) == os.path.abspath(sys.executable)):
        return None
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.manager import KernelManager

    write_kernel_spec(tmp_dir / "python3")
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_dir)]))


def _outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_top_to_bottom(name, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in EXAMPLES.iterdir())
    km = _kernel_manager(tmp_path / "kernels")
    client = nbclient.NotebookClient(nb, km=km, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    text = _outputs(nb)
    expected_text, expected_files = EXPECTED[name]
    for snippet in expected_text:
        assert snippet in text, f"{name}: {snippet!r} not in the outputs"
    for rel in expected_files:
        assert (work / rel).is_file(), f"{name} did not write {rel}"
    assert sorted(p.name for p in EXAMPLES.iterdir()) == before  # nothing written next to the notebooks
    assert "image/png" in json.dumps([o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]) or \
        name == "02_chapter2_engine.ipynb"  # the figures are displayed inline
