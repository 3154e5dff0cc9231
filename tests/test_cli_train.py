"""``nnblocks train`` and ``nnblocks evaluate``: end to end on toy data, digits, MNIST-format files and user files."""
from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nnblocks.cli import main
from nnblocks.experiments import chapter3
from nnblocks.train import History, read_checkpoint

SUMMARY = re.compile(r"^(\S+): test accuracy ([\d.]+)% \(loss ([\d.e+-]+)\) after (\d+) epochs?, [\d.]+ s$", re.M)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_on_a_toy_set_writes_every_output(tmp_path, capsys):
    out_dir = tmp_path / "moons"
    code, out, _ = run(capsys, "train", "--dataset", "moons", "--hidden", "16", "16", "--epochs", "15",
                       "--lr", "0.01", "--out", str(out_dir), "--quiet")
    assert code == 0
    match = SUMMARY.search(out)
    assert match and match.group(1) == "moons" and match.group(4) == "15"
    assert float(match.group(2)) >= 95.0  # 1000 noisy moons points, 200 of them held out for the test
    for name in ("model.npz", "history.csv", "history.json", "loss.png", "accuracy.png", "confusion_matrix.png",
                 "decision_boundary.png", "decision_boundary.gif"):
        assert (out_dir / name).is_file(), name
        assert str(out_dir / name) in out
    assert (out_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a 2-D toy set gets the decision boundary by default: a picture and a GIF of it forming over the 15 epochs
    assert (out_dir / "decision_boundary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gif = (out_dir / "decision_boundary.gif").read_bytes()
    assert gif[:4] == b"GIF8" and gif.count(b"\x21\xf9\x04") == 16  # one graphic-control block per frame: start + 15
    history = History.from_json(out_dir / "history.json")
    assert len(history) == 15 and history["loss"][-1] < history["loss"][0]
    assert (out_dir / "history.csv").read_text().splitlines()[0].startswith("epoch,loss,accuracy,val_loss")
    config = read_checkpoint(out_dir / "model.npz").config
    assert config["hidden"] == [16, 16] and config["in_features"] == 2 and config["num_classes"] == 2


def test_train_on_digits_then_evaluate_the_checkpoint(tmp_path, capsys):
    out_dir = tmp_path / "digits"
    code, out, _ = run(capsys, "train", "--hidden", "64", "--epochs", "4", "--out", str(out_dir))
    assert code == 0
    counts = re.search(r"^digits: (\d+) train / (\d+) validation / (\d+) test samples, 64 features; model 64-64-10 "
                       r"\(4,810 parameters\), adam lr 0.001, batch 32, cross-entropy loss$", out, re.M)
    n_train, n_val, n_test = map(int, counts.groups())
    assert n_train + n_val + n_test == 1797 and abs(n_test - 359.4) < 6 and abs(n_val - 179.7) < 6
    assert len(re.findall(r"^epoch \d/4 ", out, re.M)) == 4  # one line per epoch when not on a terminal
    match = SUMMARY.search(out)
    assert match and match.group(1) == "digits" and float(match.group(2)) >= 90.0
    code, out2, _ = run(capsys, "evaluate", str(out_dir / "model.npz"), "--out", str(tmp_path / "eval"))
    assert code == 0
    # the same model on the same test split: the very same accuracy and loss
    assert f"digits: test accuracy {match.group(2)}% (loss {match.group(3)}) on {n_test} samples" in out2
    rows = [line.split() for line in out2.splitlines()[2:12]]
    matrix = np.array([[int(v) for v in row[1:]] for row in rows])
    assert matrix.shape == (10, 10) and matrix.sum() == n_test
    assert np.trace(matrix) / n_test == pytest.approx(float(match.group(2)) / 100, abs=5e-4)
    assert (tmp_path / "eval" / "confusion_matrix.png").is_file()


def write_idx(folder: Path, prefix: str, n: int, rng: np.random.Generator, gz: bool) -> None:
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    blobs = {
        f"{prefix}-images-idx3-ubyte": np.array([2051, n, 28, 28], dtype=">i4").tobytes() + images.tobytes(),
        f"{prefix}-labels-idx1-ubyte": np.array([2049, n], dtype=">i4").tobytes() + labels.tobytes(),
    }
    for name, data in blobs.items():
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_chapter3_network_trains_on_mnist_format_files(tmp_path, capsys, dataset):
    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    rng = np.random.default_rng(0)
    write_idx(data_dir, "train", 200, rng, gz=False)  # raw files ...
    write_idx(data_dir, "t10k", 50, rng, gz=True)  # ... and gzipped ones
    code, out, _ = run(capsys, "train", "--dataset", dataset, "--data-dir", str(data_dir), "--hidden", "1000",
                       "--activation", "relu", "--optimizer", "sgd", "--lr", "0.01", "--batch-size", "32",
                       "--epochs", "1", "--out", str(tmp_path / "out"))
    assert code == 0
    counts = re.search(rf"^{dataset}: (\d+) train / (\d+) validation / 50 test samples, 784 features; "
                       r"model 784-1000-10 \(795,010 parameters\)", out, re.M)
    assert sum(map(int, counts.groups())) == 200 and abs(int(counts.group(2)) - 20) <= 5  # official test set kept
    assert "sgd lr 0.01, batch 32" in out
    match = SUMMARY.search(out)
    assert match and match.group(1) == dataset and match.group(4) == "1"
    ckpt = read_checkpoint(tmp_path / "out" / "model.npz")
    assert ckpt.config["scale"] == "auto" and ckpt.extra["scaler"]["kind"] == "255"
    assert ckpt.model_state["0.weight"].shape == (1000, 784)


def test_missing_mnist_files_fail_with_the_folder_named(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "mnist training files not found" in err and str(tmp_path) in err and "--download" in err


@pytest.mark.parametrize("argv, flag", [
    (["--lr", "-1"], "--lr"),
    (["--lr", "abc"], "--lr"),
    (["--dataset", "nope"], "--dataset"),
    (["--hidden", "10", "x"], "--hidden"),
    (["--dropout", "1.5"], "--dropout"),
    (["--val-fraction", "0"], "--val-fraction"),
    (["--optimizer", "lbfgs"], "--optimizer"),
    (["--batch-size", "0"], "--batch-size"),
    (["--loss", "bce"], "--loss"),  # digits has 10 classes: checked after loading, still an argparse-style error
    (["--dataset", "line", "--loss", "cross-entropy"], "--loss"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, flag):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv, "--epochs", "1", "--out", str(tmp_path / "o"), "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and "usage:" in err


def test_dropout_sits_where_the_dropout_study_puts_it(tmp_path, capsys):
    # --dropout used to add Dropout after each hidden activation; it now follows nn.MLP, the book's order (Dropout
    # before each Linear layer), so `nnblocks train --dropout` and the dropout study train the same network
    assert run(capsys, "train", "--hidden", "32", "--dropout", "0.25", "--epochs", "1", "--out", str(tmp_path),
               "--quiet")[0] == 0
    saved = read_checkpoint(tmp_path / "model.npz").model_state
    study = replace(next(v.model for v in chapter3.DROPOUT.variants if v.model.dropout), hidden=(32,))
    assert {k: v.shape for k, v in saved.items()} == {k: v.shape for k, v in study(64, 10, seed=0).state_dict().items()}
    assert sorted(saved) == ["1.bias", "1.weight", "4.bias", "4.weight"]  # Dropout, Linear, ReLU, Dropout, Linear


def test_evaluate_refuses_a_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    code, _, err = run(capsys, "evaluate", str(bad))
    assert code == 2 and len(err.splitlines()) == 1
    assert "argument CKPT" in err and str(bad) in err and "not an .npz (zip) archive" in err


def test_resume_continues_bit_identically(tmp_path, capsys):
    common = ["train", "--dataset", "spirals", "--hidden", "32", "--dropout", "0.2", "--batchnorm",
              "--scheduler", "step", "--batch-size", "64", "--quiet"]
    assert run(capsys, *common, "--epochs", "4", "--out", str(tmp_path / "full"))[0] == 0
    assert run(capsys, *common, "--epochs", "2", "--out", str(tmp_path / "part"))[0] == 0
    code, out, _ = run(capsys, "train", "--resume", str(tmp_path / "part" / "model.npz"), "--epochs", "4",
                       "--out", str(tmp_path / "part"), "--quiet")
    assert code == 0 and "after 4 epochs" in out
    full, part = (read_checkpoint(tmp_path / d / "model.npz") for d in ("full", "part"))
    assert part.epoch == full.epoch == 4
    for key, value in full.model_state.items():
        np.testing.assert_array_equal(part.model_state[key], value, err_msg=key)
    assert part.history == full.history


def test_user_csv_with_header_and_named_labels(tmp_path, capsys):
    X, y = np.random.default_rng(0).normal(size=(120, 3)), None
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    lines = ["a,label,b,c"] + [f"{r[0]:.5f},{lab},{r[1]:.5f},{r[2]:.5f}" for r, lab in zip(X, y)]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "train", "--dataset", str(tmp_path / "mine.csv"), "--label-column", "label",
                       "--hidden", "8", "--epochs", "30", "--lr", "0.01", "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0
    match = SUMMARY.search(out)
    assert match and match.group(1) == "mine" and float(match.group(2)) >= 85.0
    assert read_checkpoint(tmp_path / "o" / "model.npz").config["classes"] == ["no", "yes"]


def test_user_npz_regression_and_bce_binary(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", X=X, y=(2 * X[:, 0] - X[:, 1]).astype(np.float32))
    code, out, _ = run(capsys, "train", "--dataset", str(tmp_path / "reg.npz"), "--hidden", "--epochs", "40",
                       "--lr", "0.05", "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0
    loss = float(re.search(r"^reg: test mse loss ([\d.e+-]+) after 40 epochs", out, re.M).group(1))
    assert loss < 0.01  # logistic-free linear regression (no hidden layer) fits a linear target
    assert not (tmp_path / "r" / "accuracy.png").exists()
    code, out, _ = run(capsys, "train", "--dataset", "circles", "--loss", "bce", "--hidden", "16", "--epochs", "20",
                       "--lr", "0.01", "--out", str(tmp_path / "b"), "--quiet")
    assert code == 0
    assert float(SUMMARY.search(out).group(2)) >= 90.0
    assert read_checkpoint(tmp_path / "b" / "model.npz").model_state["2.weight"].shape == (1, 16)
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "b" / "model.npz"))
    assert code == 0 and "circles: test accuracy" in out


def test_subprocess_run_and_help(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "nnblocks", "train", "--dataset", "xor", "--samples", "200",
                           "--hidden", "8", "--epochs", "2", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SUMMARY.search(proc.stdout).group(1) == "xor"
    assert "epoch 2/2" in proc.stdout and proc.stderr == ""
    assert json.loads((tmp_path / "x" / "history.json").read_text())["history"]["epoch"] == [1, 2]
    proc = subprocess.run([sys.executable, "-m", "nnblocks", "train", "--epochs", "-3"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "argument --epochs" in proc.stderr


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_headerless_csv_with_text_labels_in_a_non_last_column_keeps_every_row(tmp_path, capsys):
    # 4 samples only (< 20: no split, train = val = test = all 4); the first row used to be taken for a header
    path = write_csv(tmp_path / "four.csv", ["cat,1.0,2.0", "dog,3.0,4.0", "cat,5.0,6.0", "dog,7.0,8.0"])
    code, out, _ = run(capsys, "train", "--dataset", str(path), "--label-column", "0", "--hidden", "4",
                       "--epochs", "1", "--out", str(tmp_path / "o"))
    assert code == 0
    assert "four: 4 samples (too few to hold any out: they train, validate and test), 2 features" in out
    from nnblocks.data import read_csv

    X, labels, names = read_csv(str(path), "0")
    np.testing.assert_array_equal(X, np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32))
    assert list(labels) == ["cat", "dog", "cat", "dog"] and names == []


def test_csv_header_is_found_whichever_column_holds_the_labels(tmp_path):
    from nnblocks.data import read_csv

    path = write_csv(tmp_path / "h.csv", ["x,kind,z", "1.5,a,2", "3,b,4", "5,a,6"])
    X, labels, names = read_csv(str(path), "1")
    np.testing.assert_array_equal(X, np.array([[1.5, 2], [3, 4], [5, 6]], np.float32))
    assert list(labels) == ["a", "b", "a"] and names == ["x", "z"]
    # numeric labels in the last column under a header; and a headerless file whose labels are all text
    X, labels, names = read_csv(str(write_csv(tmp_path / "n.csv", ["a,b,y", "1,2,0", "3,4,1"])), None)
    assert X.shape == (2, 2) and list(labels) == ["0", "1"] and names == ["a", "b"]
    X, labels, names = read_csv(str(write_csv(tmp_path / "t.csv", ["1,2,no", "3,4,yes"])), None)
    assert X.shape == (2, 2) and list(labels) == ["no", "yes"] and names == []


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_momentum_with_adam_is_refused_naming_both_flags(tmp_path, capsys, optimizer):
    with pytest.raises(SystemExit) as info:
        main(["train", "--optimizer", optimizer, "--momentum", "0.9", "--epochs", "1", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--momentum" in err and f"--optimizer {optimizer}" in err and "usage:" in err
    assert not (tmp_path / "o").exists()


def test_resume_notes_the_flags_the_checkpoint_overrides(tmp_path, capsys):
    out_dir = tmp_path / "o"
    common = ["--dataset", "xor", "--samples", "100", "--hidden", "4", "--out", str(out_dir), "--quiet"]
    assert run(capsys, "train", *common, "--epochs", "1")[0] == 0
    code, out, err = run(capsys, "train", "--resume", str(out_dir / "model.npz"), "--epochs", "2", "--lr", "0.5",
                         "--hidden", "8", "8", "--seed", "0", "--out", str(out_dir), "--quiet")
    assert code == 0 and "after 2 epochs" in out
    assert "note: --resume takes --lr from the checkpoint: using 0.001, not the given 0.5" in err
    assert "note: --resume takes --hidden from the checkpoint: using 4, not the given 8 8" in err
    assert "--seed" not in err  # given, but equal to the checkpoint's: nothing to say
    assert "--dataset" not in err and "--optimizer" not in err  # not given at all
    assert read_checkpoint(out_dir / "model.npz").config["hidden"] == [4]


def test_truncated_npz_is_a_usage_error_naming_the_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.npz"
    np.savez_compressed(good, X=rng.normal(size=(60, 3)), y=rng.integers(0, 2, size=60))
    blob = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(blob[: len(blob) // 2])  # the zip directory at the end is lost
    corrupt = bytearray(blob)
    corrupt[60:200] = bytes(140)  # the deflate stream of X is damaged, the directory is intact
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    for name in ("trunc.npz", "corrupt.npz"):
        code, _, err = run(capsys, "train", "--dataset", str(tmp_path / name), "--epochs", "1",
                           "--out", str(tmp_path / "o"))
        assert code == 2, name
        assert len(err.splitlines()) == 1 and not (tmp_path / "o").exists()  # one line, no folder left behind
        assert "argument --dataset" in err and str(tmp_path / name) in err and "cannot read the .npz file" in err


def test_fractions_leaving_no_training_data_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--val-fraction", "0.6", "--test-fraction", "0.5", "--epochs", "1",
              "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--val-fraction 0.6" in err and "--test-fraction 0.5" in err and "Traceback" not in err


def test_other_data_preparation_errors_are_reported_cleanly(tmp_path, capsys):
    # 30 samples, 3 classes of 10: stratified 0.04 of 10 rounds to 0 per class, so validation would be empty
    lines = [f"{i % 7}.5,{i % 3}" for i in range(30)]
    path = write_csv(tmp_path / "small.csv", lines)
    code, _, err = run(capsys, "train", "--dataset", str(path), "--val-fraction", "0.04", "--epochs", "1",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"nnblocks train: error: argument --dataset: {path}: 30 samples are too few for a "
                          "validation share of 0.04 and a test share of 0.2: the validation part would get no sample")
