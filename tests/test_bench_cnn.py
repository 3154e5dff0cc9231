"""``nnblocks bench --cnn``: the book's chapter-4 network, nnblocks against PyTorch, end to end on a tiny run (never
asserting on time), its defaults, and the im2col workspace it reports."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from nnblocks import bench
from nnblocks.bench.cnn import train_nnblocks_cnn
from nnblocks.bench.command import add_arguments, resolve_defaults
from nnblocks.bench.data import synthetic_mnist


def _args(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return resolve_defaults(parser.parse_args(argv))


def test_cnn_defaults_and_systems():
    args = _args(["--cnn"])
    assert (args.batch_sizes, args.systems, args.samples, args.epochs) == ([32, 256], ["nnblocks", "pytorch"], 4096, 2)
    assert _args(["--cnn", "--quick"]).samples == 512
    assert _args([]).batch_sizes == [32, 256, 10000]  # the MLP's defaults are unchanged
    with pytest.raises(SystemExit, match="only nnblocks and pytorch train the CNN"):
        _args(["--cnn", "--systems", "nnblocks", "sklearn"])


def test_nnblocks_cnn_trainer_learns_and_keeps_one_steps_buffers():
    x, y = synthetic_mnist(96, seed=0)
    data = (x.astype(np.float32) / 255, y, x[:32].astype(np.float32) / 255, y[:32])
    result = train_nnblocks_cnn(data, batch_size=32, epochs=2, seed=0)
    assert len(result["epoch_seconds"]) == 2 and result["dtype"] == "float32"
    assert result["epoch_loss"][1] < result["epoch_loss"][0]
    # the buffers of the last step, given back to the workspace: conv1 (32*26*26 rows x 9) + conv2 (32*11*11 x 576)
    assert result["workspace_mib"] * 2**20 == pytest.approx(4 * (32 * 676 * 9 + 32 * 121 * 576))


def test_cnn_quick_run_writes_the_cnn_rows(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    assert bench.main(["--cnn", "--quick", "--samples", "64", "--test-samples", "32", "--batch-sizes", "32",
                       "--threads", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CNN Conv2d(1, 64, 3)-MaxPool2d(2)-ReLU-Conv2d(64, 128, 3)" in printed and "nnblocks/PyTorch" in printed
    assert "im2col workspace after training" in printed
    report = json.loads(out.read_text())
    assert report["workload"].startswith("CNN") and set(report["results"]["32"]) == {"nnblocks", "pytorch"}
    assert report["results"]["32"]["nnblocks"]["errors"] == [] and report["results"]["32"]["pytorch"]["errors"] == []
    assert "nnblocks/pytorch" in report["ratios"]["32"]
