"""Property-based fuzzing of the command line's data path: ``nnblocks train`` on random malformed CSV, NPZ and IDX
files (random bytes, ragged rows, NaN/inf cells, one class, text in numeric columns, huge headers, empty files...).

Whatever the file, every run must end with exit status 0, 1 or 2; a failure is one error line naming the file (or
``training diverged``); no traceback (any exception escaping ``main`` fails the example, and so does a raw
RuntimeWarning: pytest turns them into errors); no stray file beside the data; and no half-written output folder:
a run of one epoch that fails leaves no folder at all, one that succeeds leaves every output.

The number of examples is bounded for CI: ``EXAMPLES`` generated per file kind (40 + 40 + 25 by default, derandomized
so CI sees the same ones each time) plus 6 explicit files that train (exit 0); set ``NNBLOCKS_FUZZ_EXAMPLES`` to
generate more, e.g. ``NNBLOCKS_FUZZ_EXAMPLES=400 pytest tests/test_cli_fuzz.py --hypothesis-show-statistics``.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from nnblocks.cli import main

SCALE = int(os.environ.get("NNBLOCKS_FUZZ_EXAMPLES", "0")) or None
EXAMPLES = {"csv": SCALE or 40, "npz": SCALE or 40, "idx": SCALE or 25}
FUZZ = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
COMPLETE = {"model.npz", "best.npz", "history.csv", "history.json", "loss.png"}  # every successful run writes these


def train(data_args: list[str], folder: Path) -> tuple[int, str, str]:
    """``nnblocks train`` on the file, one epoch, in-process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["train", *data_args, "--epochs", "1", "--hidden", "4", "--batch-size", "16", "--out",
            str(folder / "out"), "--quiet", "--no-boundary"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusals (a bad flag value)
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def check(code: int, out: str, err: str, folder: Path, inputs: set[str], *named: str) -> None:
    event(f"exit {code}")  # pytest --hypothesis-show-statistics: how the examples ended
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if ": error: " in line]
    if code == 0:
        assert not errors, err
        written = {p.name for p in (folder / "out").iterdir()}
        assert COMPLETE <= written, written
    else:
        assert len(errors) == 1 and err.splitlines()[0] == errors[0], err  # one error line, first
        assert any(n in errors[0] for n in named) or "training diverged" in errors[0], (named, err)
        assert not (folder / "out").exists(), list((folder / "out").iterdir())  # no half-written folder
    stray = {p.name for p in folder.iterdir()} - inputs - {"out"}
    assert not stray, stray  # nothing beside the data (no temp file, no probe)
    if (folder / "out").exists():
        assert not [p for p in (folder / "out").iterdir() if p.name.endswith(".tmp")]


# ---- CSV -------------------------------------------------------------------------------------------------------------
CELLS = st.one_of(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.4g}"), st.integers(-5, 5).map(str),
                  st.sampled_from(["nan", "NaN", "inf", "-inf", "1e39", "", " ", "abc", "NA", "1,5", "\"q\"", "0x1F",
                                   "1_0", "\u00e9", "\x00", "1e-400"]))


@st.composite
def csv_text(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "table", "table", "table", "empty", "huge-header", "one-class"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n\n", b"a,b,c\n", b"\xef\xbb\xbf", b" , \n"]))
    rows, cols = draw(st.integers(1, 45)), draw(st.integers(1, 5))
    table = [[draw(st.floats(-3, 3, allow_nan=False).map(lambda v: f"{v:.3f}")) for _ in range(cols)] +
             [str(draw(st.integers(0, 2))) if kind != "one-class" else "1"] for _ in range(rows)]
    for _ in range(draw(st.integers(0 if kind == "one-class" else 1, 4))):  # damage a few cells or rows
        r = draw(st.integers(0, rows - 1))
        what = draw(st.sampled_from(["cell", "label", "drop", "extra"]))
        if what == "cell":
            table[r][draw(st.integers(0, cols))] = draw(CELLS)
        elif what == "label":
            table[r][-1] = draw(CELLS)
        elif what == "drop" and len(table[r]) > 1:
            table[r].pop()
        else:
            table[r].append(draw(CELLS))
    header = [f"c{j}" for j in range(cols)] + ["label"]
    if kind == "huge-header":
        header[0] = "h" * draw(st.sampled_from([1000, 140_000]))
    lines = ([",".join(header)] if draw(st.booleans()) or kind == "huge-header" else []) + [",".join(r) for r in table]
    sep = draw(st.sampled_from(["\n", "\r\n"]))
    return (sep.join(lines) + sep).encode("utf-8")


def clean_csv(bom: bool = False, newline: str = "\n") -> bytes:
    rng = np.random.default_rng(1)
    rows = [",".join(f"{v:.3f}" for v in rng.normal(size=3)) + f",{i % 3}" for i in range(45)]
    return (b"\xef\xbb\xbf" if bom else b"") + newline.join(["a,b,c,label", *rows, ""]).encode()


# The explicit examples run first, every time: files that train (exit 0), so the complete-folder check is exercised.
@settings(max_examples=EXAMPLES["csv"], **FUZZ)
@given(content=csv_text())
@example(content=clean_csv())
@example(content=clean_csv(bom=True, newline="\r\n"))
def test_fuzz_csv_files(content):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "data.csv"
        path.write_bytes(content)
        code, out, err = train(["--dataset", str(path)], folder)
        check(code, out, err, folder, {"data.csv"}, str(path))


# ---- NPZ -------------------------------------------------------------------------------------------------------------
@st.composite
def npz_arrays(draw) -> dict[str, np.ndarray] | bytes:
    kind = draw(st.sampled_from(["bytes", "arrays", "arrays", "arrays", "not-npy", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    n = draw(st.integers(0, 40))
    shape = draw(st.sampled_from([(n, 3), (n, 2, 2), (n,), (n, 0), (n, 1)]))
    dtype = draw(st.sampled_from(["float32", "float64", "int8", "bool", "complex64", "U3"]))
    X = np.asarray(draw(st.lists(st.floats(-1e3, 1e3), min_size=int(np.prod(shape)),
                                 max_size=int(np.prod(shape)))), dtype=np.float64).reshape(shape)
    for _ in range(draw(st.integers(0, 2))):
        if X.size:
            X.flat[draw(st.integers(0, X.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e39]))
    with np.errstate(all="ignore"):
        X = X.astype(dtype)
    y_kind = draw(st.sampled_from(["int", "float", "nan", "text", "one", "2d", "short"]))
    y = {"int": np.arange(n) % 3, "float": np.linspace(0, 1, n), "nan": np.where(np.arange(n) == 1, np.nan, 1.0),
         "text": np.array(["a", "", "b"] * n)[:n], "one": np.zeros(n, np.int64), "2d": np.ones((n, 2)),
         "short": np.arange(max(n - 1, 0)) % 2}[y_kind]
    arrays = {"X": X, "y": y}
    if draw(st.booleans()) and draw(st.booleans()):
        del arrays[draw(st.sampled_from(["X", "y"]))]
    if kind == "not-npy":
        return {"__zip__": b"not an array"}
    if kind == "truncated":
        arrays["__truncate__"] = np.array(draw(st.floats(0.1, 0.9)))
    return arrays


def write_npz(path: Path, spec: dict[str, np.ndarray] | bytes) -> None:
    if isinstance(spec, bytes):
        path.write_bytes(spec)
    elif "__zip__" in spec:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("X.npy", spec["__zip__"])
            z.writestr("y.npy", spec["__zip__"])
    else:
        cut = spec.pop("__truncate__", None)
        with open(path, "wb") as f:
            np.savez(f, **spec)
        if cut is not None:
            blob = path.read_bytes()
            path.write_bytes(blob[: max(1, math.floor(len(blob) * float(cut)))])


@settings(max_examples=EXAMPLES["npz"], **FUZZ)
@given(spec=npz_arrays())
@example(spec={"X": np.random.default_rng(2).normal(size=(30, 2, 2)).astype(np.float32), "y": np.arange(30) % 2})
@example(spec={"X": np.random.default_rng(3).normal(size=(30, 3)), "y": np.linspace(-1, 1, 30)})  # regression
def test_fuzz_npz_files(spec):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "data.npz"
        write_npz(path, spec)
        code, out, err = train(["--dataset", str(path)], folder)
        check(code, out, err, folder, {"data.npz"}, str(path))


# ---- IDX (MNIST-format files in --data-dir) -------------------------------------------------------------------------
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_file(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return np.array([magic, *dims], dtype=">i4").tobytes() + payload


@st.composite
def idx_files(draw) -> dict[str, bytes]:
    n, m = draw(st.integers(1, 24)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    files = {
        IDX_NAMES[0]: idx_file(2051, (n, 28, 28), rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()),
        IDX_NAMES[1]: idx_file(2049, (n,), rng.integers(0, 10, n, dtype=np.uint8).tobytes()),
        IDX_NAMES[2]: idx_file(2051, (m, 28, 28), rng.integers(0, 256, m * 784, dtype=np.uint8).tobytes()),
        IDX_NAMES[3]: idx_file(2049, (m,), rng.integers(0, 10, m, dtype=np.uint8).tobytes()),
    }
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(files)))
        blob = files[name]
        damage = draw(st.sampled_from(["bytes", "truncate", "extend", "magic", "dims", "labels", "count", "drop"]))
        if damage == "bytes":
            files[name] = draw(st.binary(max_size=200))
        elif damage == "truncate" and blob:
            files[name] = blob[: draw(st.integers(0, len(blob) - 1))]
        elif damage == "extend":
            files[name] = blob + draw(st.binary(min_size=1, max_size=20))
        elif damage == "magic":
            files[name] = draw(st.sampled_from([2049, 2051, 0x0D03, 0x08FF, 0])).to_bytes(4, "big") + blob[4:]
        elif damage == "dims":
            files[name] = blob[:4] + np.array(draw(st.integers(0, 2**31 - 1)), ">i4").tobytes() + blob[8:]
        elif damage == "labels" and "labels" in name:
            files[name] = blob[:8] + bytes([draw(st.integers(10, 255))]) + blob[9:]
        elif damage == "count":
            files[IDX_NAMES[1]] = idx_file(2049, (n + 1,), bytes(n + 1))
        elif damage == "drop" and len(files) > 1:
            del files[name]
    return files


def clean_idx(n: int = 60, m: int = 6) -> dict[str, bytes]:
    rng = np.random.default_rng(4)
    return {IDX_NAMES[0]: idx_file(2051, (n, 28, 28), rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()),
            IDX_NAMES[1]: idx_file(2049, (n,), (np.arange(n) % 10).astype(np.uint8).tobytes()),
            IDX_NAMES[2]: idx_file(2051, (m, 28, 28), rng.integers(0, 256, m * 784, dtype=np.uint8).tobytes()),
            IDX_NAMES[3]: idx_file(2049, (m,), (np.arange(m) % 10).astype(np.uint8).tobytes())}


@settings(max_examples=EXAMPLES["idx"], **FUZZ)
@given(files=idx_files(), gz=st.booleans())
@example(files=clean_idx(), gz=False)
@example(files=clean_idx(), gz=True)
def test_fuzz_idx_files(files, gz):
    import gzip

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_dir = folder / "mnist"
        data_dir.mkdir()
        for name, blob in files.items():
            if gz:
                (data_dir / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (data_dir / name).write_bytes(blob)
        before = sorted(p.name for p in data_dir.iterdir())
        code, out, err = train(["--dataset", "mnist", "--data-dir", str(data_dir)], folder)
        check(code, out, err, folder, {"mnist"}, str(data_dir), "mnist: ")
        assert sorted(p.name for p in data_dir.iterdir()) == before
