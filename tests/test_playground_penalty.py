"""train.penalty: L1 and L2 penalties built from ops, against hand values, finite differences and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import Tensor, gradcheck, nn
from nnblocks.errors import InvalidArgumentError
from nnblocks.train.penalty import l1_penalty, l2_penalty

A = np.array([[1.0, -2.0], [0.0, 3.0]])
B = np.array([0.5, -0.25])


def _leaves():
    return Tensor(A.copy(), requires_grad=True), Tensor(B.copy(), requires_grad=True)


def test_l1_hand_values_and_sign_gradient():
    a, b = _leaves()
    penalty = l1_penalty([a, b])
    assert penalty.shape == () and penalty.item() == 1 + 2 + 0 + 3 + 0.5 + 0.25  # 6.75
    penalty.backward()
    np.testing.assert_array_equal(a.grad, [[1, -1], [0, 1]])  # sign, 0 at 0 (PyTorch's abs)
    np.testing.assert_array_equal(b.grad, [1, -1])


def test_l2_squared_hand_values_and_gradient_2p():
    a, b = _leaves()
    penalty = l2_penalty([a, b])
    assert penalty.item() == 1 + 4 + 0 + 9 + 0.25 + 0.0625  # 14.3125
    penalty.backward()
    np.testing.assert_array_equal(a.grad, 2 * A)
    np.testing.assert_array_equal(b.grad, 2 * B)


def test_l2_norm_hand_value_and_gradient_p_over_norm():
    a, b = _leaves()
    penalty = l2_penalty([a, b], squared=False)
    norm = np.sqrt(14.3125)
    assert penalty.item() == pytest.approx(norm, rel=1e-15)
    penalty.backward()
    np.testing.assert_allclose(a.grad, A / norm, rtol=1e-14)
    np.testing.assert_allclose(b.grad, B / norm, rtol=1e-14)


@pytest.mark.parametrize("penalty", [lambda a, b: l1_penalty([a, b]), lambda a, b: l2_penalty([a, b]),
                                     lambda a, b: l2_penalty([a, b], squared=False)],
                         ids=["l1", "l2", "l2-norm"])
def test_gradients_match_central_differences(penalty):
    rng = np.random.default_rng(0)
    # away from 0, where |p| has its kink
    a = Tensor(rng.uniform(0.2, 1.0, (3, 4)) * rng.choice([-1, 1], (3, 4)), requires_grad=True)
    b = Tensor(rng.uniform(0.2, 1.0, 4), requires_grad=True)
    assert gradcheck(penalty, [a, b])


def test_penalty_of_a_model_counts_every_weight_and_keeps_the_dtype():
    model = nn.MLP([2, 3, 1], seed=0)
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    expected = sum(float(np.abs(w.data.astype(np.float64)).sum()) for w in weights)
    penalty = l1_penalty(weights)
    assert penalty.dtype == np.float32
    assert penalty.item() == pytest.approx(expected, rel=1e-6)
    assert l2_penalty(model.parameters()).item() == pytest.approx(
        sum(float((p.data.astype(np.float64) ** 2).sum()) for p in model.parameters()), rel=1e-6)


def test_no_tensors_is_zero_without_gradient_and_bad_items_are_named():
    assert l1_penalty([]).item() == 0.0 and not l1_penalty([]).requires_grad
    assert l2_penalty(iter([])).item() == 0.0
    with pytest.raises(InvalidArgumentError, match="expected nnblocks Tensors.*ndarray"):
        l1_penalty([np.ones(3)])


def test_same_as_pytorch():
    torch = pytest.importorskip("torch")
    a, b = _leaves()
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (A, B))
    for ours, theirs in ((l1_penalty([a, b]), ta.abs().sum() + tb.abs().sum()),
                         (l2_penalty([a, b]), (ta * ta).sum() + (tb * tb).sum()),
                         (l2_penalty([a, b], squared=False), torch.sqrt((ta ** 2).sum() + (tb ** 2).sum()))):
        a.grad = b.grad = ta.grad = tb.grad = None
        ours.backward()
        theirs.backward()
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-14)
        np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-14)
        np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-14)
