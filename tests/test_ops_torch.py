"""Every op against PyTorch (CPU): forward values and gradients, in float64 (rtol 1e-6) and float32 (rtol 1e-4).

The ops and their inputs come from the table in ``test_ops_grad.py``. For a non-scalar output both engines
backpropagate the same random upstream gradient ``v``, so every vector-Jacobian product is compared, not only sums.
The largest relative error seen per dtype is printed at the end of the session (run with ``-s`` to see it).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nnblocks as nb
from test_ops_grad import CASES, Case, build

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCES = {np.float64: (1e-6, 1e-10), np.float32: (1e-4, 1e-5)}  # (rtol, atol)
WORST: dict[str, tuple[float, str]] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_worst_errors() -> Any:
    yield
    for dtype, (err, where) in sorted(WORST.items()):
        print(f"\nlargest relative error vs PyTorch, {dtype}: {err:.3e} ({where})")


def _record(dtype: Any, case_id: str, what: str, ours: np.ndarray, theirs: np.ndarray, atol: float) -> None:
    """Track the largest elementwise relative error over elements PyTorch puts above the absolute tolerance."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    big = np.abs(theirs) > atol
    if big.any():
        rel = float(np.max(np.abs(ours[big] - theirs[big]) / np.abs(theirs[big])))
        key = np.dtype(dtype).name
        if rel > WORST.get(key, (-1.0, ""))[0]:
            WORST[key] = (rel, f"{case_id} {what}")


def _to_torch(t: nb.Tensor) -> Any:
    return torch.tensor(t.data, requires_grad=t.requires_grad)


TORCH_CASES = [c for c in CASES if c.tfn is not None]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("c", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_matches_pytorch(c: Case, dtype: Any) -> None:
    rtol, atol = TOLERANCES[dtype]
    ours_in = build(c, dtype, seed=1)
    theirs_in = [_to_torch(t) for t in ours_in]
    ours = c.fn(*ours_in)
    theirs = c.tfn(torch, F, *theirs_in)
    assert ours.shape == tuple(theirs.shape), c.id
    assert ours.dtype == dtype, f"{c.id}: output dtype {ours.dtype}, inputs were {np.dtype(dtype)}"
    expected = theirs.detach().numpy()
    np.testing.assert_allclose(ours.data, expected, rtol=rtol, atol=atol, err_msg=f"{c.id} forward")
    _record(dtype, c.id, "forward", ours.data, expected, atol)

    v = np.random.default_rng(2).standard_normal(ours.shape).astype(dtype)
    ours.backward(gradient=v)
    theirs.backward(gradient=torch.from_numpy(v))
    for k, (a, b) in enumerate(zip(ours_in, theirs_in)):
        if not a.requires_grad:
            continue
        assert a.grad is not None and a.grad.dtype == dtype and a.grad.shape == a.shape, f"{c.id} input {k}"
        expected = b.grad.numpy()
        np.testing.assert_allclose(a.grad, expected, rtol=rtol, atol=atol, err_msg=f"{c.id} grad of input {k}")
        _record(dtype, c.id, f"grad {k}", a.grad, expected, atol)


def test_float32_extremes_match_pytorch() -> None:
    """Large logits: the stable forms give PyTorch's finite answers where the textbook formulas overflow."""
    x = np.array([[1000.0, -1000.0, 0.0], [-80.0, 80.0, 3.0]], dtype=np.float32)
    t = np.array([1, 0])
    ours = nb.ops.cross_entropy(nb.tensor(x), nb.tensor(t)).item()
    theirs = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(nb.sigmoid(nb.tensor(x)).data, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-6)
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]], dtype=np.float32)
    np.testing.assert_allclose(
        nb.ops.binary_cross_entropy_with_logits(nb.tensor(x), nb.tensor(y)).item(),
        F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y)).item(), rtol=1e-6)
    p = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    q = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    np.testing.assert_allclose(nb.ops.binary_cross_entropy(nb.tensor(p), nb.tensor(q)).item(),
                               F.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(q)).item(), rtol=1e-6)


def test_cross_entropy_probability_targets_gradient_reaches_the_target():
    # PyTorch differentiates soft-label cross-entropy with respect to the target too: dL/dt_nc = -w_c log p_nc / N
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, t, w = rng.standard_normal((4, 3)), rng.dirichlet(np.ones(3), 4), rng.random(3)
    for weight in (None, w):
        a, b = nb.Tensor(x, requires_grad=True), nb.Tensor(t, requires_grad=True)
        nb.ops.cross_entropy(a, b, weight).backward()
        ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
        torch.nn.functional.cross_entropy(ta, tb, None if weight is None else torch.tensor(weight)).backward()
        np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-10)
