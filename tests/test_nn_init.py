"""Tests of nnblocks.nn.init: seeded reproducibility, the distributions' supports and standard deviations (with
tolerances derived from the sample size), PyTorch's gains and fan conventions.

Tolerance of an empirical std: for n draws from a distribution with kurtosis k, the sample std has relative standard
error sqrt((k - 1) / (4 n)) (k = 1.8 for a uniform, 3 for a normal). The tests allow 6 standard errors, so a correct
implementation fails with probability ~1e-9, and a wrong formula (a factor sqrt(2) or sqrt(3) off) always fails.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from nnblocks import Tensor
from nnblocks.nn import Parameter, init

OUT, IN = 300, 500  # 150,000 draws
N = OUT * IN
KURTOSIS = {"uniform": 1.8, "normal": 3.0}


def weight(dtype=np.float32, shape=(OUT, IN)) -> Parameter:
    return Parameter(np.empty(shape, dtype=dtype))


def assert_std(values: np.ndarray, expected: float, family: str) -> None:
    values = values.astype(np.float64)
    rel_tol = 6 * math.sqrt((KURTOSIS[family] - 1) / (4 * values.size))
    assert abs(values.std() / expected - 1) < rel_tol, (values.std(), expected, rel_tol)
    assert abs(values.mean()) < 6 * expected / math.sqrt(values.size)


def assert_uniform_support(values: np.ndarray, bound: float) -> None:
    assert values.min() >= -bound and values.max() <= bound
    # P(no draw in the outer 0.1% on one side) = (1 - 5e-4)^150000 ~ e^-75
    assert values.min() < -0.999 * bound and values.max() > 0.999 * bound


# (name, call, distribution family, expected std, uniform bound or None); fan_in = 500, fan_out = 300
CASES = [
    ("uniform_", lambda t, s: init.uniform_(t, -0.3, 0.3, seed=s), "uniform", 0.3 / math.sqrt(3), 0.3),
    ("normal_", lambda t, s: init.normal_(t, 0.0, 0.02, seed=s), "normal", 0.02, None),
    ("xavier_uniform_", lambda t, s: init.xavier_uniform_(t, seed=s), "uniform",
     math.sqrt(2 / (IN + OUT)), math.sqrt(6 / (IN + OUT))),
    ("xavier_uniform_(gain=tanh)", lambda t, s: init.xavier_uniform_(t, gain=init.calculate_gain("tanh"), seed=s),
     "uniform", 5 / 3 * math.sqrt(2 / (IN + OUT)), 5 / 3 * math.sqrt(6 / (IN + OUT))),
    ("xavier_normal_", lambda t, s: init.xavier_normal_(t, seed=s), "normal", math.sqrt(2 / (IN + OUT)), None),
    ("glorot_uniform_", lambda t, s: init.glorot_uniform_(t, seed=s), "uniform",
     math.sqrt(2 / (IN + OUT)), math.sqrt(6 / (IN + OUT))),
    ("glorot_normal_", lambda t, s: init.glorot_normal_(t, seed=s), "normal", math.sqrt(2 / (IN + OUT)), None),
    ("kaiming_uniform_(relu)", lambda t, s: init.kaiming_uniform_(t, nonlinearity="relu", seed=s), "uniform",
     math.sqrt(2 / IN), math.sqrt(6 / IN)),
    ("kaiming_uniform_(fan_out)", lambda t, s: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu", seed=s),
     "uniform", math.sqrt(2 / OUT), math.sqrt(6 / OUT)),
    ("kaiming_uniform_(a=sqrt5)", lambda t, s: init.kaiming_uniform_(t, a=math.sqrt(5), seed=s), "uniform",
     1 / math.sqrt(3 * IN), 1 / math.sqrt(IN)),  # PyTorch's Linear default: bound 1/sqrt(fan_in)
    ("kaiming_normal_(relu)", lambda t, s: init.kaiming_normal_(t, nonlinearity="relu", seed=s), "normal",
     math.sqrt(2 / IN), None),
    ("kaiming_normal_(fan_out)", lambda t, s: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", seed=s),
     "normal", math.sqrt(2 / OUT), None),
    ("he_uniform_", lambda t, s: init.he_uniform_(t, nonlinearity="relu", seed=s), "uniform",
     math.sqrt(2 / IN), math.sqrt(6 / IN)),
    ("he_normal_", lambda t, s: init.he_normal_(t, nonlinearity="relu", seed=s), "normal", math.sqrt(2 / IN), None),
]


@pytest.mark.parametrize("name, fill, family, std, bound", CASES, ids=[c[0] for c in CASES])
def test_distribution_std_and_support(name, fill, family, std, bound):
    t = weight()
    assert fill(t, 0) is t  # in place, returns its argument
    assert t.dtype == np.float32 and t.requires_grad
    assert_std(t.data, std, family)
    if bound is not None:
        assert_uniform_support(t.data.astype(np.float64), bound)


@pytest.mark.parametrize("name, fill", [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_seed_reproducibility(name, fill):
    a, b, c = (weight(shape=(20, 30)) for _ in range(3))
    fill(a, 11)
    fill(b, 11)
    fill(c, 12)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    g = np.random.default_rng(11)  # a Generator: consumed, so two fills differ
    fill(b, g)
    np.testing.assert_array_equal(a.data, b.data)  # same stream as seed 11
    fill(c, g)
    assert not np.array_equal(b.data, c.data)


def test_float64_weights_keep_their_dtype():
    t = init.xavier_normal_(weight(np.float64, (40, 50)), seed=0)
    assert t.dtype == np.float64
    assert len(np.unique(t.data)) == t.numel()


def test_fans_of_a_convolution_shaped_weight_use_the_receptive_field():
    t = weight(shape=(64, 32, 3, 3))  # fan_in = 32*9 = 288, fan_out = 64*9 = 576
    init.xavier_uniform_(t, seed=1)
    assert_uniform_support(t.data.astype(np.float64), math.sqrt(6 / (288 + 576)))
    init.kaiming_normal_(t, nonlinearity="relu", seed=2)
    assert_std(t.data, math.sqrt(2 / 288), "normal")


def test_constant_zeros_ones():
    t = weight(shape=(3, 4))
    assert init.zeros_(t) is t and np.all(t.data == 0)
    assert init.ones_(t) is t and np.all(t.data == 1)
    assert init.constant_(t, -0.25) is t and np.all(t.data == -0.25)
    assert t.dtype == np.float32
    b = Tensor(np.empty(5, dtype=np.float32))  # 1-D tensors are fine here (no fans needed)
    init.constant_(b, 2.0)
    assert np.all(b.data == 2)


def test_errors():
    with pytest.raises(ValueError, match=r"\(5,\)"):
        init.xavier_uniform_(Parameter(np.empty(5, dtype=np.float32)))
    with pytest.raises(ValueError, match="fan_inn"):
        init.kaiming_uniform_(weight(shape=(3, 4)), mode="fan_inn")
    with pytest.raises(ValueError, match="'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(TypeError, match="seed"):
        init.uniform_(weight(shape=(2, 2)), seed="0")


def test_calculate_gain_hand_values():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75


GAINS = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
         ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


TORCH_INITS = [
    ("xavier_uniform_", {}), ("xavier_normal_", {}), ("kaiming_uniform_", {"nonlinearity": "relu"}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"a": 0.1}),
]


@pytest.mark.parametrize("name, kwargs", TORCH_INITS)
def test_same_distribution_as_torch(name, kwargs):
    """torch's init on the same shape: both empirical stds within tolerance of the same formula, and (uniform) the same
    support, so the two libraries implement the same distribution (they cannot share a random stream)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours = getattr(init, name)(weight(np.float64), seed=3, **kwargs).data
    theirs = getattr(torch.nn.init, name)(torch.empty(OUT, IN, dtype=torch.float64), **kwargs).numpy()
    family = "uniform" if "uniform" in name else "normal"
    rel_tol = 6 * math.sqrt((KURTOSIS[family] - 1) / (4 * N))
    assert abs(ours.std() / theirs.std() - 1) < 2 * rel_tol
    if family == "uniform":
        assert abs(np.abs(ours).max() / np.abs(theirs).max() - 1) < 1e-3
