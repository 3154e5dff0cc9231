"""PyTorch parity of nnblocks.nn: the same layers, models and losses, with the same weights, give the same outputs and
the same gradients (w.r.t. the input and every parameter) as torch, to 1e-6 relative in float64 and 1e-4 in
float32; state dicts move both ways. Skipped cleanly when torch is not installed.

"Relative" is measured against the size of the compared array: |ours - torch| <= rtol * (|torch| + max|torch|), so a
gradient entry that is ~0 only because of cancellation is not held to a relative precision no float can give.
Set NNBLOCKS_PARITY_REPORT=1 to print the largest error measured per dtype.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest

from nnblocks import Tensor
from nnblocks import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

RTOL = {np.float64: 1e-6, np.float32: 1e-4}
DTYPES = [np.float64, np.float32]
_worst: dict[str, tuple[float, str]] = {}


@pytest.fixture(scope="module", autouse=True)
def _parity_report():
    yield
    if os.environ.get("NNBLOCKS_PARITY_REPORT"):
        for dt, (err, where) in sorted(_worst.items()):
            print(f"\nlargest parity error {dt}: {err:.3e} ({where})")


def close(ours, theirs, dtype, what: str) -> None:
    """Assert ours == theirs within RTOL[dtype] relative to each element and to the array's scale; record the error."""
    ours = np.asarray(ours.data if isinstance(ours, Tensor) else ours, dtype=np.float64)
    theirs = (theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)).astype(np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    scale = float(np.abs(theirs).max()) if theirs.size else 0.0
    err = np.abs(ours - theirs) / (np.abs(theirs) + scale + 1e-300)
    worst = float(err.max()) if err.size else 0.0
    key = np.dtype(dtype).name
    if worst > _worst.get(key, (-1.0, ""))[0]:
        _worst[key] = (worst, what)
    assert worst <= RTOL[dtype], f"{what} ({key}): relative error {worst:.3e} > {RTOL[dtype]:g}"


def tdtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def to_torch_state(state: dict) -> dict:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def from_torch_state(state: dict) -> dict:
    return {k: v.detach().numpy() for k, v in state.items()}


def paired(build, dtype, seed: int = 0):
    """The same architecture in both libraries (``build(lib)`` with lib = nnblocks.nn or torch.nn), in ``dtype``, with
    nnblocks' weights copied into torch through its state_dict (so this also tests nnblocks -> torch loading)."""
    from nnblocks.random import manual_seed

    manual_seed(seed)
    ours, theirs = build(nn), build(tnn)
    ours = ours.double() if dtype == np.float64 else ours.float()
    theirs = theirs.double() if dtype == np.float64 else theirs.float()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(to_torch_state(ours.state_dict()))
    return ours, theirs


def forward_backward(ours, theirs, x: np.ndarray, dtype, what: str, seed: int = 0, zero: tuple = ()) -> None:
    """Run both on x, backpropagate the same random upstream gradient, compare output, dL/dx and every dL/dparam.

    ``zero`` names parameters whose gradient is analytically zero (a bias followed by an op that removes a shift
    along the batch axis: batch norm, softmax over dim 0): both libraries must give ~0 there, rounding noise only,
    measured against the size of the same layer's weight gradient."""
    x_ours = Tensor(x.astype(dtype), requires_grad=True)
    x_theirs = torch.tensor(x.astype(dtype), requires_grad=True)
    out, out_t = ours(x_ours), theirs(x_theirs)
    assert out.dtype == dtype
    close(out, out_t, dtype, f"{what}: output")
    v = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(gradient=v)
    out_t.backward(torch.from_numpy(v))
    close(x_ours.grad, x_theirs.grad, dtype, f"{what}: dL/dx")
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        if name in zero:
            weight_scale = np.abs(ours_params[name.replace("bias", "weight")].grad).max()
            for g in (p.grad, theirs_params[name].grad.numpy()):
                assert np.abs(g).max() <= RTOL[dtype] * weight_scale, f"{what}: dL/d{name} should be ~0, got {g}"
            continue
        close(p.grad, theirs_params[name].grad, dtype, f"{what}: dL/d{name}")


# ---- layers and models ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dtype, bias):
    ours, theirs = paired(lambda lib: lib.Linear(7, 5, bias=bias), dtype)
    x = np.random.default_rng(1).standard_normal((6, 7))
    forward_backward(ours, theirs, x, dtype, f"Linear(bias={bias})")


ACTIVATIONS = {
    "ReLU": lambda lib: lib.ReLU(),
    "Sigmoid": lambda lib: lib.Sigmoid(),
    "Tanh": lambda lib: lib.Tanh(),
    "LeakyReLU": lambda lib: lib.LeakyReLU(0.2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_mlp_784_32_10(dtype, act):
    a = ACTIVATIONS[act]
    build = lambda lib: lib.Sequential(lib.Linear(784, 32), a(lib), lib.Linear(32, 16), a(lib), lib.Linear(16, 10))
    ours, theirs = paired(build, dtype, seed=3)
    x = np.random.default_rng(2).standard_normal((16, 784))
    forward_backward(ours, theirs, x, dtype, f"MLP({act})")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [1, 0])
def test_softmax_modules(dtype, cls, dim):
    build = lambda lib: lib.Sequential(lib.Linear(5, 4), getattr(lib, cls)(dim=dim))
    ours, theirs = paired(build, dtype, seed=4)
    x = np.random.default_rng(3).standard_normal((6, 5)) * 3
    forward_backward(ours, theirs, x, dtype, f"{cls}(dim={dim})", zero=("0.bias",) if dim == 0 else ())


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_then_linear(dtype):
    ours, theirs = paired(lambda lib: lib.Sequential(lib.Flatten(), lib.Linear(20, 3)), dtype, seed=5)
    x = np.random.default_rng(4).standard_normal((8, 4, 5))
    forward_backward(ours, theirs, x, dtype, "Flatten")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm1d_train_steps_then_eval(dtype, momentum):
    build = lambda lib: lib.Sequential(lib.Linear(6, 5), lib.BatchNorm1d(5, momentum=momentum), lib.ReLU(),
                                       lib.Linear(5, 3))
    ours, theirs = paired(build, dtype, seed=6)
    rng = np.random.default_rng(5)
    # non-trivial affine parameters, set in both
    ours[1].weight.data[:] = rng.uniform(0.5, 2.0, 5)
    ours[1].bias.data[:] = rng.standard_normal(5)
    theirs.load_state_dict(to_torch_state(ours.state_dict()))
    for step in range(4):
        ours.zero_grad()
        theirs.zero_grad()
        x = rng.standard_normal((12, 6)) * (step + 1) + step
        forward_backward(ours, theirs, x, dtype, f"BatchNorm1d train step {step}", seed=step, zero=("0.bias",))
        close(ours[1].running_mean, theirs[1].running_mean, dtype, "running_mean")
        close(ours[1].running_var, theirs[1].running_var, dtype, "running_var")
        assert int(ours[1].num_batches_tracked) == int(theirs[1].num_batches_tracked) == step + 1
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    forward_backward(ours, theirs, rng.standard_normal((5, 6)), dtype, "BatchNorm1d eval")
    assert int(ours[1].num_batches_tracked) == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm1d_without_affine(dtype):
    ours, theirs = paired(lambda lib: lib.Sequential(lib.Linear(4, 3), lib.BatchNorm1d(3, affine=False)), dtype, 7)
    rng = np.random.default_rng(6)
    for step in range(2):
        forward_backward(ours, theirs, rng.standard_normal((9, 4)), dtype, f"BatchNorm1d(affine=False) {step}",
                         zero=("0.bias",))
    close(ours[1].running_var, theirs[1].running_var, dtype, "running_var (affine=False)")


def test_dropout_identity_cases_and_scale_match_torch():
    x = np.random.default_rng(7).standard_normal((40, 50)).astype(np.float32)
    for p in (0.0, 0.5):
        d, dt = nn.Dropout(p, seed=0), tnn.Dropout(p)
        if p:
            d.eval()
            dt.eval()
        np.testing.assert_array_equal(d(Tensor(x)).data, dt(torch.from_numpy(x)).numpy())
    # in training the masks differ (different generators) but a survivor is scaled by the same float32 factor
    ones = np.ones((200, 200), dtype=np.float32)
    ours = nn.Dropout(0.3, seed=1)(Tensor(ones)).data
    theirs = tnn.Dropout(0.3)(torch.from_numpy(ones)).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, np.float32(1 / 0.7)}


# ---- losses --------------------------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


def loss_case(name: str, rng: np.random.Generator):
    """(input, target, nnblocks loss kwargs, torch loss kwargs) for a named case; extreme values included."""
    n, c = 6, 4
    if name in ("MSELoss", "L1Loss"):
        return rng.standard_normal((n, 3)), rng.standard_normal((n, 3)), {}
    if name == "BCELoss":
        p = rng.uniform(0.05, 0.95, (n, 2))
        p[0] = [0.0, 1.0]  # exactly 0 and 1: logs clamped at -100 as in torch
        p[1] = [0.0, 1.0]
        y = rng.uniform(0, 1, (n, 2))
        y[0], y[1] = [0.0, 1.0], [1.0, 0.0]  # right and confidently wrong
        return p, y, {}
    if name == "BCEWithLogitsLoss":
        x = rng.standard_normal((n, 2)) * 3
        x[0], x[1] = [100.0, -100.0], [-100.0, 100.0]
        y = rng.uniform(0, 1, (n, 2))
        y[0], y[1] = [1.0, 0.0], [1.0, 0.0]
        return x, y, {}
    logits = rng.standard_normal((n, c)) * 2
    labels = rng.integers(0, c, n)
    labels[:c] = np.arange(c)  # every class present
    weight = rng.uniform(0.2, 3.0, c)
    if name == "CrossEntropyLoss":
        return logits, labels, {}
    if name == "CrossEntropyLoss(weight)":
        return logits, labels, {"weight": weight}
    if name == "CrossEntropyLoss(probabilities)":
        probs = rng.dirichlet(np.ones(c), n)
        return logits, probs, {}
    if name == "CrossEntropyLoss(probabilities, weight)":
        return logits, rng.dirichlet(np.ones(c), n), {"weight": weight}
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    if name == "NLLLoss":
        return log_probs, labels, {}
    if name == "NLLLoss(weight)":
        return log_probs, labels, {"weight": weight}
    raise KeyError(name)


LOSSES = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "CrossEntropyLoss(weight)",
          "CrossEntropyLoss(probabilities)", "CrossEntropyLoss(probabilities, weight)", "NLLLoss", "NLLLoss(weight)"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_loss(name, reduction, dtype):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    x, target, kwargs = loss_case(name, rng)
    cls = name.split("(")[0]
    ours_kwargs = {k: v.astype(dtype) for k, v in kwargs.items()}
    theirs_kwargs = {k: torch.from_numpy(v.astype(dtype)) for k, v in kwargs.items()}
    ours_fn = getattr(nn, cls)(reduction=reduction, **ours_kwargs)
    theirs_fn = getattr(tnn, cls)(reduction=reduction, **theirs_kwargs)
    if target.dtype.kind == "f":
        t_ours, t_theirs = Tensor(target.astype(dtype)), torch.from_numpy(target.astype(dtype))
    else:
        t_ours, t_theirs = target.astype(np.int64), torch.from_numpy(target.astype(np.int64))
    x_ours = Tensor(x.astype(dtype), requires_grad=True)
    x_theirs = torch.tensor(x.astype(dtype), requires_grad=True)
    loss, loss_t = ours_fn(x_ours, t_ours), theirs_fn(x_theirs, t_theirs)
    assert loss.dtype == dtype and loss.shape == tuple(loss_t.shape)
    close(loss, loss_t, dtype, f"{name} {reduction}: loss")
    assert np.all(np.isfinite(loss.data))
    v = np.random.default_rng(0).standard_normal(loss.shape).astype(dtype)
    loss.backward(gradient=v)
    loss_t.backward(torch.from_numpy(v))
    close(x_ours.grad, x_theirs.grad, dtype, f"{name} {reduction}: dL/dinput")


# ---- state dicts both ways -----------------------------------------------------------------------------------------
def bn_model(lib):
    return lib.Sequential(lib.Linear(5, 8), lib.BatchNorm1d(8), lib.ReLU(), lib.Linear(8, 3))


def test_torch_state_dict_loads_into_nnblocks():
    torch.manual_seed(0)
    theirs = bn_model(tnn)
    rng = np.random.default_rng(8)
    with torch.no_grad():
        for _ in range(3):  # train-mode passes move the running statistics away from 0 and 1
            theirs(torch.from_numpy(rng.standard_normal((10, 5)).astype(np.float32)))
    ours = bn_model(nn)
    missing, unexpected = ours.load_state_dict(from_torch_state(theirs.state_dict()))  # strict
    assert missing == [] and unexpected == []
    assert int(ours[1].num_batches_tracked) == 3
    x = rng.standard_normal((7, 5)).astype(np.float32)
    for mode in ("eval", "train"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        with torch.no_grad():
            expected = theirs(torch.from_numpy(x))
        close(ours(Tensor(x)), expected, np.float32, f"torch state_dict -> nnblocks ({mode})")
    close(ours[1].running_mean, theirs[1].running_mean, np.float32, "running_mean after loading")


def test_nnblocks_state_dict_loads_into_torch():
    ours = bn_model(nn)
    rng = np.random.default_rng(9)
    for _ in range(3):
        ours(Tensor(rng.standard_normal((10, 5)).astype(np.float32)))
    ours.eval()
    theirs = bn_model(tnn)
    result = theirs.load_state_dict(to_torch_state(ours.state_dict()))  # strict
    assert not result.missing_keys and not result.unexpected_keys
    theirs.eval()
    x = rng.standard_normal((7, 5)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))
    close(ours(Tensor(x)), expected, np.float32, "nnblocks state_dict -> torch (eval)")
    assert int(theirs[1].num_batches_tracked) == 3


def test_custom_module_state_dict_keys_and_order_match_torch():
    def make(lib, base):
        class Net(base):
            def __init__(self):
                super().__init__()
                self.encoder = lib.Sequential(OrderedDict([("fc", lib.Linear(3, 4)), ("act", lib.Tanh())]))
                self.offset = (nn.Parameter if lib is nn else tnn.Parameter)(
                    np.zeros(2, np.float32) if lib is nn else torch.zeros(2))
                self.head = lib.Linear(4, 2)
                self.norm = lib.BatchNorm1d(2)

        return Net()

    assert list(make(nn, nn.Module).state_dict()) == list(make(tnn, tnn.Module).state_dict())


def test_shared_layer_state_dict_matches_torch():
    torch.manual_seed(1)
    shared_t = tnn.Linear(3, 3)
    theirs = tnn.Sequential(shared_t, tnn.Tanh(), shared_t)
    ours = nn.Sequential(*(lambda lin: (lin, nn.Tanh(), lin))(nn.Linear(3, 3)))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(from_torch_state(theirs.state_dict()))  # strict: no unexpected '2.weight'
    x = np.random.default_rng(10).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        close(ours(Tensor(x)), theirs(torch.from_numpy(x)), np.float32, "shared layer")


def test_repr_matches_torch():
    build = lambda lib: lib.Sequential(lib.Flatten(), lib.Linear(20, 8), lib.BatchNorm1d(8), lib.LeakyReLU(0.2),
                                       lib.Linear(8, 4, bias=False), lib.Sigmoid(), lib.Tanh(), lib.ReLU(),
                                       lib.Softmax(dim=1), lib.LogSoftmax(dim=1))
    # recent torch also prints BatchNorm's own ``bias=`` flag (nnblocks has no such flag: affine covers both)
    assert repr(build(nn)) == repr(build(tnn)).replace("affine=True, bias=True,", "affine=True,")
    for cls in ("MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"):
        assert repr(getattr(nn, cls)()) == repr(getattr(tnn, cls)())


# ---- the chapter's 2-3-1 network trained by both ---------------------------------------------------------------------
CHAPTER_STATE = {
    "0.weight": np.array([[-0.0053, 0.3793], [-0.5820, -0.5204], [-0.2723, 0.1896]], dtype=np.float32),
    "0.bias": np.array([-0.0140, 0.5607, -0.0628], dtype=np.float32),
    "2.weight": np.array([[0.1528, -0.1745, -0.1135]], dtype=np.float32),
    "2.bias": np.array([-0.5516], dtype=np.float32),
}


def test_chapter_network_100_epochs_of_sgd_matches_torch():
    from nnblocks import optim
    build = lambda lib: lib.Sequential(lib.Linear(2, 3), lib.Sigmoid(), lib.Linear(3, 1))
    ours, theirs = build(nn), build(tnn)
    ours.load_state_dict(CHAPTER_STATE)
    theirs.load_state_dict(to_torch_state(CHAPTER_STATE))
    x, y = np.array([[1.0, 1.0]], dtype=np.float32), np.array([[0.0]], dtype=np.float32)
    opt = optim.SGD(ours.parameters(), lr=0.01)
    # torch's side: torch.optim.SGD's plain step, p.add_(grad, alpha=-lr), written out, because the first
    # torch.optim step imports torch._dynamo (~2 s on this machine) for nothing the test needs
    params_t = list(theirs.parameters())
    loss_fn, loss_fn_t = nn.MSELoss(), tnn.MSELoss()
    losses, losses_t = [], []
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(ours(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
        theirs.zero_grad()
        loss_t = loss_fn_t(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        loss_t.backward()
        with torch.no_grad():
            for p in params_t:
                p.add_(p.grad, alpha=-0.01)
        losses.append(loss.item())
        losses_t.append(loss_t.item())
    assert losses[0] == pytest.approx(0.33455008, abs=1e-6)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, losses_t, rtol=1e-5)
    for k, v in ours.state_dict().items():
        close(v, theirs.state_dict()[k], np.float32, f"chapter network after 100 epochs: {k}")
