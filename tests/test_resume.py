"""``nnblocks train --resume``: run-length schedules kept exactly or refused, and Ctrl-C leaving a run to resume."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnblocks.cli import main
from nnblocks.train import History, read_checkpoint

SRC = str(Path(__file__).resolve().parents[1] / "src")
COMMON = ["--dataset", "moons", "--samples", "200", "--hidden", "8", "--optimizer", "sgd", "--lr", "0.1", "--quiet",
          "--no-boundary"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_cosine_run_is_not_stretched_to_another_length(tmp_path, capsys):
    # Before: --epochs 3 --scheduler cosine, then --resume --epochs 6 kept T_max = 3: lr 0 at epoch 4, then rising.
    # A cosine schedule over 6 epochs would instead have run epochs 1-3 at higher rates: no resume can give it.
    assert run(capsys, "train", *COMMON, "--scheduler", "cosine", "--epochs", "3", "--out", str(tmp_path))[0] == 0
    before = (tmp_path / "model.npz").read_bytes()
    code, out, err = run(capsys, "train", "--resume", str(tmp_path / "model.npz"), "--epochs", "6",
                         "--out", str(tmp_path))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "was trained with --scheduler cosine, which anneals the learning rate to 0 over its 3 epochs, so resuming " \
           "it to 6 epochs cannot follow the schedule of a 6-epoch run. To train 6 epochs with this schedule, start a " \
           "new run with --epochs 6 (no --resume)" in err
    assert (tmp_path / "model.npz").read_bytes() == before  # nothing was trained or rewritten


def test_a_step_run_resumed_to_a_total_with_the_same_span_matches_pytorch(tmp_path, capsys):
    # --epochs 6 and --epochs 8 both cut the lr x0.1 every 2 epochs (a third of the run, rounded down): resuming 6 -> 8
    # is exactly the 8-epoch run, and PyTorch's StepLR of the new length, after the old run's 6 steps, agrees.
    assert run(capsys, "train", *COMMON, "--scheduler", "step", "--epochs", "6", "--out", str(tmp_path / "r"))[0] == 0
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "r" / "model.npz"), "--epochs", "8",
                       "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert run(capsys, "train", *COMMON, "--scheduler", "step", "--epochs", "8", "--out", str(tmp_path / "w"))[0] == 0
    resumed, whole = read_checkpoint(tmp_path / "r" / "model.npz"), read_checkpoint(tmp_path / "w" / "model.npz")
    assert resumed.history == whole.history
    for key, value in whole.model_state.items():
        np.testing.assert_array_equal(resumed.model_state[key], value, err_msg=key)
    lrs = resumed.history["lr"]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3, 1e-4, 1e-4], rel=1e-12)
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=8 // 3, gamma=0.1)
    for _ in range(6):  # the old run's progress
        opt.step()
        sched.step()
    theirs = []
    for _ in range(2):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[6:] == pytest.approx(theirs, rel=1e-12)  # float products of 0.1: a few ulps apart at most


def test_a_step_run_whose_span_would_change_is_refused(tmp_path, capsys):
    assert run(capsys, "train", *COMMON, "--scheduler", "step", "--epochs", "6", "--out", str(tmp_path))[0] == 0
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "model.npz"), "--epochs", "9",
                       "--out", str(tmp_path))
    assert code == 2
    assert "which cuts the learning rate x0.1 every 2 epochs (a third of its 6), so resuming it to 9 epochs" in err


def test_schedules_that_do_not_depend_on_the_length_resume_to_any_total(tmp_path, capsys):
    for scheduler in ("exponential", "plateau", "none"):
        out_dir = tmp_path / scheduler
        assert run(capsys, "train", *COMMON, "--scheduler", scheduler, "--epochs", "2", "--out", str(out_dir))[0] == 0
        code, out, _ = run(capsys, "train", "--resume", str(out_dir / "model.npz"), "--epochs", "4",
                           "--out", str(out_dir))
        assert code == 0 and "after 4 epochs" in out, scheduler


def test_ctrl_c_stops_cleanly_and_the_printed_command_resumes_it_exactly(tmp_path, capsys):
    # Before: a 20-line KeyboardInterrupt traceback, and no history or plots
    argv = ["--dataset", "moons", "--samples", "1000", "--hidden", "16", "--scheduler", "cosine",
            "--epochs", "30", "--no-boundary"]
    out_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nnblocks", "train", *argv, "--out", str(out_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"})
    for line in proc.stdout:
        if line.startswith("epoch 2/30"):
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    done = len(History.from_json(out_dir / "history.json"))
    saved = read_checkpoint(out_dir / "model.npz").epoch
    assert 2 <= saved <= done < 30
    assert f"interrupted in epoch {done + 1} of 30" in err
    assert (out_dir / "loss.png").is_file() and (out_dir / "best.npz").is_file()
    assert not [p for p in out_dir.iterdir() if p.name.endswith(".tmp")]
    command = next(line for line in err.splitlines() if "continue from epoch" in line).split("with: ", 1)[1]
    assert command == f"nnblocks train --resume {out_dir / 'model.npz'} --epochs 30 --out {out_dir}"
    code, out, err = run(capsys, *command.split()[1:], "--quiet")  # as printed, without the program name
    assert code == 0, err
    assert run(capsys, "train", *argv, "--out", str(tmp_path / "whole"), "--quiet")[0] == 0
    resumed, whole = read_checkpoint(out_dir / "model.npz"), read_checkpoint(tmp_path / "whole" / "model.npz")
    assert resumed.epoch == whole.epoch == 30 and resumed.history == whole.history
    for key, value in whole.model_state.items():
        np.testing.assert_array_equal(resumed.model_state[key], value, err_msg=key)
    assert math.isclose(resumed.history["lr"][-1], 0.001 * (1 + math.cos(math.pi * 29 / 30)) / 2, rel_tol=1e-9)


def test_resume_without_epochs_continues_to_the_saved_runs_total(tmp_path, capsys):
    assert run(capsys, "train", *COMMON, "--epochs", "3", "--out", str(tmp_path))[0] == 0
    code, out, _ = run(capsys, "train", "--resume", str(tmp_path / "model.npz"), "--out", str(tmp_path))
    assert code == 0 and "after 3 epochs" in out  # before: the default 20, whatever the run had planned
