"""The way back out for the chapter-4 layers: Conv2d, the pooling layers, BatchNorm2d, Dropout2d, Unflatten and
nn.CNN, to PyTorch and back (identical outputs, gradients and running statistics: float64 1e-12, float32 1e-6, in
train and eval mode) and to ONNX (onnxruntime gives the model's eval-mode outputs within 1e-5)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn
from nnblocks.errors import InvalidArgumentError, InvalidValueError
from nnblocks.export import from_torch, to_onnx, to_torch

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# Each output sums at most a few hundred products, in another order in each library: ~1e-16 relative per rounding in
# float64, ~6e-8 in float32. Measured: outputs 1e-16 (float64) and 9e-8 (float32); gradients, summed over the batch
# and the pixels too, 2e-15 and 1.4e-6 (hence 100x the bound for them); ONNX 6e-8.
TOL = {np.float64: 1e-12, np.float32: 1e-6}


def compare(ours, theirs, tol, key):
    diff = float(np.max(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64))))
    assert diff <= tol, f"{key}: largest difference {diff:.3g} > {tol}"


def images(dtype, n=6, shape=(2, 9, 9), seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(dtype)


def conv_zoo(dtype) -> nn.Module:
    """Every chapter-4 layer and the options PyTorch shares (stride, padding incl. "same", dilation, groups, no bias,
    ceil_mode, count_include_pad), on (N, 2, 9, 9) images; dropout at p=0 so train mode is deterministic."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(2, 4, 3, padding="same", dtype=dtype)), ("bn1", nn.BatchNorm2d(4, dtype=dtype)),
        ("act1", nn.ReLU()), ("pool1", nn.MaxPool2d(2, ceil_mode=True)),  # 9x9 -> 5x5
        ("drop", nn.Dropout2d(0.0)),
        ("conv2", nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=1, dilation=(1, 2), groups=2, bias=False,
                            dtype=dtype)),  # 5x5 -> 5x2
        ("bn2", nn.BatchNorm2d(6, affine=False, momentum=0.3, dtype=dtype)), ("act2", nn.Tanh()),
        ("pool2", nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False)),  # 5x2 -> 6x3
        ("pool3", nn.AdaptiveAvgPool2d((3, 1))),  # 6x3 -> 3x1: windows of 2x3
        ("flat", nn.Flatten()), ("fc", nn.Linear(18, 36, dtype=dtype)), ("unflat", nn.Unflatten(1, (4, 3, 3))),
        ("conv3", nn.Conv2d(4, 5, 2, dtype=dtype)), ("gap", nn.AdaptiveAvgPool2d(1)), ("flat2", nn.Flatten()),
        ("out", nn.Linear(5, 3, dtype=dtype)),
    ]))


def run_both(ours, theirs, x, dtype, key):
    """Forward and backward in both libraries: outputs, every parameter's gradient and the state must agree."""
    out = ours(nb.tensor(x))
    weights = np.linspace(-1, 1, out.size(1)).astype(dtype)
    (out * nb.tensor(weights)).sum().backward()
    tout = theirs(torch.from_numpy(x))
    (tout * torch.from_numpy(weights)).sum().backward()
    compare(out.data, tout.detach().numpy(), TOL[dtype], f"{key} output")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        compare(p.grad, tparams[name].grad.numpy(), TOL[dtype] * 100, f"{key} gradient")
    tstate = theirs.state_dict()
    for name, value in ours.state_dict().items():
        compare(value, tstate[name].double().numpy(), TOL[dtype], f"{key} state")


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_to_torch_gives_identical_outputs(dtype, mode):
    ours = conv_zoo(dtype)
    ours.train()
    ours(nb.tensor(images(dtype, seed=5)))  # running statistics that are not the initial ones
    getattr(ours, mode)()
    theirs = to_torch(ours)
    assert list(theirs.state_dict()) == list(ours.state_dict()) and theirs.training == ours.training
    assert theirs.conv2.groups == 2 and theirs.conv2.dilation == (1, 2) and theirs.conv2.bias is None
    assert theirs.conv1.padding == "same" and theirs.pool1.ceil_mode and not theirs.pool2.count_include_pad
    assert isinstance(theirs.drop, torch.nn.Dropout2d) and theirs.unflat.unflattened_size == (4, 3, 3)
    assert theirs.conv1.weight.dtype == getattr(torch, np.dtype(dtype).name)
    run_both(ours, theirs, images(dtype), dtype, f"to_torch {np.dtype(dtype).name} {mode}")


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_from_torch_gives_identical_outputs(dtype, mode):
    torch.manual_seed(0)
    tdtype, tnn = getattr(torch, np.dtype(dtype).name), torch.nn
    theirs = tnn.Sequential(
        tnn.Unflatten(1, (2, 9, 9)), tnn.Conv2d(2, 6, 3, stride=2, padding=1, dtype=tdtype),
        tnn.BatchNorm2d(6, dtype=tdtype), tnn.LeakyReLU(0.1), tnn.MaxPool2d(3, stride=1, padding=1, dilation=1),
        tnn.Dropout2d(0.0), tnn.AvgPool2d(2, ceil_mode=True), tnn.Conv2d(6, 4, 1, groups=2, dtype=tdtype),
        tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(4, 3, dtype=tdtype))
    with torch.no_grad():
        theirs[2].weight.uniform_(0.5, 1.5)
        theirs[2].bias.uniform_(-0.5, 0.5)
    theirs.train()(torch.from_numpy(images(dtype, seed=3).reshape(6, -1)))
    getattr(theirs, mode)()
    ours = from_torch(theirs)
    assert [type(m).__name__ for m in ours] == [
        "Unflatten", "Conv2d", "BatchNorm2d", "LeakyReLU", "MaxPool2d", "Dropout2d", "AvgPool2d", "Conv2d",
        "AdaptiveAvgPool2d", "Flatten", "Linear"]
    assert ours[1].stride == (2, 2) and ours[1].padding == (1, 1) and ours[7].groups == 2 and ours[6].ceil_mode
    assert ours.training == theirs.training and ours[1].weight.dtype == dtype
    run_both(ours, theirs, images(dtype).reshape(6, -1), dtype, f"from_torch {np.dtype(dtype).name} {mode}")


@needs_torch
def test_cnn_becomes_the_books_sequential_and_dropout_agrees_in_eval_mode():
    cnn = nn.CNN((1, 12, 12), channels=[4, 8], hidden=[16], out=5, batchnorm=True, dropout=0.5, seed=0)
    cnn.train()(nb.tensor(images(np.float32, n=8, shape=(144,), seed=1)))
    cnn.eval()
    theirs = to_torch(cnn)
    assert type(theirs) is torch.nn.Sequential and list(theirs.state_dict()) == list(cnn.state_dict())
    x = images(np.float32, shape=(1, 12, 12))
    # the same network; PyTorch's takes images, nnblocks' CNN also flat rows (viewed as images)
    compare(cnn(nb.tensor(x.reshape(6, -1))).data, theirs(torch.from_numpy(x)).detach().numpy(), 1e-6, "cnn eval")
    back = from_torch(theirs)
    assert type(back) is nn.Sequential and [type(m) for m in back] == [type(m) for m in cnn]
    compare(back(nb.tensor(x)).data, cnn(nb.tensor(x)).data, 0.0, "cnn round trip")
    drop = nn.Sequential(nn.Conv2d(2, 3, 1), nn.Dropout2d(0.6)).eval()
    compare(drop(nb.tensor(images(np.float32))).data,
            to_torch(drop)(torch.from_numpy(images(np.float32))).detach().numpy(), 1e-6, "dropout2d eval")


@needs_torch
def test_what_the_conv_layers_cannot_take_is_named():
    with pytest.raises(InvalidValueError, match=r"from_torch: module.0: Conv2d: padding_mode 'reflect' is not"):
        from_torch(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")))
    with pytest.raises(InvalidValueError, match=r"module is BatchNorm2d\(momentum=None\)"):
        from_torch(torch.nn.BatchNorm2d(3, momentum=None))
    with pytest.raises(InvalidArgumentError, match=r"module.0 is a MaxPool1d, which has no counterpart"):
        from_torch(torch.nn.Sequential(torch.nn.MaxPool1d(2)))


# ---- ONNX ------------------------------------------------------------------------------------------------------------
def ort_run(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def test_to_onnx_of_the_conv_layers_matches_the_model_in_eval_mode(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Unflatten(1, (2, 9, 9)), conv_zoo(np.float32), nn.Softmax(dim=1))
    model.train()
    for seed in range(3):
        model(nb.tensor(images(np.float32, n=16, seed=seed).reshape(16, -1)))  # running statistics to export
    path = to_onnx(model, tmp_path / "zoo.onnx", (162,))
    x = images(np.float32, n=7, seed=9).reshape(7, -1)
    got = ort_run(path, x)
    assert got.shape == (7, 3) and model.training  # its modes are left as they were
    compare(got, model.eval()(nb.tensor(x)).data, 1e-5, "onnx conv zoo")
    import onnx

    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    for op in ("Reshape", "Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten"):
        assert op in ops, op


def test_to_onnx_of_a_cnn_takes_flat_rows_or_images(tmp_path):
    pytest.importorskip("onnx")
    cnn = nn.CNN((1, 12, 12), channels=[4, 8], hidden=[16], out=5, batchnorm=True, dropout=0.3, seed=0)
    cnn.train()(nb.tensor(images(np.float32, n=16, shape=(144,), seed=1)))
    x = images(np.float32, n=5, shape=(1, 12, 12), seed=2)
    expected = cnn.eval()(nb.tensor(x)).data
    compare(ort_run(to_onnx(cnn, tmp_path / "rows.onnx", (144,)), x.reshape(5, -1)), expected, 1e-5, "onnx cnn rows")
    compare(ort_run(to_onnx(cnn, tmp_path / "img.onnx", (1, 12, 12)), x), expected, 1e-5, "onnx cnn images")


def test_to_onnx_refuses_what_onnx_pooling_cannot_express(tmp_path):
    pytest.importorskip("onnx")
    cases = [(nn.AdaptiveAvgPool2d(4), r"AdaptiveAvgPool2d from 9x9 to 4x4, whose windows differ in size"),
             (nn.MaxPool2d(2, return_indices=True), r"return_indices=True"),
             (nn.AvgPool2d(2, divisor_override=3), r"divisor_override=3"),
             # PyTorch's last window on 9 + 2 pixels with kernel 2, stride 2 would start in the padding: dropped
             (nn.MaxPool2d(2, padding=1, ceil_mode=True), r"ceil_mode=True\) on 9x9 inputs.*\(5x5 outputs\) but "
                                                          r"ONNX's pooling keeps it \(6x6\)")]
    for layer, message in cases:
        with pytest.raises(InvalidValueError, match=message):
            to_onnx(nn.Sequential(nn.Conv2d(2, 2, 1), layer), tmp_path / "x.onnx", (2, 9, 9))
    with pytest.raises(InvalidValueError, match=r"BatchNorm2d\(track_running_stats=False\)"):
        to_onnx(nn.Sequential(nn.BatchNorm2d(2, track_running_stats=False)), tmp_path / "x.onnx", (2, 9, 9))
    assert not list(tmp_path.iterdir())
