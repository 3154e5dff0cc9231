"""The command line as a hostile new user meets it: every bad input ends in one clear line and a known exit status
(0 done, 1 the run failed, 2 bad input, 130 interrupted), never a traceback, a silent wrong answer or a stray file."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nnblocks import nn
from nnblocks.cli import argtypes, main
from nnblocks.train import read_checkpoint, save_checkpoint


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors (usage + message)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into, whoever runs the tests (chmod does not stop root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for candidate in (locked, Path("/sys"), Path("/proc/1")):
        if candidate.is_dir() and argtypes._probe(candidate) is not None:
            return candidate
    pytest.skip("no folder on this machine refuses writes to this user")


def write_csv(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def moons_csv(tmp_path: Path, n: int = 60) -> list[str]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return [",".join(f"{v:.3f}" for v in row) + f",{int(row[0] > 0)}" for row in X]


# ---- item 4: output paths are checked before any work ----------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["train", "--epochs", "1", "--out", "{file}"],
    ["train", "--epochs", "1", "--out", "{file}/sub"],
    ["train", "--epochs", "1", "--out", "{locked}/run"],
    ["experiment", "run", "toy-sum", "--out", "{file}"],
    ["evaluate", "{ckpt}", "--out", "{locked}"],
    ["explain", "--figure", "{locked}/g.png"],
    ["demo", "--out", "{locked}/demo"],
])
def test_unusable_output_paths_are_refused_before_any_work(tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    locked = unwritable_folder(tmp_path)
    ckpt = tmp_path / "m.npz"
    save_checkpoint(ckpt, nn.Linear(2, 2, seed=0))
    argv = [a.format(file=blocker, locked=locked, ckpt=ckpt) for a in command]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""  # nothing was computed: no report, no epoch line
    assert "Traceback" not in err
    assert re.search(r"error: argument (--out|--figure): .*(is a file, not a folder|cannot write into)", err), err
    assert blocker.read_text() == "not a folder"  # nothing created, nothing left: not even the write probe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "locked", "m.npz"]
    if locked.parent == tmp_path:
        assert not list(locked.iterdir())


def test_the_default_output_folder_is_checked_too(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nnblocks-out").write_text("a file where the default folder goes")
    code, out, err = run(capsys, "train", "--epochs", "1")
    assert code == 2 and out == ""
    assert err.strip() == "nnblocks train: error: argument --out: cannot create nnblocks-out/train-digits: " \
                          "nnblocks-out is a file, not a folder"



def test_the_experiment_default_output_folder_is_checked_before_the_data(tmp_path, capsys, monkeypatch):
    # --out is an argtypes.output_dir flag; its default (nnblocks-out/experiments/NAME) is checked before any data
    # is read: here no data folder exists either, and the folder problem is the one reported.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nnblocks-out").write_text("a file where the default folder goes")
    code, out, err = run(capsys, "experiment", "run", "scaling", "--data-dir", str(tmp_path / "absent"))
    assert code == 2 and out == ""
    assert err.strip() == "nnblocks experiment: error: argument --out: cannot create " \
                          "nnblocks-out/experiments/scaling: nnblocks-out is a file, not a folder"

# ---- items 2, 3, 11: the data file's values, named by line and column, before anything trains --------------------------
@pytest.mark.parametrize("edit, words", [
    (lambda lines: lines.__setitem__(5, "0.1,0.2,0.3,nan"), "have no label in the label column 3 (an empty cell or NaN): "
                                                            "line 6"),
    (lambda lines: lines.__setitem__(7, "1,nan,inf,0"), "'nan' at line 8 (column 1), 'inf' at line 8 (column 2)"),
    (lambda lines: lines.__setitem__(slice(None), [line[:-1] + "1" for line in lines]),
     "the labels hold the one class '1.0' in all 60 samples; a classifier needs at least two classes"),
])
def test_bad_values_in_a_csv_are_one_line_naming_the_file_and_rows(tmp_path, capsys, edit, words):
    lines = moons_csv(tmp_path)
    edit(lines)
    path = write_csv(tmp_path / "mine.csv", lines)
    code, out, err = run(capsys, "train", "--dataset", path, "--epochs", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"nnblocks train: error: argument --dataset: {path}: ") and words in err, err
    assert not (tmp_path / "o").exists()  # no empty output folder left behind


# ---- item 6: divergence, early, with true advice and a meaningful best checkpoint ---------------------------------------
def test_divergence_stops_early_keeps_the_best_epoch_and_advises_in_flags(tmp_path, capsys):
    out_dir = tmp_path / "o"
    code, out, err = run(capsys, "train", "--optimizer", "sgd", "--lr", "0.5", "--momentum", "0.9", "--epochs", "40",
                         "--out", str(out_dir))
    assert code == 1 and "Traceback" not in err
    first = err.splitlines()[0]
    assert re.match(r"nnblocks train: error: training diverged: the loss grew to [\d.e+]+ in epoch 2, batch \d+ of 40, "
                    r"orders of magnitude above its best epoch\. Likely cause: --lr 0.5 with --momentum 0.9 \(steps up "
                    r"to 10x larger\) is too high: try --lr 0.05 or --momentum 0\.$", first), first
    assert "unscaled" not in err and "255" not in err and "not scaled" not in err  # the digits are standardized
    assert f"checkpoint: {out_dir / 'model.npz'} (epoch 1)" in err
    best = read_checkpoint(out_dir / "best.npz")
    assert best.epoch == 1 and np.isfinite(best.history["val_loss"][0]) and not best.nonfinite_weights()
    assert len(out.strip().splitlines()) == 2  # the description and epoch 1's line
    for name in ("history.csv", "history.json", "loss.png"):
        assert (out_dir / name).is_file()


def test_huge_regression_targets_are_named_as_the_cause(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.random((100, 3))
    lines = [",".join(f"{v:.3f}" for v in row) + f",{row.sum() * 1e25:.4g}" for row in X]
    code, _, err = run(capsys, "train", "--dataset", write_csv(tmp_path / "big.csv", lines), "--epochs", "2",
                       "--out", str(tmp_path / "o"))
    assert code == 1
    assert re.search(r"Likely cause: the targets reach \|y\| = [\d.]+e\+25, so mse losses overflow float32: rescale the "
                     r"label column to a few units\.$", err.splitlines()[0]), err
    assert "--lr" not in err  # lr 0.001 is not the problem
    assert "nothing was written: no epoch completed" in err and not (tmp_path / "o").exists()
    # an output folder holding an earlier run's files: they are not presented as this run's
    assert run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "2", "--out", str(tmp_path / "o"),
               "--quiet")[0] == 0
    code, _, err = run(capsys, "train", "--dataset", str(tmp_path / "big.csv"), "--epochs", "2",
                       "--out", str(tmp_path / "o"))
    assert code == 1 and "nothing was written: no epoch completed" in err and "checkpoint:" not in err


# ---- item 7: too few samples to hold any out -------------------------------------------------------------------------
def test_reused_rows_are_announced_with_the_numbers_and_not_called_a_test(tmp_path, capsys):
    path = write_csv(tmp_path / "tiny.csv", moons_csv(tmp_path, n=19))
    code, out, err = run(capsys, "train", "--dataset", path, "--epochs", "1", "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0
    assert "warning: tiny has 19 samples, fewer than the 20 needed to hold out validation and test samples: " \
           "training, validation and test are the same 19 rows" in err
    assert "tiny: training-data accuracy" in out and "test accuracy" not in out
    code, out, err = run(capsys, "evaluate", str(tmp_path / "o" / "model.npz"))
    assert code == 0 and "tiny: training-data accuracy" in out and "same 19 rows" in err


# ---- item 12: the smaller ones ---------------------------------------------------------------------------------------
def test_help_shows_each_default_once_and_the_real_ones(capsys):
    code, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())  # argparse wraps lines
    assert code == 0
    assert "(default: None)" not in text and text.count("(default: the last column)") == 1
    assert "(default: $NNBLOCKS_DATA/<name> if NNBLOCKS_DATA is set, else ~/.cache/nnblocks/<name>)" in text
    for flag, default in [("--optimizer", "adam"), ("--activation", "relu"), ("--batch-size", "32"),
                          ("--hidden", "128"), ("--seed", "0"), ("--momentum", "0.0")]:
        assert re.search(rf"{flag} .*?\(default: {re.escape(default)}\)", text), flag
    assert "`" not in out
    for command in ("evaluate", "explain", "demo"):
        assert "`" not in run(capsys, command, "--help")[1]


def test_evaluate_given_a_folder_points_at_the_checkpoint_inside(tmp_path, capsys):
    assert run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "1", "--out", str(tmp_path),
               "--quiet")[0] == 0
    code, _, err = run(capsys, "evaluate", str(tmp_path))
    assert code == 2 and "does not exist" not in err
    assert f"{tmp_path} is a folder, not a checkpoint file; did you mean {tmp_path / 'model.npz'}?" in err


def test_a_random_file_as_a_checkpoint_never_suggests_unsafe_loading(tmp_path, capsys):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    for argv in (["evaluate", str(junk)], ["train", "--resume", str(junk)]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and len(err.splitlines()) == 1 and "pickle" not in err
        assert f"{junk}: not an nnblocks checkpoint: not an .npz (zip) archive: the file starts with binary data" in err


def test_flags_the_data_set_does_not_use_are_named(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "moons", "--label-column", "2", "--epochs", "1",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and "argument --label-column: only a .csv file has label columns; moons has its own labels" in err
    code, _, err = run(capsys, "train", "--samples", "50", "--epochs", "1", "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0 and "note: --samples applies to toy sets only; digits ignores it" in err


def test_a_network_too_big_for_memory_is_refused_before_it_is_allocated(tmp_path, capsys, monkeypatch):
    from nnblocks.cli import train

    monkeypatch.setattr(train, "_available_memory", lambda: 8 * 2**30)  # whatever this machine has
    code, out, err = run(capsys, "train", "--hidden", "100000", "100000", "--epochs", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    # 64*1e5 + 1e5*1e5 + 1e5*10 weights (+ biases) ~ 1.0e10 parameters x 4 bytes x 5 copies (adam) = 186 GiB
    assert "argument --hidden: a 64-100000-100000-10 network with adam at batch 32 needs about 186.5 GiB; 8.0 GiB " \
           "of memory is available" in err


def test_missing_mnist_speaks_of_the_flags(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1",
                         "--out", str(tmp_path / "o"))
    assert code == 1 and len(err.splitlines()) == 1
    assert f"mnist training files not found in {tmp_path}: train-images-idx3-ubyte, train-labels-idx1-ubyte (raw or " \
           ".gz). Add --download to fetch them, or --data-dir FOLDER if you have them elsewhere" in err
    assert "root=" not in err and "download=True" not in err


def test_epochs_0_writes_no_empty_history_and_says_one_epoch(tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "0", "--out",
                       str(tmp_path / "zero"), "--quiet")
    assert code == 0 and "after 0 epochs (the untrained model)" in out
    assert not (tmp_path / "zero" / "history.csv").exists() and (tmp_path / "zero" / "model.npz").is_file()
    code, out, _ = run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "1", "--out",
                       str(tmp_path / "one"), "--quiet")
    assert code == 0 and "after 1 epoch," in out and "1 epochs" not in out
    assert (tmp_path / "one" / "history.csv").read_text().splitlines()[0].startswith("epoch,loss,accuracy")


def test_output_files_get_the_usual_permissions(tmp_path, capsys):
    import os

    old = os.umask(0o022)
    try:
        assert run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "1", "--out", str(tmp_path),
                   "--quiet", "--no-boundary")[0] == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_a_checkpoint_with_nan_weights_is_not_evaluated(tmp_path, capsys):
    assert run(capsys, "train", "--dataset", "xor", "--samples", "60", "--epochs", "1", "--out", str(tmp_path),
               "--quiet")[0] == 0
    ckpt = read_checkpoint(tmp_path / "model.npz")
    from nnblocks import recipe

    config = recipe.TrainConfig.from_dict(ckpt.config)
    model = recipe.build_model(config)
    model.load_state_dict({k: v.copy() for k, v in ckpt.model_state.items()})
    model[0].weight.data[0, :] = np.nan
    save_checkpoint(tmp_path / "nan.npz", model, config=ckpt.config, extra=ckpt.extra)
    code, out, err = run(capsys, "evaluate", str(tmp_path / "nan.npz"))
    assert code == 1 and out == ""  # before: "10.0% (loss nan)" and exit 0
    assert "its weights hold NaN or inf (0.weight: 2 of 256 values): the run had diverged" in err


def test_a_closed_pipe_ends_quietly(tmp_path):
    import subprocess
    import sys

    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PATH": "/usr/bin:/bin"}
    # 0.5 MB of trace, far more than a pipe holds (64 kB), so the writer always meets the closed pipe
    proc = subprocess.run(f"{sys.executable} -m nnblocks explain --network 8-64-64-1 --max-elements 2000 | head -1",
                          shell=True, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith("Chain-rule trace")


def test_a_demo_whose_finite_differences_blow_up_ends_in_one_line(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "--step", "1e308", "--out", str(tmp_path / "demo"))
    assert code == 1 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "the loss is inf at epoch 1" in err and "--step 1e+308 nudges each weight that far" in err
