"""Tests for ``nnblocks demo``: in-process and as a real subprocess, writing real PNG files."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnblocks.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ["network_loss.png", "learning_rate_study.png", "gradient_check.png"]


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
    assert_pngs(tmp_path / "nnblocks-out" / "demo")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--step", "0"], "--step"),
        (["--tolerance", "-1"], "--tolerance"),
        (["--float64", "--precision", "float32"], "--float64"),
    ],
)
def test_demo_rejects_bad_flags(tmp_path, capsys, argv, message):
    assert main(["demo", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_demo_reports_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "sub")]) == 1
    assert "cannot write the plots" in capsys.readouterr().err


def test_demo_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out
