"""The chapter-4 layers and the CNN builder: PyTorch's shapes, defaults, initialisation and reprs, state_dicts that
move both ways, BatchNorm2d's running statistics, Dropout2d's channel masks, and the book's network end to end against
PyTorch (forward, gradients and an SGD step; float64 <= 1e-10, float32 <= 1e-4, relative to each array's scale)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conv_cases import close

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.errors import InvalidValueError, ShapeError


def _torch():
    return pytest.importorskip("torch")


def _to_torch(state: dict) -> dict:
    torch = _torch()
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


# ---- Conv2d -----------------------------------------------------------------------------------------------------------
def test_conv2d_shapes_and_pytorch_initialisation():
    conv = nn.Conv2d(6, 64, (3, 5), groups=2, seed=0)
    assert conv.weight.shape == (64, 3, 3, 5) and conv.bias.shape == (64,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(3 * 3 * 5)  # fan_in = in_channels / groups * kH * kW
    for p in (conv.weight, conv.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
    assert abs(conv.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform: std = bound / sqrt(3)
    np.testing.assert_array_equal(nn.Conv2d(6, 64, (3, 5), groups=2, seed=0).weight.data, conv.weight.data)
    assert nn.Conv2d(1, 4, 3, bias=False).bias is None
    assert list(nn.Conv2d(1, 4, 3).state_dict()) == ["weight", "bias"]


def test_layer_reprs_are_pytorchs():
    torch = _torch()
    pairs = [(nn.Conv2d(1, 64, 3), torch.nn.Conv2d(1, 64, 3)),
             (nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False),
              torch.nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False)),
             (nn.Conv2d(4, 8, 3, padding="same", groups=2), torch.nn.Conv2d(4, 8, 3, padding="same", groups=2)),
             (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)), (nn.MaxPool2d((2, 3), 1, 1), torch.nn.MaxPool2d((2, 3), 1, 1)),
             (nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1)), (nn.AdaptiveAvgPool2d((5, 7)),
                                                                     torch.nn.AdaptiveAvgPool2d((5, 7))),
             (nn.Unflatten(1, (1, 28, 28)), torch.nn.Unflatten(1, (1, 28, 28)))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_conv2d_state_dict_moves_both_ways_with_pytorch():
    torch = _torch()
    ours = nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, seed=1)
    theirs = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    theirs.load_state_dict(_to_torch(ours.state_dict()))
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7))
    close(ours(nb.Tensor(x)), theirs(torch.from_numpy(x)), "Conv2d after loading ours into torch")
    fresh = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    ours.load_state_dict({k: v for k, v in fresh.state_dict().items()})
    close(ours(nb.Tensor(x)), fresh(torch.from_numpy(x)), "Conv2d after loading torch's into ours")


def test_conv2d_constructor_errors():
    with pytest.raises(InvalidValueError, match="divisible by groups 2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(InvalidValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(InvalidValueError, match="padding_mode 'reflect' is not implemented"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(InvalidValueError, match="in_channels must be a whole number"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ShapeError, match="expected 3 input channels"):
        nn.Conv2d(3, 4, 3)(nb.Tensor(np.ones((1, 1, 8, 8), np.float32)))


# ---- BatchNorm2d, Dropout2d, Unflatten -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm2d_matches_pytorch_in_training_and_eval(dtype):
    torch = _torch()
    rng = np.random.default_rng(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2, dtype=dtype), torch.nn.BatchNorm2d(3, momentum=0.2)
    ours.weight.data[...] = rng.uniform(0.5, 2, 3)
    ours.bias.data[...] = rng.standard_normal(3)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32).load_state_dict(_to_torch(ours.state_dict()))
    for step in range(3):  # the running statistics follow the batches the same way
        x = (rng.standard_normal((4, 3, 5, 6)) * 3 + 1).astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)
        xo, xt = nb.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out_o, out_t = ours(xo), theirs(xt)
        out_o.backward(g)
        out_t.backward(torch.from_numpy(g))
        close(out_o, out_t, f"BatchNorm2d step {step} forward")
        close(xo.grad, xt.grad, f"BatchNorm2d step {step} dL/dx")
        close(ours.weight.grad, theirs.weight.grad, "BatchNorm2d dL/dgamma")
        close(ours.bias.grad, theirs.bias.grad, "BatchNorm2d dL/dbeta")
        ours.zero_grad()
        theirs.zero_grad()
    for name in ("running_mean", "running_var"):
        close(ours.state_dict()[name], theirs.state_dict()[name], f"BatchNorm2d {name}")
    assert int(ours.state_dict()["num_batches_tracked"]) == 3
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    close(ours(nb.Tensor(x)), theirs(torch.from_numpy(x)), "BatchNorm2d eval")


def test_batchnorm_shapes_and_errors():
    torch = _torch()
    x = np.random.default_rng(1).standard_normal((4, 3, 7))  # BatchNorm1d takes (N, C, L) too, as PyTorch
    close(nn.BatchNorm1d(3, dtype=np.float64)(nb.Tensor(x)), torch.nn.BatchNorm1d(3).double()(torch.from_numpy(x)),
          "BatchNorm1d (N, C, L)")
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\), got \(4, 3, 7\)"):
        nn.BatchNorm2d(3)(nb.Tensor(x))
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(3\): expected input of shape \(N, 3\) or \(N, 3, L\)"):
        nn.BatchNorm1d(3)(nb.Tensor(np.ones((2, 3, 4, 4))))
    with pytest.raises(ShapeError, match="more than one value per channel"):
        nn.BatchNorm2d(3)(nb.Tensor(np.ones((1, 3, 1, 1))))
    assert nn.BatchNorm2d(3)(nb.Tensor(np.ones((1, 3, 2, 1), np.float32))).shape == (1, 3, 2, 1)  # 2 values: fine


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    x = nb.Tensor(np.ones((50, 8, 3, 3), np.float32))
    out = nn.Dropout2d(0.25, seed=0)(x).data
    per_channel = out.reshape(50, 8, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # a channel is kept or dropped whole
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert 0.15 < np.mean(out == 0) < 0.35 and out.dtype == np.float32
    drop = nn.Dropout2d(0.5).eval()
    assert drop(x) is x
    assert nn.Dropout2d(0.0)(x) is x and not nn.Dropout2d(1.0)(x).data.any()
    with pytest.raises(ShapeError, match=r"dropout2d: expected images of shape \(N, C, H, W\), got \(8, 3, 3\)"):
        nn.Dropout2d(0.5)(nb.Tensor(np.ones((8, 3, 3))))
    with pytest.raises(InvalidValueError, match="Dropout2d: p must be a probability"):
        nn.Dropout2d(1.5)


def test_unflatten_turns_rows_into_images():
    assert nn.Unflatten(1, (1, 28, 28))(nb.Tensor(np.ones((5, 784)))).shape == (5, 1, 28, 28)
    assert nn.Unflatten(-1, (2, 3))(nb.Tensor(np.ones((4, 5, 6)))).shape == (4, 5, 2, 3)


# ---- the book's network ---------------------------------------------------------------------------------------------
def _book_network(torch):
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 64, 3), t.MaxPool2d(2), t.ReLU(), t.Conv2d(64, 128, 3), t.MaxPool2d(2), t.ReLU(),
                        t.Flatten(), t.Linear(3200, 256), t.ReLU(), t.Linear(256, 10))


def test_cnn_builds_the_books_network_layer_for_layer():
    torch = _torch()
    ours, theirs = nn.CNN((1, 28, 28), channels=[64, 128], hidden=[256], out=10), _book_network(torch)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert [repr(m) for m in ours] == [repr(m) for m in theirs]
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters()) == 896_522


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cnn_trains_like_pytorch(dtype):
    # the same weights (PyTorch's, loaded into ours), the same batch: the same loss, gradients and weights after SGD
    torch = _torch()
    torch.manual_seed(0)
    theirs = _book_network(torch).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.CNN((1, 28, 28), dtype=dtype)
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 1, 28, 28)).astype(dtype), rng.integers(0, 10, 6)
    opt_o, opt_t = optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    for step in range(2):
        loss_o = nn.CrossEntropyLoss()(ours(nb.Tensor(x)), nb.Tensor(y))
        loss_t = torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        close(loss_o, loss_t, f"CNN step {step} loss")
        loss_o.backward()
        loss_t.backward()
        named = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            close(p.grad, named[name].grad, f"CNN step {step} dL/d{name}")
        opt_o.step()
        opt_t.step()
        opt_o.zero_grad()
        opt_t.zero_grad()
    for name, p in ours.named_parameters():
        close(p, dict(theirs.named_parameters())[name], f"CNN {name} after two SGD steps")


def test_cnn_takes_flat_rows_options_and_says_when_the_image_is_too_small():
    model = nn.CNN((8, 8), channels=[4], hidden=[], out=3, padding="same", batchnorm=True, seed=0)
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU", "Flatten", "Linear"]
    assert model[-1].in_features == 4 * 4 * 4  # "same" keeps 8x8, the pool halves it
    flat = np.random.default_rng(0).random((5, 64), np.float32)
    np.testing.assert_array_equal(model(nb.Tensor(flat)).data, model(nb.Tensor(flat.reshape(5, 1, 8, 8))).data)
    assert nn.CNN((1, 8, 8), channels=[2, 2], pool=1, hidden=[5], out=2)[-3].in_features == 2 * 4 * 4
    dropped = nn.CNN((1, 8, 8), channels=[2], hidden=[5], out=2, dropout=0.25, seed=0)
    assert [type(m).__name__ for m in dropped][-5:] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    np.testing.assert_array_equal(dropped[-4].weight.data,  # the same weights as without dropout
                                  nn.CNN((1, 8, 8), channels=[2], hidden=[5], out=2, seed=0)[-3].weight.data)
    assert nn.CNN((1, 28, 28), channels=[4, 4, 4])[-3].in_features == 4  # 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1
    with pytest.raises(ShapeError, match="CNN: block 4 gets a 1x1 image, too small for its 3x3 convolution"):
        nn.CNN((1, 28, 28), channels=[4, 4, 4, 4])
    with pytest.raises(ShapeError, match="CNN: block 1 gets a 3x3 image, too small for its 3x3 convolution and 2x2"):
        nn.CNN((1, 3, 3), channels=[4])
    with pytest.raises(InvalidValueError, match=r"input_shape must be \(C, H, W\) or \(H, W\)"):
        nn.CNN((28,))
