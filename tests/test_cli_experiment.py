"""``nnblocks experiment list`` / ``run NAME``: what is printed, what is written, and exit code 2 with a helpful
message (no traceback) when the data is missing or the name is unknown."""
from __future__ import annotations

import json

import pytest

from nnblocks.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_list_names_every_experiment(capsys):
    assert main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("toy-sum", "scaling", "batch-size", "optimizer", "learning-rate", "lr-annealing", "depth",
                 "batchnorm", "dropout", "regularization"):
        assert f"\n{name} " in "\n" + out
    assert "100 epochs" in out  # batchnorm's default


def test_run_toy_sum_writes_report_plot_and_checkpoint(tmp_path, capsys):
    assert main(["experiment", "run", "toy-sum", "--epochs", "3", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "toy-sum" in out and "full batch" in out and "batch size 2" in out
    report = (tmp_path / "report.md").read_text()
    assert "Prediction for [[10, 11]]" in report and "| 3 |" in report
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "toy-sum.npz").is_file()


def test_run_a_study_on_digits(tmp_path, capsys):
    code = main(["experiment", "run", "depth", "--dataset", "digits", "--epochs", "2", "--subset", "120",
                 "--seed", "3", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("estimated duration: ")  # printed before any training
    assert "done in" in out and "depth/2 hidden" in out and "[3/3]" in out  # progress across the variants
    for name in ("0 hidden", "1 hidden", "2 hidden"):
        assert name in out
    report = (tmp_path / "report.md").read_text()
    assert "120 training and 20 validation images, 64 inputs" in report and "seed 3" in report
    assert "64 -> Linear 1000 -> ReLU -> Linear 1000 -> ReLU -> Linear 10" in report
    # the book's notes are flagged as describing Fashion-MNIST when the run used other data
    assert "These notes describe the book's setting (Fashion-MNIST, pixels 0..255). This run used digits" in report
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_MAGIC)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [len(v["history"]["epoch"]) for v in results["variants"]] == [2, 2, 2]


def test_run_all_prints_one_summary_table(tmp_path, capsys):
    code = main(["experiment", "run", "all", "--dataset", "digits", "--epochs", "1", "--subset", "48", "--quiet",
                 "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    summary = (tmp_path / "summary.md").read_text()
    for study, variant in (("toy-sum", "batch size 2"), ("scaling", "raw"), ("lr-annealing", "reduce on plateau"),
                           ("regularization", "AdamW wd=0.02"), ("batchnorm", "batch norm")):
        assert f"| {study} | {variant} |" in summary
        assert study in out and variant in out
    assert "total wall time" in out and "Total wall time" in summary
    assert (tmp_path / "batchnorm" / "activations.png").is_file()


def test_missing_fashion_mnist_exits_2_with_instructions(tmp_path, capsys):
    code = main(["experiment", "run", "scaling", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "fashion-mnist training files not found" in err
    assert "--download" in err and "--dataset digits" in err
    assert "Traceback" not in err
    assert not (tmp_path / "report.md").exists()


def test_unknown_experiment_exits_2(capsys):
    assert main(["experiment", "run", "no-such-study", "--dataset", "digits"]) == 2
    assert "unknown experiment 'no-such-study'" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--epochs", "0"], ["--subset", "-3"], ["--dataset", "cifar"], ["--seed", "-1"],
                                  ["--seed", "1.5"]])
def test_bad_flags_are_rejected_by_argparse(flag, capsys):
    with pytest.raises(SystemExit) as info:
        main(["experiment", "run", "scaling", *flag])
    assert info.value.code == 2
    assert f"argument {flag[0]}" in capsys.readouterr().err


def test_negative_seed_is_refused_before_running(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["experiment", "run", "toy-sum", "--seed", "-1", "--out", str(tmp_path), "--quiet"])
    assert info.value.code == 2
    assert "argument --seed: expected an integer >= 0, got '-1'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
