"""The way back out: to_torch / from_torch give identical outputs both ways (float64 1e-12, float32 1e-6, train and
eval mode), to_onnx and `nnblocks export` give what the model gives when onnxruntime runs them (1e-5)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn
from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError

from nnblocks.export import from_torch, to_onnx, to_torch

try:
    import torch
except ImportError:  # the to_torch/from_torch tests skip; the ONNX ones need only onnx and onnxruntime
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

TOL = {np.float64: 1e-12, np.float32: 1e-6}


def zoo(dtype) -> nn.Module:
    """Every layer nnblocks has, in one chain (dropout at p=0 so train mode is deterministic; p>0 is tested in
    eval mode below), nested containers included."""
    return nn.Sequential(OrderedDict([
        ("flat", nn.Flatten()), ("fc1", nn.Linear(12, 16, dtype=dtype)),
        ("bn", nn.BatchNorm1d(16, affine=False, momentum=0.3, dtype=dtype)), ("act1", nn.ReLU()),
        ("drop", nn.Dropout(0.0)),
        ("block", nn.Sequential(nn.Linear(16, 8, dtype=dtype), nn.LeakyReLU(0.2), nn.Tanh(), nn.Identity())),
        ("fc3", nn.Linear(8, 6, bias=False, dtype=dtype)), ("bn2", nn.BatchNorm1d(6, dtype=dtype)),
        ("sig", nn.Sigmoid()), ("fc4", nn.Linear(6, 5, dtype=dtype)), ("out", nn.LogSoftmax(dim=1)),
    ]))


def inputs(dtype, n=9, shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(dtype)


def compare(ours, theirs, tol, key):
    diff = float(np.max(np.abs(ours - theirs)))  # measured: ~1e-16 (float64), ~2e-7 (float32), ~5e-8 (ONNX)
    assert diff <= tol, f"{key}: largest difference {diff:.3g} > {tol}"


def run_both(ours: nn.Module, theirs, x: np.ndarray, dtype, key: str):
    """Forward and backward in both libraries; outputs, gradients and state (running stats) must agree."""
    out = ours(nb.tensor(x))
    (out * nb.tensor(np.linspace(-1, 1, out.size(1)).astype(dtype))).sum().backward()
    tout = theirs(torch.from_numpy(x))
    (tout * torch.from_numpy(np.linspace(-1, 1, tout.shape[1]).astype(dtype))).sum().backward()
    compare(out.data, tout.detach().numpy(), TOL[dtype], key + " output")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        compare(p.grad, tparams[name].grad.numpy(), TOL[dtype] * 100, key + " gradient")
    tstate = theirs.state_dict()
    for name, value in ours.state_dict().items():
        compare(np.asarray(value, np.float64), tstate[name].double().numpy(), TOL[dtype], key + " state")


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_to_torch_gives_identical_outputs(dtype, mode):
    ours = zoo(dtype)
    ours.train()
    ours(nb.tensor(inputs(dtype, seed=5)))  # running statistics that are not the initial ones
    getattr(ours, mode)()
    theirs = to_torch(ours)
    assert isinstance(theirs, torch.nn.Sequential) and list(theirs.state_dict()) == list(ours.state_dict())
    assert theirs.training == ours.training and theirs.fc1.weight.dtype == getattr(torch, np.dtype(dtype).name)
    assert isinstance(theirs.block[1], torch.nn.LeakyReLU) and theirs.block[1].negative_slope == 0.2
    run_both(ours, theirs, inputs(dtype), dtype, f"to_torch {np.dtype(dtype).name} {mode}")


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_from_torch_gives_identical_outputs(dtype, mode):
    torch.manual_seed(0)
    tdtype = getattr(torch, np.dtype(dtype).name)
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(12, 10, dtype=tdtype), torch.nn.BatchNorm1d(10, dtype=tdtype),
        torch.nn.Sigmoid(), torch.nn.Dropout(0.0), torch.nn.Linear(10, 4, dtype=tdtype), torch.nn.Softmax(dim=-1))
    with torch.no_grad():
        theirs[2].weight.uniform_(0.5, 1.5)
        theirs[2].bias.uniform_(-0.5, 0.5)
    theirs.train()(torch.from_numpy(inputs(dtype, seed=3)))
    getattr(theirs, mode)()
    ours = from_torch(theirs)
    assert [type(m).__name__ for m in ours] == ["Flatten", "Linear", "BatchNorm1d", "Sigmoid", "Dropout", "Linear",
                                                "Softmax"]
    assert ours.training == theirs.training and ours[1].weight.dtype == dtype
    run_both(ours, theirs, inputs(dtype), dtype, f"from_torch {np.dtype(dtype).name} {mode}")


@needs_torch
def test_round_trips_keep_modes_flags_containers_and_mlp():
    mlp = nn.MLP([4, 8, 3], activation="tanh", dropout=0.5, batchnorm=True, seed=1)
    mlp.eval()
    mlp[2].train()  # a model half in eval mode keeps that mix
    mlp[1].weight.requires_grad = False  # (mlp[0] is the input dropout)
    theirs = to_torch(mlp)
    assert [m.training for m in theirs.modules()] == [m.training for m in mlp.modules()]
    assert [p.requires_grad for p in theirs.parameters()] == [p.requires_grad for p in mlp.parameters()]
    back = from_torch(theirs)
    assert [m.training for m in back.modules()] == [m.training for m in mlp.modules()]
    assert [type(m).__name__ for m in back] == [type(m).__name__ for m in mlp]
    for key, value in mlp.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)
    x = nb.tensor(inputs(np.float32, shape=(4,)))
    np.testing.assert_allclose(mlp.eval()(x).data, back.eval()(x).data, rtol=0, atol=0)
    holder = nn.ModuleList([nn.Linear(2, 2), nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(2, 1)})])
    converted = to_torch(holder)
    assert isinstance(converted, torch.nn.ModuleList) and isinstance(converted[1], torch.nn.ModuleDict)
    assert list(converted.state_dict()) == list(holder.state_dict()) == list(from_torch(converted).state_dict())


@needs_torch
def test_dropout_in_eval_mode_and_losses():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.4)).eval()
    x = inputs(np.float32, shape=(3,))
    np.testing.assert_allclose(model(nb.tensor(x)).data, to_torch(model)(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-6)
    logits, labels = np.random.default_rng(2).standard_normal((6, 3)), np.array([0, 2, 1, 1, 0, 2])
    weight = np.array([1.0, 2.0, 0.5])
    for ours in (nn.CrossEntropyLoss(weight=weight), nn.NLLLoss(), nn.MSELoss(reduction="sum"), nn.L1Loss()):
        theirs = to_torch(ours)
        target = labels if isinstance(ours, (nn.CrossEntropyLoss, nn.NLLLoss)) else logits[:, ::-1].copy()
        expected = theirs(torch.from_numpy(logits), torch.from_numpy(target)).item()
        assert ours(nb.tensor(logits), nb.tensor(target)).item() == pytest.approx(expected, rel=1e-12)
        assert type(from_torch(theirs)) is type(ours)
    np.testing.assert_array_equal(from_torch(to_torch(nn.CrossEntropyLoss(weight=weight))).weight, weight)


@needs_torch
def test_what_cannot_be_converted_says_what_to_do():
    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(InvalidArgumentError, match=r"model.1 is a Mine, a class of your own.*load_state_dict"):
        to_torch(nn.Sequential(nn.ReLU(), Mine()))
    with pytest.raises(InvalidArgumentError, match=r"module.0 is a Conv1d, which has no counterpart in nnblocks.nn"):
        from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3)))
    with pytest.raises(InvalidValueError, match="momentum=None"):
        from_torch(torch.nn.BatchNorm1d(3, momentum=None))
    with pytest.raises(InvalidValueError, match="float16"):
        from_torch(torch.nn.Linear(2, 2).half())
    with pytest.raises(InvalidArgumentError, match="expected a torch.nn.Module"):
        from_torch(nn.Linear(2, 2))


# ---- ONNX ------------------------------------------------------------------------------------------------------------
def ort_run(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_onnx_matches_the_model_in_eval_mode(tmp_path, dtype):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.MLP([12, 32, 16, 5], activation="leaky_relu",
                                                                  batchnorm=True, dropout=0.3, seed=0),
                          nn.Softmax(dim=1))
    model = model.double() if dtype == np.float64 else model
    model.train()
    for seed in range(3):
        model(nb.tensor(inputs(dtype, n=32, seed=seed)))  # running statistics to export
    path = to_onnx(model, tmp_path / "model.onnx", (3, 4))
    assert model.training  # its modes are left as they were
    x = inputs(dtype, n=7, seed=9)
    got = ort_run(path, x)
    assert got.dtype == dtype and got.shape == (7, 5)
    compare(got, model.eval()(nb.tensor(x)).data, 1e-5, f"onnx {np.dtype(dtype).name}")
    one = ort_run(path, x[:1])  # the batch size is free
    compare(one, got[:1], 1e-6, f"onnx {np.dtype(dtype).name} batch 1")


def test_to_onnx_scaling_and_errors(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1)).eval()
    mean, std = np.array([1, 2, 3, 4], np.float32), np.array([2, 2, 4, 4], np.float32)
    path = to_onnx(model, tmp_path / "scaled.onnx", 4, input_shift=mean, input_divisor=std)
    raw = inputs(np.float32, shape=(4,)) * 10
    compare(ort_run(path, raw), model(nb.tensor((raw - mean) / std)).data, 1e-5, "onnx scaled")

    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(InvalidArgumentError, match=r"model.1 is a Mine.*written as a Sequential"):
        to_onnx(nn.Sequential(nn.ReLU(), Mine()), tmp_path / "x.onnx", (4,))
    with pytest.raises(ShapeError, match=r"input_shape \(5,\) does not fit the model: model.0 \(Linear\)"):
        to_onnx(model, tmp_path / "x.onnx", (5,))
    with pytest.raises(InvalidValueError, match="track_running_stats=False"):
        to_onnx(nn.Sequential(nn.BatchNorm1d(4, track_running_stats=False)), tmp_path / "x.onnx", (4,))
    with pytest.raises(InvalidValueError, match="opset 3"):
        to_onnx(model, tmp_path / "x.onnx", (4,), opset=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scaled.onnx"]


def test_cli_export_of_a_trained_checkpoint(tmp_path, capsys):
    pytest.importorskip("onnx")
    from fmnist_files import write_fashion_mnist

    from nnblocks.cli import main
    from nnblocks.data import Scaling
    from nnblocks.train import load_checkpoint, read_checkpoint

    splits = write_fashion_mnist(tmp_path / "data", n_train=200, n_test=50)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data"), "--hidden", "16",
                 "--batchnorm", "--dropout", "0.2", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    ckpt = out / "model.npz"
    with_torch = ["--torch", str(tmp_path / "f.pt")] if torch is not None else []
    assert main(["export", str(ckpt), "--onnx", str(tmp_path / "f.onnx"), "--probabilities", *with_torch]) == 0
    printed = capsys.readouterr().out
    assert "input 'input' (batch, 784) raw features, scaling inside: /255" in printed and "probabilities" in printed
    from nnblocks import recipe

    saved = read_checkpoint(ckpt)
    config = recipe.TrainConfig.from_dict(saved.config)
    model = recipe.build_model(config)
    load_checkpoint(ckpt, model, restore_rng=False)
    raw = splits[False][0].reshape(50, -1).astype(np.float32)
    expected = nn.Softmax(dim=1)(model.eval()(nb.tensor(Scaling("255")(raw)))).data
    compare(ort_run(tmp_path / "f.onnx", raw), expected, 1e-5, "cli onnx")
    if torch is None:
        return
    module = torch.load(tmp_path / "f.pt", weights_only=False)
    compare(module(torch.from_numpy(Scaling("255")(raw))).detach().numpy(), expected, 1e-6, "cli torch")


def test_cli_export_errors(tmp_path, capsys):
    from nnblocks.cli import main

    with pytest.raises(SystemExit) as info:
        main(["export", str(tmp_path / "none.npz")])
    assert info.value.code == 2 and "nothing to write" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(SystemExit):
        main(["export", str(bad), "--onnx", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert "argument CKPT" in err and "bad.npz" in err
    assert not (tmp_path / "m.onnx").exists()


def test_missing_packages_are_named(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed: import raises ImportError
    with pytest.raises(ImportError, match="needs PyTorch for to_torch/from_torch: pip install torch"):
        to_torch(nn.Linear(1, 1))
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "nnblocks\[export\]"'):
        to_onnx(nn.Linear(1, 1), tmp_path / "m.onnx", (1,))
