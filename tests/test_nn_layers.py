"""Tests of nnblocks.nn layers: Linear's initialisation, Dropout, Flatten, BatchNorm1d (with finite-difference
gradient checks in float64), activations and loss modules' argument checks. PyTorch parity is in test_nn_torch.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nnblocks import ShapeError, Tensor, gradcheck
from nnblocks import fundamentals, nn, optim
from nnblocks.nn import functional as F
from nnblocks.random import manual_seed


# ---- Linear --------------------------------------------------------------------------------------------------------
def test_linear_shapes_and_forward_is_x_wt_plus_b():
    lin = nn.Linear(5, 3, seed=0)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-6, atol=1e-7)
    no_bias = nn.Linear(5, 3, bias=False, seed=0)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(Tensor(x)).data, x @ no_bias.weight.data.T, rtol=1e-6, atol=1e-7)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    fan_in, fan_out = 400, 2500  # 1e6 weights, 2500 biases
    lin = nn.Linear(fan_in, fan_out, seed=123)
    bound = 1 / math.sqrt(fan_in)
    w, b = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)
    # support: inside [-bound, bound] and reaching close to both ends (P(all 1e6 draws miss the top 0.1%) ~ e^-1000)
    assert w.min() >= -bound and w.max() <= bound
    assert w.min() < -0.999 * bound and w.max() > 0.999 * bound
    assert b.min() >= -bound and b.max() <= bound
    assert b.min() < -0.99 * bound and b.max() > 0.99 * bound  # P(miss) = 0.995^2500 ~ 4e-6
    # std of U(-a, a) is a / sqrt(3). Standard error of a sample std for a uniform: std * sqrt(0.2 / n)
    # (kurtosis 1.8 -> relative SE sqrt((1.8 - 1) / 4n)): 4.5e-4 relative for n = 1e6, 8.9e-3 for n = 2500.
    # Tolerances are ~6 standard errors.
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=3e-3)
    np.testing.assert_allclose(b.std(), bound / math.sqrt(3), rtol=6e-2)
    assert abs(w.mean()) < 6 * (bound / math.sqrt(3)) / math.sqrt(w.size)


def test_linear_seed_reproducibility():
    a, b, c = nn.Linear(6, 4, seed=7), nn.Linear(6, 4, seed=7), nn.Linear(6, 4, seed=8)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.any(a.weight.data == c.weight.data)
    # an explicit Generator is consumed: two layers from one generator differ, and the sequence is reproducible
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    l1, l2 = nn.Linear(6, 4, seed=g1), nn.Linear(6, 4, seed=g1)
    assert not np.array_equal(l1.weight.data, l2.weight.data)
    np.testing.assert_array_equal(nn.Linear(6, 4, seed=g2).weight.data, l1.weight.data)
    # without seed: the global generator, reset by manual_seed
    manual_seed(42)
    m1 = nn.Linear(6, 4)
    manual_seed(42)
    np.testing.assert_array_equal(nn.Linear(6, 4).weight.data, m1.weight.data)


def test_linear_float64_and_shape_error():
    lin = nn.Linear(3, 2, dtype=np.float64, seed=0)
    assert lin.weight.dtype == np.float64 and lin.bias.dtype == np.float64
    with pytest.raises(ShapeError):
        lin(Tensor(np.zeros((4, 5))))


def test_linear_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    lin = nn.Linear(4, 3, seed=0).double()
    x = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    report = gradcheck(lambda x, w, b: F.linear(x, w, b), (x, lin.weight, lin.bias))
    assert report.ok


# ---- Flatten, activations ------------------------------------------------------------------------------------------
def test_flatten_keeps_the_batch_axis():
    x = Tensor(np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5))
    out = nn.Flatten()(x)
    assert out.shape == (2, 20)
    np.testing.assert_array_equal(out.data, x.data.reshape(2, 20))
    assert nn.Flatten(0)(x).shape == (40,)
    assert nn.Flatten(1, 1)(x).shape == (2, 4, 5)


def test_activation_modules_hand_values():
    x = Tensor(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_allclose(nn.ReLU()(x).data, [[0, 0, 3]])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, [[-0.2, 0, 3]])
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-12)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-12)
    e = np.exp(x.data - 3)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).data, e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).data, np.log(e / e.sum()), rtol=1e-12)
    assert nn.Identity()(x) is x


# ---- Dropout -------------------------------------------------------------------------------------------------------
def test_dropout_identity_when_p_zero_or_eval():
    x = Tensor(np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32))
    np.testing.assert_array_equal(nn.Dropout(0.0, seed=0)(x).data, x.data)
    d = nn.Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(d(x).data, x.data)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).data, x.data)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_one_minus_p_and_scales_survivors(p):
    n = 1_000_000
    x = Tensor(np.ones((1000, 1000), dtype=np.float32), requires_grad=True)
    out = nn.Dropout(p, seed=1)(x)
    assert out.dtype == np.float32
    kept = out.data != 0
    # binomial fraction: standard error sqrt(p (1 - p) / n) <= 5e-4; tolerance 6 standard errors
    assert abs(kept.mean() - (1 - p)) < 6 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out.data[kept], 1 / (1 - p), rtol=1e-6)
    # backward: the gradient is the same mask scaled by 1/(1-p)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, kept / (1 - p), rtol=1e-6)


def test_dropout_seeded_masks_repeat_and_change_between_calls():
    x = Tensor(np.ones((20, 30), dtype=np.float32))
    d1, d2 = nn.Dropout(0.5, seed=9), nn.Dropout(0.5, seed=9)
    first = d1(x).data
    np.testing.assert_array_equal(first, d2(x).data)
    assert not np.array_equal(first, d1(x).data)  # the generator advances: a new mask each step
    np.testing.assert_array_equal(F.dropout(x, 0.5, seed=4).data, F.dropout(x, 0.5, seed=4).data)


def test_dropout_p_one_and_invalid_p():
    x = Tensor(np.ones((3, 3), dtype=np.float32))
    assert not nn.Dropout(1.0)(x).data.any()
    assert not F.dropout(x, 1.0).data.any()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p must be"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="p must be"):
            F.dropout(x, p)


# ---- BatchNorm1d ---------------------------------------------------------------------------------------------------
def test_batchnorm_train_normalises_and_updates_running_stats_by_hand():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((16, 3)) * [1.0, 5.0, 0.1] + [2.0, -1.0, 10.0])
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    y = bn(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)  # unbiased, as PyTorch
    assert int(bn.num_batches_tracked) == 1
    # eval: the running statistics, and affine weight/bias applied
    bn.weight.data[:] = [1.0, 2.0, 3.0]
    bn.bias.data[:] = [0.0, 0.5, -1.0]
    bn.eval()
    z = rng.standard_normal((4, 3))
    expected = (z - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) * [1, 2, 3] + [0, 0.5, -1]
    np.testing.assert_allclose(bn(Tensor(z)).data, expected, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1  # eval does not update statistics
    # in eval mode one sample's output does not depend on the rest of the batch
    np.testing.assert_allclose(bn(Tensor(z[:1])).data, expected[:1], rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_match_finite_differences(training):
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((6, 4)) * 2 + 1, requires_grad=True)
    w = Tensor(rng.standard_normal(4), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    # running statistics None: finite differences must not move them between evaluations
    fn = (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)) if training else \
        (lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=False))
    report = gradcheck(fn, (x, w, b), atol=1e-7, rtol=1e-5)
    assert report.ok, str(report)


def test_batchnorm_errors_name_the_shape():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ShapeError, match=r"\(1, 3\)"):
        bn(Tensor(np.zeros((1, 3), dtype=np.float32)))  # batch statistics of one sample
    with pytest.raises(ShapeError, match=r"\(4, 2\)"):
        bn(Tensor(np.zeros((4, 2), dtype=np.float32)))
    bn.eval()
    assert bn(Tensor(np.zeros((1, 3), dtype=np.float32))).shape == (1, 3)  # fine in eval mode


def test_batchnorm_without_affine_or_running_stats():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((10, 2)).astype(np.float32)
    bn = nn.BatchNorm1d(2, affine=False)
    assert bn.weight is None and bn.bias is None and list(bn.parameters()) == []
    assert list(bn.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_allclose(bn(Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-5, atol=1e-6)
    stateless = nn.BatchNorm1d(2, track_running_stats=False)
    assert list(stateless.state_dict()) == ["weight", "bias"]
    stateless.eval()  # no running statistics: batch statistics even in eval mode, as PyTorch
    np.testing.assert_allclose(stateless(Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5),
                               rtol=1e-5, atol=1e-6)


def test_batchnorm_float32_stays_float32():
    bn = nn.BatchNorm1d(3)
    out = bn(Tensor(np.random.default_rng(5).standard_normal((8, 3)).astype(np.float32)))
    assert out.dtype == np.float32 and bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32


# ---- losses --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss,
                                 nn.NLLLoss])
def test_loss_rejects_an_unknown_reduction(cls):
    with pytest.raises(ValueError, match="'average'"):
        cls(reduction="average")
    assert "reduction='sum'" in repr(cls(reduction="sum"))


def test_mse_loss_hand_value_and_target_shape_check():
    loss = nn.MSELoss()(Tensor(np.array([[1.0], [2.0]])), Tensor(np.array([[0.0], [4.0]])))
    assert loss.item() == pytest.approx((1 + 4) / 2)
    with pytest.raises(ShapeError):
        nn.MSELoss()(Tensor(np.zeros((2, 1))), Tensor(np.zeros(2)))


# ---- the chapter's 2-3-1 network -----------------------------------------------------------------------------------
# The chapter prints W1 one row per hidden unit, which is exactly Linear(2, 3).weight's (out, in) layout.
CHAPTER_STATE = {
    "0.weight": [[-0.0053, 0.3793], [-0.5820, -0.5204], [-0.2723, 0.1896]],
    "0.bias": [-0.0140, 0.5607, -0.0628],
    "2.weight": [[0.1528, -0.1745, -0.1135]],
    "2.bias": [-0.5516],
}


def chapter_network(dtype=np.float32) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 3, dtype=dtype), nn.Sigmoid(), nn.Linear(3, 1, dtype=dtype))
    model.load_state_dict({k: np.array(v) for k, v in CHAPTER_STATE.items()})
    return model


def chapter_loss(model: nn.Module, dtype=np.float32) -> Tensor:
    x, y = Tensor(np.array([[1.0, 1.0]], dtype=dtype)), Tensor(np.array([[0.0]], dtype=dtype))
    return nn.MSELoss()(model(x), y)


def test_chapter_network_initial_loss_and_gradients():
    model = chapter_network()
    loss = chapter_loss(model)
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx(0.33455008, abs=1e-6)
    loss.backward()
    np.testing.assert_allclose(model[2].bias.grad, [-1.1568], atol=5e-5)
    np.testing.assert_allclose(model[2].weight.grad, [[-0.6814, -0.4255, -0.5364]], atol=5e-5)
    # hand chain rule: dL/db2 = 2 (y_hat - y), dL/dW2 = hidden * dL/db2
    hidden = 1 / (1 + np.exp(-(np.array([1.0, 1.0]) @ np.array(CHAPTER_STATE["0.weight"]).T + CHAPTER_STATE["0.bias"])))
    y_hat = hidden @ np.array(CHAPTER_STATE["2.weight"][0]) + CHAPTER_STATE["2.bias"][0]
    np.testing.assert_allclose(model[2].bias.grad, [2 * y_hat], rtol=1e-5)
    np.testing.assert_allclose(model[2].weight.grad[0], 2 * y_hat * hidden, rtol=1e-5)


def test_chapter_network_engine_gradients_equal_the_hand_chain_rule_in_float64():
    x, y, weights = fundamentals.network_231("float64")
    w1, b1, w2, b2 = weights  # the chapter's (in, out) layout: x @ W1
    model = chapter_network(np.float64)
    np.testing.assert_array_equal(model[0].weight.data, w1.T)
    loss = chapter_loss(model, np.float64)
    assert loss.item() == pytest.approx(float(fundamentals.feed_forward(x, y, weights)), rel=1e-12)
    loss.backward()
    g_w1, g_b1, g_w2, g_b2 = fundamentals.chain_rule_gradients(x, y, weights)
    for ours, theirs in [(model[0].weight.grad, g_w1.T), (model[0].bias.grad, g_b1),
                         (model[2].weight.grad, g_w2.T), (model[2].bias.grad, g_b2)]:
        np.testing.assert_allclose(ours, np.reshape(theirs, ours.shape), rtol=1e-6, atol=1e-12)


def test_chapter_network_100_epochs_of_sgd_equal_the_hand_training_in_float64():
    x, y, weights = fundamentals.network_231("float64")
    history = fundamentals.gradient_descent(x, y, weights, lr=0.01, epochs=100, method="chain")
    model = chapter_network(np.float64)
    opt = optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = chapter_loss(model, np.float64)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(losses, history.losses, rtol=1e-10)
    final = chapter_loss(model, np.float64).item()
    assert final == pytest.approx(float(history.final_loss), rel=1e-10)
    assert final < 1e-3 < 0.3 < losses[0]  # it did learn (0.33455 -> 0.000304)
