"""Tests for ``nnblocks demo``: in-process and as a real subprocess, writing real PNG files."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnblocks.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ["network_loss.png", "learning_rate_study.png", "learning_rate_study_long.png", "gradient_check.png"]


def assert_pngs(folder):
    for name in PLOTS:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name


def test_demo_in_process(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "initial loss 0.33455009" in text
    assert "[faithful: the chapter's procedure]" in text
    assert "largest relative difference at the initial weights" in text
    assert "lr 1" in text and "nudge lost" in text
    # the final weights, and the chapter's printed numbers beside this run's, with the verdict
    assert "final weights after the last update: W1 [0.01424004" in text
    assert "b2 after 100 epochs: book [-0.22443289]; this run [-0.22443289]" in text
    assert "Verdict: reproduced" in text
    assert "over 1000 epochs (as the chapter also plots): lr 0.01: W = 2.9" in text
    for name in PLOTS:
        assert str(out / name) in text  # the report prints where the plots went
    assert_pngs(out)


def test_demo_subprocess_default_folder(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "nnblocks", "demo", "--method", "chain", "--float64"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "initial loss 0.33455011" in proc.stdout  # float64 from the printed decimal weights
    assert "chain rule (step" in proc.stdout
    assert "Verdict: differs" in proc.stdout and "not the chapter's procedure" in proc.stdout
    assert_pngs(tmp_path / "nnblocks-out" / "demo")


def test_demo_rejects_contradicting_precision_flags(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--float64", "--precision", "float32"]) == 2
    assert "--float64" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--step", "0"], "argument --step: expected a positive number, got '0'"),
        (["--step", "nan"], "argument --step: expected a positive number, got 'nan'"),
        (["--step", "inf"], "argument --step: expected a positive number, got 'inf'"),
        (["--tolerance", "-1"], "argument --tolerance: expected a positive number, got '-1'"),
        (["--tolerance", "x"], "argument --tolerance: expected a positive number, got 'x'"),
    ],
)
def test_demo_bad_numbers_are_argparse_errors_naming_the_flag(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(tmp_path), *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage:" in err
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_demo_reports_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as info:  # refused when the flags are read, before the experiments run
        main(["demo", "--out", str(blocker / "sub")])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert f"argument --out: cannot create {blocker / 'sub'}: {blocker} is a file, not a folder" in captured.err
    assert captured.out == ""


def test_demo_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out
