"""``nnblocks train --conv`` / ``--model cnn``: a convolutional network through the recipe, end to end: trained,
evaluated, resumed and exported, on the digits and on MNIST-format IDX files; the errors naming ``--conv``; and what
``nnblocks evaluate`` says of a playground checkpoint."""
from __future__ import annotations

import re

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import data, recipe
from nnblocks.cli import main
from nnblocks.train import load_checkpoint, read_checkpoint

try:
    import torch
except ImportError:
    torch = None

SUMMARY = re.compile(r"^(\S+): test accuracy ([\d.]+)% \(loss ([\d.e+-]+)\) after (\d+) epochs?, [\d.]+ s$", re.M)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_conv_8_on_digits_trains_and_evaluates(tmp_path, capsys):
    out_dir = tmp_path / "digits"
    code, out, _ = run(capsys, "train", "--dataset", "digits", "--conv", "8", "--epochs", "2", "--out", str(out_dir))
    assert code == 0
    # conv: 1*8*9 + 8 = 80; 8 maps of 8x8 -> 6x6 -> pooled 3x3: 72 features; Linear 72*128 + 128 and 128*10 + 10
    assert re.search(r"^digits: \d+ train / \d+ validation / \d+ test samples, 1x8x8 images; model conv 8 \(3x3, "
                     r"valid padding, max-pool 2: 8x8 -> 3x3\) -> 72-128-10 \(10,714 parameters\), adam lr 0.001, "
                     r"batch 32, cross-entropy loss$", out, re.M), out
    match = SUMMARY.search(out)
    assert match and match.group(4) == "2" and float(match.group(2)) >= 80.0
    ckpt = read_checkpoint(out_dir / "model.npz")
    assert ckpt.config["conv"] == [8] and ckpt.config["input_shape"] == [1, 8, 8] and ckpt.config["version"] == 3
    assert ckpt.config["padding"] == "valid"  # what "auto" became, so the checkpoint rebuilds without the data
    assert ckpt.model_state["0.weight"].shape == (8, 1, 3, 3) and ckpt.model_state["4.weight"].shape == (128, 72)
    code, out2, _ = run(capsys, "evaluate", str(out_dir / "model.npz"))
    assert code == 0  # the same network, the same test split: the same numbers
    assert f"digits: test accuracy {match.group(2)}% (loss {match.group(3)}) on " in out2


def write_idx(folder, prefix: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(np.array([2051, n, 28, 28], ">i4").tobytes() +
                                                         images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, n], ">i4").tobytes() + labels.tobytes())
    return images, labels


def test_the_books_network_on_mnist_format_files(tmp_path, capsys):
    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    rng = np.random.default_rng(0)
    write_idx(data_dir, "train", 200, rng)
    test_images, _ = write_idx(data_dir, "t10k", 40, rng)
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(data_dir), "--model", "cnn",
                       "--epochs", "1", "--out", str(out_dir))
    assert code == 0
    # 1*64*9 + 64 = 640, 64*128*9 + 128 = 73,856, 3200*256 + 256 = 819,456, 256*10 + 10 = 2,570: 896,522
    assert re.search(r"^mnist: (\d+) train / (\d+) validation / 40 test samples, 1x28x28 images; model conv 64-128 "
                     r"\(3x3, valid padding, max-pool 2: 28x28 -> 13x13 -> 5x5\) -> 3200-256-10 \(896,522 "
                     r"parameters\)", out, re.M), out
    assert SUMMARY.search(out).group(4) == "1"
    ckpt = read_checkpoint(out_dir / "model.npz")
    assert {k: v.shape for k, v in ckpt.model_state.items()} == {
        "0.weight": (64, 1, 3, 3), "0.bias": (64,), "3.weight": (128, 64, 3, 3), "3.bias": (128,),
        "7.weight": (256, 3200), "7.bias": (256,), "9.weight": (10, 256), "9.bias": (10,)}
    assert ckpt.config["conv"] == [64, 128] and ckpt.config["hidden"] == [256] and ckpt.extra["scaler"]["kind"] == "255"
    assert run(capsys, "evaluate", str(out_dir / "model.npz"), "--data-dir", str(data_dir))[0] == 0
    if torch is None:
        return
    # the checkpoint's weights load into the book's PyTorch model, which computes the same logits
    tnn = torch.nn
    book = tnn.Sequential(tnn.Conv2d(1, 64, 3), tnn.MaxPool2d(2), tnn.ReLU(), tnn.Conv2d(64, 128, 3), tnn.MaxPool2d(2),
                          tnn.ReLU(), tnn.Flatten(), tnn.Linear(3200, 256), tnn.ReLU(), tnn.Linear(256, 10))
    book.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    config = recipe.TrainConfig.from_dict(ckpt.config)
    model = recipe.build_model(config)
    load_checkpoint(out_dir / "model.npz", model, restore_rng=False)
    x = (test_images / np.float32(255)).astype(np.float32)
    ours = model.eval()(nb.tensor(x.reshape(40, -1))).data
    theirs = book.eval()(torch.from_numpy(x[:, None])).detach().numpy()
    # float32: both libraries sum the same 576- and 3200-term dot products in their own order, each rounding within
    # 6e-8 of its partial sum; measured 3e-8 on logits of size ~1, and 1e-5 leaves room for other BLAS kernels
    assert float(np.max(np.abs(ours - theirs))) <= 1e-5


def test_resuming_a_cnn_run_continues_bit_identically(tmp_path, capsys):
    flags = ["--conv", "4", "--hidden", "16", "--dropout", "0.2", "--batchnorm", "--quiet"]
    assert run(capsys, "train", *flags, "--epochs", "2", "--out", str(tmp_path / "whole"))[0] == 0
    assert run(capsys, "train", *flags, "--epochs", "1", "--out", str(tmp_path / "part"))[0] == 0
    assert run(capsys, "train", "--resume", str(tmp_path / "part" / "model.npz"), "--epochs", "2", "--out",
               str(tmp_path / "part"), "--quiet")[0] == 0
    whole, resumed = (read_checkpoint(tmp_path / p / "model.npz") for p in ("whole", "part"))
    assert resumed.epoch == 2 and resumed.model_state.keys() == whole.model_state.keys()
    for key, value in whole.model_state.items():
        np.testing.assert_array_equal(resumed.model_state[key], value, err_msg=key)


def test_cli_export_of_a_cnn_checkpoint(tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out_dir = tmp_path / "run"
    assert run(capsys, "train", "--conv", "4", "6", "--hidden", "16", "--batchnorm", "--epochs", "1", "--quiet",
               "--out", str(out_dir))[0] == 0
    with_torch = ["--torch", str(tmp_path / "d.pt")] if torch is not None else []
    code, out, _ = run(capsys, "export", str(out_dir / "model.npz"), "--onnx", str(tmp_path / "d.onnx"), *with_torch)
    assert code == 0
    assert "input 'input' (batch, 64) raw features, the 1x8x8 images' pixels row by row, scaling inside: (x - " \
           "mean) / std of the training split" in out
    ckpt = read_checkpoint(out_dir / "model.npz")
    model = recipe.build_model(recipe.TrainConfig.from_dict(ckpt.config))
    load_checkpoint(out_dir / "model.npz", model, restore_rng=False)
    raw, _ = data.digits()
    raw = raw[:50]
    scaled = data.Scaling("standard", ckpt.extra["scaler"])(raw)
    expected = model.eval()(nb.tensor(scaled)).data
    session = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    assert float(np.max(np.abs(session.run(None, {"input": raw})[0] - expected))) <= 1e-5
    if torch is None:
        return
    assert "takes images (batch, 1, 8, 8) scaled as in training" in out
    module = torch.load(tmp_path / "d.pt", weights_only=False)
    got = module(torch.from_numpy(scaled.reshape(-1, 1, 8, 8))).detach().numpy()
    assert float(np.max(np.abs(got - expected))) <= 1e-5


# ---- errors ----------------------------------------------------------------------------------------------------------
def test_conv_on_a_table_a_toy_set_or_with_zero_channels_names_the_flag(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    cases = [(["--dataset", str(csv), "--conv", "8"], r"argument --conv: conv \[8\] needs images, and t holds rows "
                                                      r"of 2 features with no image shape"),
             (["--dataset", "moons", "--conv", "8"], r"argument --conv: conv \[8\] needs images, and moons holds"),
             (["--conv", "0"], r"argument --conv: expected a positive integer, got '0'"),
             (["--conv", "8", "8", "8", "8"], r"argument --conv: .*shrink 8x8 images to nothing"),
             (["--model", "mlp", "--conv", "8"], r"argument --model: --model mlp has no convolutions")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as info:
            main(["train", *argv, "--out", str(tmp_path / "o")])
        assert info.value.code == 2
        assert re.search(message, capsys.readouterr().err), argv
    assert not (tmp_path / "o").exists()  # refused before any work


def test_padding_without_conv_is_noted_and_the_help_tells_the_model_flags(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "xor", "--samples", "60", "--padding", "same", "--epochs", "1",
                       "--quiet", "--no-boundary", "--out", str(tmp_path))
    assert code == 0 and "note: --padding applies to the convolutions of --conv" in err
    assert read_checkpoint(tmp_path / "model.npz").config["conv"] == []
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "train a multilayer perceptron, or with --conv a convolutional network" in text
    assert "cnn = the book's chapter-4 network, --conv 64 128 --hidden 256" in text
    assert "Conv2d 3x3 -> MaxPool2d 2 -> activation" in text and "{auto,valid,same}" in text


def test_evaluate_refuses_a_cnn_on_rows_without_an_image_shape(tmp_path, capsys):
    assert run(capsys, "train", "--conv", "4", "--hidden", "8", "--epochs", "1", "--quiet",
               "--out", str(tmp_path))[0] == 0
    X, y = data.digits()
    np.savez(tmp_path / "flat.npz", X=X, y=y)  # the same 64 numbers per sample, as a table
    code, _, err = run(capsys, "evaluate", str(tmp_path / "model.npz"), "--dataset", str(tmp_path / "flat.npz"))
    assert code == 2
    assert ("argument --dataset: the model is a CNN over 1x8x8 images, and " in err and
            "flat.npz holds rows of features with no image shape" in err)


def test_a_conv_network_too_big_for_memory_is_refused_naming_conv(tmp_path, capsys, monkeypatch):
    from nnblocks.cli import train

    monkeypatch.setattr(train, "_available_memory", lambda: 2**30)
    # two blocks of 4096 channels on the digits (same padding: 8x8 -> 4x4 -> 2x2): 4096*4096*9 ~ 1.5e8 weights in
    # the second convolution alone, x 4 bytes x 5 copies (adam) = 2.8 GiB, with the maps of 32 images on top
    code, _, err = run(capsys, "train", "--conv", "4096", "4096", "--out", str(tmp_path / "o"))
    assert code == 2
    assert re.search(r"argument --conv: a --conv 4096 4096 network \(its head 16384-128-10\) with adam at batch 32 "
                     r"needs about 3\.\d GiB; 1\.0 GiB of memory is available\. Use fewer or narrower --conv "
                     r"blocks, or a smaller --batch-size", err), err
    assert not (tmp_path / "o").exists()


def test_evaluate_says_why_a_playground_checkpoint_cannot_be_evaluated(tmp_path, capsys):
    from nnblocks.playground import export
    from nnblocks.playground.session import Session
    from nnblocks.playground.settings import Limits

    session = Session("t", Limits())
    session.step(3)
    (tmp_path / "p.npz").write_bytes(export.checkpoint_bytes(session.run))
    code, _, err = run(capsys, "evaluate", str(tmp_path / "p.npz"))
    assert code == 2 and "was saved by the playground, whose points" in err and "download the Python code" in err
