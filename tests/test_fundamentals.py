"""Tests for nnblocks.fundamentals: chapter 1 by hand (activations, losses, network, gradients, training)."""
from __future__ import annotations

import copy
import math
import pathlib
import warnings

import numpy as np
import pytest

from nnblocks import fundamentals as F
from nnblocks.fundamentals import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    categorical_cross_entropy,
    categorical_cross_entropy_grad,
    chain_rule_gradients,
    feed_forward,
    finite_difference_gradients,
    init_weights,
    linear,
    linear_grad,
    linear_neuron,
    mae,
    mae_grad,
    mse,
    mse_grad,
    network_231,
    predict,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_jacobian,
    tanh,
    tanh_grad,
    gradient_descent,
    update_weights,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


def central_derivative(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Elementwise d f / d x by central differences in float64 (for elementwise functions)."""
    return (f(x + h) - f(x - h)) / (2 * h)


# ------------------------------------------------------------------------------------------------------ activations


def test_sigmoid_hand_values():
    # sigma(0) = 1/(1+1) = 0.5; sigma(ln 3) = 1/(1 + 1/3) = 0.75; sigma(-ln 3) = 1/(1 + 3) = 0.25
    np.testing.assert_allclose(sigmoid([0.0, LN3, -LN3]), [0.5, 0.75, 0.25], rtol=1e-15)
    # sigma'(ln 3) = 0.75 * 0.25 = 0.1875; sigma'(0) = 0.5 * 0.5 = 0.25
    np.testing.assert_allclose(sigmoid_grad([LN3, 0.0]), [0.1875, 0.25], rtol=1e-15)


def test_tanh_hand_values():
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 1.5 / 2.5 = 0.6; tanh'(ln 2) = 1 - 0.36 = 0.64
    np.testing.assert_allclose(tanh([LN2, -LN2, 0.0]), [0.6, -0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(tanh_grad([LN2, 0.0]), [0.64, 1.0], rtol=1e-15)


def test_relu_and_linear_hand_values():
    np.testing.assert_array_equal(relu([[-2.0, 0.0, 3.5]]), [[0.0, 0.0, 3.5]])
    np.testing.assert_array_equal(relu_grad([[-2.0, 0.0, 3.5]]), [[0.0, 0.0, 1.0]])  # 0 at x = 0 by convention
    np.testing.assert_array_equal(linear([[-2.0, 5.0]]), [[-2.0, 5.0]])
    np.testing.assert_array_equal(linear_grad([[-2.0, 5.0]]), [[1.0, 1.0]])


def test_softmax_hand_values_per_row():
    # row 1: e^0, e^ln3, e^-1e9 = 1, 3, 0 -> 1/4, 3/4, 0.  row 2: e^0, e^ln2, e^ln3 = 1, 2, 3 -> 1/6, 1/3, 1/2.
    x = np.array([[0.0, LN3, -1e9], [0.0, LN2, LN3]])
    expected = [[0.25, 0.75, 0.0], [1 / 6, 1 / 3, 1 / 2]]
    np.testing.assert_allclose(softmax(x), expected, rtol=1e-14, atol=1e-300)
    # shifting a row changes nothing; rows are independent
    # (1000 + ln 2 is stored with spacing 1.1e-13, hence rtol 1e-12)
    np.testing.assert_allclose(softmax(x[1:] + 1000.0), softmax(x[1:]), rtol=1e-12)


def test_softmax_jacobian_hand_values():
    # s = [1/4, 3/4]: J = [[s0(1-s0), -s0 s1], [-s1 s0, s1(1-s1)]] = [[3/16, -3/16], [-3/16, 3/16]]
    np.testing.assert_allclose(softmax_jacobian([[0.0, LN3]]), [[[3 / 16, -3 / 16], [-3 / 16, 3 / 16]]], atol=1e-15)


@pytest.mark.parametrize(
    "f, df", [(sigmoid, sigmoid_grad), (tanh, tanh_grad), (relu, relu_grad), (linear, linear_grad)]
)
def test_activation_derivatives_match_central_differences(f, df):
    x = np.random.default_rng(0).normal(0, 3, size=(4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # relu has no derivative at 0
    np.testing.assert_allclose(df(x), central_derivative(f, x), rtol=1e-7, atol=1e-9)


def test_softmax_jacobian_matches_central_differences():
    x = np.random.default_rng(1).normal(size=(3, 4))
    numeric = np.empty((3, 4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = 1e-6
        numeric[:, :, j] = (softmax(x + e) - softmax(x - e)) / 2e-6
    np.testing.assert_allclose(softmax_jacobian(x), numeric, rtol=1e-6, atol=1e-10)


def test_activations_keep_float32():
    x = np.array([[-1.0, 0.5]], dtype=np.float32)
    for f in (sigmoid, tanh, relu, linear, softmax, sigmoid_grad, tanh_grad, relu_grad, linear_grad):
        assert f(x).dtype == np.float32, f.__name__


def test_sigmoid_is_the_chapters_formula_bit_for_bit():
    # Faithful reproduction depends on it: 1 / (1 + exp(-x)) wherever exp(-x) is finite.
    x = np.random.default_rng(2).normal(0, 20, size=1000).astype(np.float32)
    x = x[x > -88]
    np.testing.assert_array_equal(sigmoid(x), 1 / (1 + np.exp(-x)))


EXTREMES = [-1e30, -1000.0, -710.0, -89.0, -88.5, 0.0, 88.5, 89.0, 710.0, 1000.0, 1e30]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "f", [sigmoid, sigmoid_grad, tanh, tanh_grad, relu, relu_grad, linear, linear_grad, softmax, softmax_jacobian]
)
def test_activations_are_finite_and_silent_at_extremes(f, dtype):
    x = np.array([EXTREMES], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = f(x)
    assert np.all(np.isfinite(out))


def test_stable_values_at_the_textbook_failure_points():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        assert float(sigmoid(-1000.0)) == 0.0  # e^-1000 ~ 5e-435 rounds to 0
        assert float(sigmoid(1000.0)) == 1.0
        np.testing.assert_array_equal(softmax([[1000.0, 1000.0]]), [[0.5, 0.5]])
        np.testing.assert_array_equal(softmax(np.array([[3e38, -3e38, 0.0]], np.float32)), [[1.0, 0.0, 0.0]])
        # the textbook forms really do fail there (so the test above is not vacuous)
        with pytest.raises(FloatingPointError):
            1 / (1 + np.exp(-np.array(-1000.0)))


def test_softmax_rejects_scalars():
    with pytest.raises(ValueError, match="softmax"):
        softmax(1.0)


# ----------------------------------------------------------------------------------------------------------- losses


def test_mse_hand_values():
    # two samples, one output: ((1 - 0.5)^2 + (2 - 4)^2) / 2 = (0.25 + 4) / 2 = 2.125
    assert mse([[1.0], [2.0]], [[0.5], [4.0]]) == pytest.approx(2.125, rel=1e-15)
    # two samples, two outputs: mean over all 4 elements, (0 + 4 + 9 + 0) / 4 = 3.25
    assert mse([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 4.0]]) == pytest.approx(3.25, rel=1e-15)
    # dL/dp = 2 (p - y) / M with M = 2: [[2 * 0.5 / 2], [2 * -2 / 2]] = [[0.5], [-2]]
    np.testing.assert_allclose(mse_grad([[1.0], [2.0]], [[0.5], [4.0]]), [[0.5], [-2.0]], rtol=1e-15)


def test_mae_hand_values():
    # (|1 - 0.5| + |-3 - 0|) / 2 = (0.5 + 3) / 2 = 1.75; gradient sign(p - y) / 2 = [[0.5], [-0.5]]
    assert mae([[1.0], [-3.0]], [[0.5], [0.0]]) == pytest.approx(1.75, rel=1e-15)
    np.testing.assert_allclose(mae_grad([[1.0], [-3.0]], [[0.5], [0.0]]), [[0.5], [-0.5]])


def test_binary_cross_entropy_hand_values():
    # -(1 * ln 0.9 + (1 - 0) * ln(1 - 0.2)) / 2 = (0.105360516 + 0.223143551) / 2 = 0.164252033
    p, y = [[0.9], [0.2]], [[1.0], [0.0]]
    assert binary_cross_entropy(p, y) == pytest.approx(0.164252033486018, rel=1e-12)
    # dL/dp = (p - y) / (p (1 - p)) / 2: (-0.1 / 0.09) / 2 = -0.5556, (0.2 / 0.16) / 2 = 0.625
    np.testing.assert_allclose(binary_cross_entropy_grad(p, y), [[-0.1 / 0.09 / 2], [0.2 / 0.16 / 2]], rtol=1e-12)


def test_categorical_cross_entropy_hand_values_and_the_naive_mistakes():
    # sum over classes, mean over samples: -(ln 0.7 + ln 0.4) / 2 = (0.356674944 + 0.916290732) / 2 = 0.636482838
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert categorical_cross_entropy(p, y) == pytest.approx(0.636482838, rel=1e-8)
    # the textbook slip: np.sum without an axis adds both samples, and the "mean" of one number is that number
    assert -np.mean(np.sum(y * np.log(p))) == pytest.approx(2 * 0.636482838, rel=1e-8)
    # and a mean over all 6 elements is 3 times too small
    assert -np.mean(y * np.log(p)) == pytest.approx(0.636482838 / 3, rel=1e-8)
    # dL/dp = -y / p / N: [-1/0.7/2, 0, 0], [0, 0, -1/0.4/2]
    np.testing.assert_allclose(
        categorical_cross_entropy_grad(p, y), [[-1 / 1.4, 0, 0], [0, 0, -1 / 0.8]], rtol=1e-12
    )


@pytest.mark.parametrize(
    "loss, grad, p, y",
    [
        (mse, mse_grad, [[0.3, -1.2], [2.0, 0.1]], [[0.0, 1.0], [1.5, 0.0]]),
        (mae, mae_grad, [[0.3, -1.2], [2.0, 0.1]], [[0.0, 1.0], [1.5, 0.0]]),
        (binary_cross_entropy, binary_cross_entropy_grad, [[0.3, 0.8], [0.6, 0.1]], [[0.0, 1.0], [1.0, 0.0]]),
        (categorical_cross_entropy, categorical_cross_entropy_grad, [[0.3, 0.7], [0.6, 0.4]], [[0.0, 1.0], [1.0, 0.0]]),
    ],
)
def test_loss_gradients_match_central_differences(loss, grad, p, y):
    p, y = np.array(p), np.array(y)
    numeric = np.zeros_like(p)
    for index in np.ndindex(p.shape):
        e = np.zeros_like(p)
        e[index] = 1e-6
        numeric[index] = (loss(p + e, y) - loss(p - e, y)) / 2e-6
    np.testing.assert_allclose(grad(p, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropies_finite_at_probabilities_0_and_1(dtype):
    confident_right = np.array([[1.0], [0.0]], dtype=dtype)
    confident_wrong = np.array([[0.0], [1.0]], dtype=dtype)
    y = np.array([[1.0], [0.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        right = binary_cross_entropy(confident_right, y)
        wrong = binary_cross_entropy(confident_wrong, y)
        onehot = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
        cce_wrong = categorical_cross_entropy(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype), onehot)
        grads = [binary_cross_entropy_grad(confident_wrong, y), categorical_cross_entropy_grad(onehot[::-1], onehot)]
    assert 0 <= right < 2e-7  # -ln(1 - 1e-7) = 1e-7 (float32 rounds 1 - 1e-7 to 1 - 1.19e-7)
    # -ln(1e-7) = 16.118; in float32 one side is -ln(1.19e-7) = 15.94 because 1 - 1e-7 is not representable
    assert wrong == pytest.approx(16.118, abs=0.2)
    assert cce_wrong == pytest.approx(16.118, abs=1e-3)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_eps_must_survive_float32():
    # the documented reason for eps = 1e-7: 1 - 1e-8 rounds to exactly 1 in float32, 1 - 1e-7 does not
    assert np.float32(1 - 1e-8) == 1.0
    assert np.float32(1 - F.EPS) < 1.0


def test_losses_refuse_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
        mse(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="categorical_cross_entropy"):
        categorical_cross_entropy(np.full((2, 3), 1 / 3), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="eps"):
        binary_cross_entropy([[0.5]], [[1.0]], eps=0.0)


# ---------------------------------------------------------------------------------------------------------- network


def test_feed_forward_by_hand():
    # x = [[1, 2]], W1 = [[1, 0], [0, 1]], b1 = [0, 0] -> hidden = sigmoid([1, 2]); W2 = [[1], [1]], b2 = [0.5]
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    w = [np.eye(2), np.zeros(2), np.ones((2, 1)), np.array([0.5])]
    s1, s2 = 1 / (1 + math.exp(-1)), 1 / (1 + math.exp(-2))
    pred = s1 + s2 + 0.5  # 0.731059 + 0.880797 + 0.5 = 2.111856
    loss, out = feed_forward(x, y, w, return_predictions=True)
    assert float(out[0, 0]) == pytest.approx(pred, rel=1e-15)
    assert float(loss) == pytest.approx((pred - 1) ** 2, rel=1e-14)
    np.testing.assert_array_equal(predict(x, w), out)


def test_linear_neuron_is_two_weights():
    x, y, w = linear_neuron("float64")
    w = [np.array([[2.0]]), np.array([1.0])]
    np.testing.assert_array_equal(predict(x, w), [[3.0], [5.0], [7.0], [9.0]])
    # errors 0, -1, -2, -3: (0 + 1 + 4 + 9) / 4 = 3.5
    assert feed_forward(x, y, w) == 3.5


def test_network_shape_errors_name_the_culprit():
    x, y, w = network_231("float64")
    with pytest.raises(ValueError, match="even length"):
        feed_forward(x, y, w[:3])
    with pytest.raises(ValueError, match=r"b1 .*\(3,\)"):
        feed_forward(x, y, [w[0], np.zeros(4), w[2], w[3]])
    with pytest.raises(ValueError, match="W2"):
        feed_forward(x, y, [w[0], w[1], np.zeros((4, 1)), w[3]])
    with pytest.raises(ValueError, match=r"inputs must have shape \(samples, 2\)"):
        feed_forward(np.ones((1, 3)), y, w)
    with pytest.raises(ValueError, match="outputs have shape"):
        feed_forward(x, np.zeros(1), w)


def test_init_weights_is_seeded():
    a, b = init_weights([3, 4, 2], seed=7), init_weights([3, 4, 2], seed=7)
    assert [w.shape for w in a] == [(3, 4), (4,), (4, 2), (2,)]
    assert all(w.dtype == np.float32 for w in a)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], init_weights([3, 4, 2], seed=8)[0])


# -------------------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("sizes", [[1, 1], [2, 3, 1], [4, 5, 3], [3, 4, 4, 2], [2, 3, 3, 3, 2], [5, 1, 4]])
@pytest.mark.parametrize("batch", [1, 3, 8])
def test_chain_rule_equals_central_differences_float64(sizes, batch):
    rng = np.random.default_rng(len(sizes) * 100 + batch)
    weights = [w + rng.normal(0, 0.5, w.shape) for w in init_weights(sizes, rng, np.float64)]
    x = rng.normal(size=(batch, sizes[0]))
    y = rng.normal(size=(batch, sizes[-1]))
    analytic = chain_rule_gradients(x, y, weights)
    numeric = finite_difference_gradients(x, y, weights, h=1e-5, scheme="central")
    loss = float(feed_forward(x, y, weights))
    # rtol 1e-6; the atol covers rounding of the two losses, about eps * |L| / h = 2e-16 * |L| / 1e-5 each
    for a, n, w in zip(analytic, numeric, weights):
        assert a.shape == w.shape and n.shape == w.shape
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-9 * max(1.0, loss))


def test_forward_difference_error_is_first_order():
    # L(w) = mean((w x - y)^2) on the linear neuron: L'' wrt W is 2 mean(x^2) = 15, so the forward difference
    # at W = b = 0 overshoots dL/dW = -45 by h/2 * 15 = 7.5e-4 (exact arithmetic: the loss is quadratic)
    x, y, w = linear_neuron("float64")
    fd = finite_difference_gradients(x, y, w, h=1e-4)
    assert float(fd[0][0, 0]) == pytest.approx(-45 + 7.5e-4, abs=1e-9)
    assert float(fd[1][0]) == pytest.approx(-15 + 1e-4, abs=1e-9)  # L'' wrt b is 2
    central = finite_difference_gradients(x, y, w, h=1e-4, scheme="central")
    assert float(central[0][0, 0]) == pytest.approx(-45, abs=1e-9)


def test_float32_nudge_blind_spots():
    # a single weight w in y = w x, x = [[1]], y = [[0]]: L = w^2, dL/dw = 2w.
    x, y = np.array([[1.0]], np.float32), np.array([[0.0]], np.float32)
    for w_value, expected_step in [(4096.0, 0.0), (1000.0, 2 * 2.0**-14)]:
        w = [np.array([[w_value]], np.float32), np.zeros(1, np.float32)]
        # float32 spacing: 2^-11 = 4.9e-4 at 4096 (the nudge rounds away), 2^-14 = 6.1e-5 at 1000 (2 spacings)
        assert float(np.float32(w_value) + np.float32(1e-4)) - w_value == expected_step
        fd = finite_difference_gradients(x, y, w)[0][0, 0]
        chain = chain_rule_gradients(x, y, w)[0][0, 0]
        assert chain == 2 * w_value
        if expected_step == 0:
            assert fd == 0.0
        else:
            # (L(w + 1.22e-4) - L(w)) / 1e-4 is 22 % too steep; loss rounding adds up to 1e6 spacing / 1e-4
            assert float(fd) / float(chain) == pytest.approx(expected_step / 1e-4, rel=0.1)


def test_finite_difference_argument_errors():
    x, y, w = network_231("float64")
    with pytest.raises(ValueError, match="step h"):
        finite_difference_gradients(x, y, w, h=0.0)
    with pytest.raises(ValueError, match="scheme"):
        finite_difference_gradients(x, y, w, scheme="backward")
    with pytest.raises(ValueError, match="floating-point"):
        finite_difference_gradients(x, y, [np.ones((2, 3), int), w[1], w[2], w[3]])


# --------------------------------------------------------------------------------------------- the chapter's numbers


def test_initial_loss_faithful_is_0_33455009():
    x, y, w = network_231()  # faithful: the chapter's dtypes
    loss = feed_forward(x, y, w)
    assert f"{float(loss):.8g}" == "0.33455009"
    # all-float32 arithmetic rounds differently (this is why faithful keeps the chapter's integer data) ...
    x32, y32, w32 = network_231("float32")
    loss32 = feed_forward(x32, y32, w32)
    assert loss32.dtype == np.float32 and f"{float(loss32):.8g}" == "0.33455008"
    # ... and the exact decimal weights in float64 give a third value
    assert f"{float(feed_forward(*network_231('float64'))):.8g}" == "0.33455011"


@pytest.mark.parametrize("precision", ["chapter", "float32", "float64"])
def test_chain_rule_values_at_initial_weights(precision):
    grads = chain_rule_gradients(*network_231(precision))
    assert [g.shape for g in grads] == [(2, 3), (3,), (3, 1), (1,)]
    np.testing.assert_allclose(grads[3], [-1.1568], atol=5e-5)
    np.testing.assert_allclose(grads[2][:, 0], [-0.6814, -0.4255, -0.5364], atol=5e-5)


def chapter_update_weights(inputs, outputs, weights, lr):
    """The chapter's procedure, transcribed step by step as its text describes it (the reference)."""

    def chapter_feed_forward(inputs, outputs, weights):
        pre_hidden = np.dot(inputs, weights[0]) + weights[1]
        hidden = 1 / (1 + np.exp(-pre_hidden))
        pred_out = np.dot(hidden, weights[2]) + weights[3]
        return np.mean(np.square(pred_out - outputs))

    def neuron_feed_forward(inputs, outputs, weights):
        return np.mean(np.square(np.dot(inputs, weights[0]) + weights[1] - outputs))

    ff = chapter_feed_forward if len(weights) == 4 else neuron_feed_forward
    original_loss = ff(inputs, outputs, weights)
    updated = copy.deepcopy(weights)
    for i, layer in enumerate(weights):
        for index, _ in np.ndenumerate(layer):
            temp = copy.deepcopy(weights)
            temp[i][index] += 0.0001
            loss_plus = ff(inputs, outputs, temp)
            grad = (loss_plus - original_loss) / 0.0001
            updated[i][index] -= grad * lr
    return updated, original_loss


@pytest.mark.parametrize(
    "data, lr, epochs",
    [(network_231, 0.01, 100), (linear_neuron, 1.0, 10), (linear_neuron, 0.1, 10)],
    ids=["network-231", "neuron-lr1", "neuron-lr0.1"],
)
@pytest.mark.parametrize("precision", ["chapter", "float32"])
def test_faithful_training_reproduces_the_chapter_bit_for_bit(data, lr, epochs, precision):
    x, y, w = data(precision)
    history = gradient_descent(x, y, w, lr, epochs)
    reference, losses = w, []
    for _ in range(epochs):
        reference, loss = chapter_update_weights(x, y, reference, lr)
        losses.append(loss)
    np.testing.assert_array_equal(history.losses, np.array(losses))
    assert history.losses.dtype == np.asarray(losses[0]).dtype
    for mine, theirs in zip(history.final_weights, reference):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


def test_faithful_training_is_deterministic():
    a = gradient_descent(*network_231(), lr=0.01, epochs=100)
    b = gradient_descent(*network_231(), lr=0.01, epochs=100)
    assert a.losses.tobytes() == b.losses.tobytes()
    for wa, wb in zip(a.weights, b.weights):
        assert all(u.tobytes() == v.tobytes() for u, v in zip(wa, wb))
    assert float(a.final_loss) == float(b.final_loss)


def test_first_learning_rate_step_by_hand():
    # From W = b = 0 on x = 1..4, y = 3x:  loss = mean(y^2) = (9 + 36 + 81 + 144) / 4 = 67.5
    # dL/dW = mean(2 (W x + b - y) x) = -2 mean(x y) = -2 (3 + 12 + 27 + 48) / 4 = -45
    # dL/db = -2 mean(y) = -2 (3 + 6 + 9 + 12) / 4 = -15      ->  after one step at lr 0.01: W = 0.45, b = 0.15
    x, y, w = linear_neuron()  # the chapter's dtypes
    new, loss = update_weights(x, y, w, 0.01, method="chain")
    assert loss == 67.5
    assert new[0][0, 0] == np.float32(0.45) and new[1][0] == np.float32(0.15)

    # Forward difference, faithful: the nudge is float32(1e-4) = h' (not exactly 1e-4) and the loss is quadratic,
    # so (L(h') - L(0)) / 1e-4 = (-45 h' + 7.5 h'^2) / 1e-4 exactly (7.5 = mean(x^2)); for b: (-15 h' + h'^2) / 1e-4.
    # The loss difference is float64, so the only other rounding is storing W in float32: within one float32 step.
    hp = float(np.float32(1e-4))
    g_w, g_b = (-45 * hp + 7.5 * hp**2) / 1e-4, (-15 * hp + hp**2) / 1e-4  # -44.99925..., -14.9999...
    new, loss = update_weights(x, y, w, 0.01)
    assert loss == 67.5
    assert abs(float(new[0][0, 0]) - (-0.01 * g_w)) <= float(np.spacing(np.float32(0.45)))
    assert abs(float(new[1][0]) - (-0.01 * g_b)) <= float(np.spacing(np.float32(0.15)))
    assert new[0][0, 0] != np.float32(0.45)  # h/2 * L'' = 7.5e-4 of truncation error is visible

    # All-float32: the loss 67.5 is stored in steps of 2^-17 = 7.6e-6, so each loss difference can be off by a few
    # such steps, i.e. the gradient by a few * 7.6e-6 / 1e-4 = 0.08 at most and W = -0.01 * grad by < 1e-3.
    new32, _ = update_weights(*linear_neuron("float32"), 0.01)
    assert new32[0].dtype == np.float32
    assert abs(float(new32[0][0, 0]) - 0.45) < 1e-3 and abs(float(new32[1][0]) - 0.15) < 1e-3


# --------------------------------------------------------------------------------------------------------- training


def test_update_weights_contract():
    x, y, w = network_231()
    before = [a.copy() for a in w]
    new, loss = update_weights(x, y, w, 0.01)
    assert f"{float(loss):.8g}" == "0.33455009"  # the loss BEFORE the update
    assert all(np.array_equal(a, b) for a, b in zip(w, before))  # inputs untouched
    assert [a.dtype for a in new] == [np.float32] * 4 and [a.shape for a in new] == [a.shape for a in w]
    assert feed_forward(x, y, new) < loss
    with pytest.raises(ValueError, match="method"):
        update_weights(x, y, w, 0.01, method="backprop")


@pytest.mark.parametrize("method", ["forward", "central", "chain"])
def test_train_history(method):
    x, y, w = network_231()
    h = gradient_descent(x, y, w, lr=0.01, epochs=5, method=method)
    assert h.epochs == 5 and len(h.losses) == 5 and len(h.weights) == 6 and len(h.gradients) == 5
    assert all(np.array_equal(a, b) for a, b in zip(h.weights[0], w))
    assert np.all(np.diff(h.losses) < 0) and h.final_loss < h.losses[-1]
    assert f"{float(h.losses[0]):.8g}" == "0.33455009"


def test_train_stops_on_a_non_finite_loss():
    x, y, w = linear_neuron("float64")
    with pytest.raises(ValueError, match="epoch"):
        gradient_descent(x, y, w, lr=10.0, epochs=200, method="chain")


def test_fundamentals_import_nothing_else_from_nnblocks():
    # (Importing nnblocks.fundamentals runs nnblocks/__init__ first, as Python imports parents first; what matters
    # for a learner is that the fundamentals modules themselves use NumPy and each other only.)
    for path in pathlib.Path(F.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import nnblocks", "from nnblocks")):
                assert stripped.startswith("from nnblocks.fundamentals"), f"{path.name}: {stripped}"
            if stripped.startswith(("import ", "from ")) and "nnblocks" not in stripped:
                module = stripped.split()[1].split(".")[0]
                assert module in {"__future__", "numpy", "collections", "dataclasses", "typing"}, stripped
