"""PyTorch's API as the book's chapter 2-3 code uses it (issue 12), against PyTorch 2.13.

Each row of ``CASES`` is one call written once, against a module ``T`` that is either ``torch`` or ``nnblocks``
(``lambda T, x: T.norm(x, 1)``): the same code runs on both, as the book's code must. The tests compare the results
(shape, dtype by its printed name, values) and, for differentiable calls, the gradients of ``sum(out * v)``.

Tolerances: float64 results agree to 1e-12 relative and float32 to 1e-5. Elementwise ops are correctly rounded or
within a few ulps in both libraries (2.2e-16 and 1.2e-7); the reductions here sum at most 24 terms, whose rounding
may differ by the summation order, n * eps ~ 5e-15 and 3e-6: the bounds leave a margin of ~100x and ~3x. Integer and
boolean results, and everything that only picks elements (max, sort, gather...), must be equal.

Tests that do not compare with PyTorch (the clear errors, the idioms) run without torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import nnblocks as nb
from nnblocks.errors import DeviceError, InvalidArgumentError, NotSupportedError, ShapeError, ZeroDimError


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@dataclass
class Case:
    id: str
    fn: Callable[..., Any]  # fn(T, *tensors): the same code for torch and for nnblocks
    make: Callable[[np.random.Generator], list]  # the input arrays; float arrays become float32/float64 leaves
    grad: bool = True  # compare gradients too


CASES: list[Case] = []


def case(id: str, fn: Callable, *makers: Callable, grad: bool = True) -> None:
    CASES.append(Case(id, fn, lambda rng: [m(rng) for m in makers], grad))


def rn(*shape):
    return lambda rng: rng.standard_normal(shape)


def pos(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def grid(*shape):
    """Distinct values 0.1 apart (no ties: max, sort and the inf-norm are differentiable)."""
    return lambda rng: (rng.permutation(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape)


def ints(low, high, *shape):
    return lambda rng: rng.integers(low, high, shape).astype(np.int64)


# ---- module-level functions (torch.<name>) ---------------------------------------------------------------------------
case("mean", lambda T, x: T.mean(T.square(x)), rn(3, 4))
case("mean_dim", lambda T, x: T.mean(x, 1), rn(3, 4))
case("sum", lambda T, x: T.sum(x), rn(3, 4))
case("sum_dim_keepdim", lambda T, x: T.sum(x, dim=0, keepdim=True), rn(3, 4))
case("sum_axis_keepdims", lambda T, x: x.sum(axis=1, keepdims=True), rn(3, 4))  # NumPy's names, as torch takes them
case("abs", lambda T, x: T.abs(x), grid(3, 4))
case("square", lambda T, x: T.square(x), rn(3, 4))
case("sqrt", lambda T, x: T.sqrt(x), pos(3, 4))
case("exp", lambda T, x: T.exp(-x), rn(3, 4))
case("log", lambda T, x: T.log(x), pos(3, 4))
case("sigmoid_by_hand", lambda T, x: 1 / (1 + T.exp(-x)), rn(3, 4))  # chapter 2's hand-made network
for p in (1, 2, 3, 0.5, float("inf"), float("-inf"), "fro"):
    case(f"norm_p{p}", lambda T, x, p=p: T.norm(x, p), grid(3, 4))
case("norm_default", lambda T, x: T.norm(x), rn(3, 4))
case("norm_p_dim", lambda T, x: T.norm(x, 2, 1), rn(3, 4))
case("norm_dim_keepdim", lambda T, x: T.norm(x, p=1, dim=0, keepdim=True), grid(3, 4))
case("norm_0", lambda T, x: T.norm(x, 0), grid(3, 4), grad=False)
case("squeeze", lambda T, x: T.squeeze(x, 1), rn(10, 1, 10))
case("squeeze_all", lambda T, x: T.squeeze(x), rn(1, 3, 1))
case("unsqueeze", lambda T, x: T.unsqueeze(x, 0), rn(3, 4))
case("unique", lambda T, x: T.unique(x), ints(0, 5, 20), grad=False)
case("unique_counts", lambda T, x: T.unique(x, return_inverse=True, return_counts=True), ints(0, 5, 20), grad=False)
case("all", lambda T, x: T.all(x > -3), rn(3, 4), grad=False)
case("all_dim", lambda T, x: T.all(x > 0, 1), rn(3, 4), grad=False)
case("any", lambda T, x: T.any(x > 1), rn(3, 4), grad=False)
case("any_dim_keepdim", lambda T, x: T.any(x > 1, dim=0, keepdim=True), rn(3, 4), grad=False)
case("argmax", lambda T, x: T.argmax(x), grid(3, 4), grad=False)
case("argmax_dim", lambda T, x: T.argmax(x, dim=1, keepdim=True), grid(3, 4), grad=False)
case("argmax_keepdim_no_dim", lambda T, x: T.argmax(x, keepdim=True), grid(3, 4), grad=False)
case("argmin_dim", lambda T, x: T.argmin(x, 0), grid(3, 4), grad=False)
case("clone", lambda T, x: T.clone(x) * x, rn(3, 4))
case("cat_axis", lambda T, x, y: T.cat([x, y], axis=1), rn(2, 3), rn(2, 2))
case("cat_dim", lambda T, x, y: T.cat((x, y), dim=0), rn(2, 3), rn(1, 3))
case("stack", lambda T, x, y: T.stack([x, y], 1), rn(2, 3), rn(2, 3))
case("matmul", lambda T, x, w, b: T.matmul(x, w) + b, rn(4, 3), rn(3, 2), rn(2))
case("matmul_int", lambda T, x, y: T.matmul(x, y), ints(-5, 5, 2, 4), ints(-5, 5, 4, 1), grad=False)
case("max", lambda T, x: T.max(x), grid(3, 4))
case("max_dim", lambda T, x: T.max(x, 1), grid(3, 4))
case("max_dim_keepdim", lambda T, x: T.max(x, dim=0, keepdim=True), grid(3, 4))
case("max_elementwise", lambda T, x, y: T.max(x, y), grid(3, 4), rn(3, 4))
case("min", lambda T, x: T.min(x), grid(3, 4))
case("min_dim", lambda T, x: T.min(x, -1), grid(3, 4))
case("min_elementwise", lambda T, x, y: T.min(x, y), grid(3, 4), rn(3, 4))
case("max_int", lambda T, x: T.max(x, 1), ints(0, 100, 3, 4), grad=False)
case("amax", lambda T, x: T.amax(x, (0, 1)), grid(2, 3, 4))
case("where", lambda T, c, x, y: T.where(c > 0, x, y), rn(3, 4), rn(3, 4), rn(3, 4))
case("where_scalars", lambda T, c: T.where(c > 0, 1.0, 0.0), rn(3, 4), grad=False)
case("where_indices", lambda T, c: T.where(c > 0), rn(3, 4), grad=False)
case("clamp", lambda T, x: T.clamp(x, min=-0.5, max=0.5), grid(3, 4))
case("clamp_int", lambda T, x: T.clamp(x, 0, 3), ints(-5, 5, 6), grad=False)
case("sort", lambda T, x: T.sort(x), grid(3, 4))
case("sort_descending", lambda T, x: T.sort(x, 0, descending=True), grid(3, 4))
case("topk", lambda T, x: T.topk(x, 2), grid(3, 4))
case("topk_smallest", lambda T, x: T.topk(x, 3, dim=0, largest=False), grid(3, 4))
case("gather", lambda T, x, i: T.gather(x, 1, i), rn(3, 4), ints(0, 4, 3, 5))
case("zeros_like", lambda T, x: T.zeros_like(x) + x, rn(3, 4))
case("ones_like_int", lambda T, x: T.ones_like(x), ints(0, 3, 4), grad=False)
case("numel_is_tensor", lambda T, x: (T.numel(x), T.is_tensor(x), T.is_tensor(x.detach().numpy())), rn(3, 4),
     grad=False)

# ---- methods ---------------------------------------------------------------------------------------------------------
case("add_sub_mul_div_pow", lambda T, x, y: x.add(y).sub(2.0).mul(y).div(3.0).pow(2), rn(3, 4), rn(3, 4))
case("add_scalar_int", lambda T, x: x.add(10) * 10, ints(0, 9, 2, 4), grad=False)
case("int_division", lambda T, x: (x / 2, x * 1.5, x + 0.5), ints(0, 9, 2, 4), grad=False)
case("method_norm_square", lambda T, x: x.square().norm(1) + x.norm(), rn(3, 4))
case("conversions", lambda T, x: (x.int(), x.long(), x.bool(), x.double(), x.half()), rn(2, 3), grad=False)
case("float_keeps_the_graph", lambda T, x: x.double().float() * x, rn(2, 3))
case("type", lambda T, x: x.type(T.float64) * 2, rn(2, 3))
case("type_name", lambda T, x: (x.type(), x.long().type(), x.double().type(), x.bool().type()), rn(2), grad=False)
case("view_reshape_permute_T", lambda T, x: x.view(4, 6).T.reshape(2, 12).view(-1, 3).permute(1, 0), rn(2, 3, 4))
case("view_as_contiguous", lambda T, x, y: x.contiguous().view_as(y) * y, rn(2, 6), rn(3, 4))
case("flatten_ravel", lambda T, x: x.ravel() + x.flatten(), rn(2, 3))
case("size_dim_numel", lambda T, x: (tuple(x.size()), x.size(1), x.dim(), x.numel(), len(x)), rn(2, 3), grad=False)
case("item_tolist", lambda T, x: (x.sum().item(), x.tolist()), ints(0, 9, 2, 2), grad=False)
case("unique_method", lambda T, x: x.unique(), ints(0, 10, 30), grad=False)
case("max_method_neg1", lambda T, x: x.max(-1), grid(4, 10))  # the book: max_values, argmaxes = prediction.max(-1)
case("rows_by_iteration", lambda T, x: T.stack([row * k for k, row in enumerate(x)]), rn(3, 4))
case("unpacking", lambda T, x: (lambda a, b: a * b)(*x), rn(2, 3))
case("equality", lambda T, x, y: (x == y, x.argmax(1) == y.argmax(1), x == 1), ints(0, 3, 2, 3), ints(0, 3, 2, 3),
     grad=False)

# ---- creation --------------------------------------------------------------------------------------------------------
case("tensor_dtypes", lambda T: (T.tensor([[1, 2]]), T.tensor([False, 1, 2.0]), T.tensor([True]), T.tensor(5),
                                 T.tensor(2.5), T.tensor((1, 2)), T.tensor(range(3))), grad=False)
case("tensor_from_numpy_dtypes", lambda T: (T.tensor(np.array([[10, 20, 30], [2, 3, 4]])),
                                            T.tensor(np.array([1], dtype=np.int32)),
                                            T.tensor(np.array([1.5])), T.tensor(np.float32(2))), grad=False)
case("Tensor_takes_the_default_dtype", lambda T: (T.Tensor([[1, 2]]), T.Tensor([True]), tuple(T.Tensor(2, 3).shape),
                                                  str(T.Tensor(2, 3).dtype)), grad=False)  # (2, 3): uninitialised
case("factories", lambda T: (T.zeros((3, 4)), T.zeros(1, 2), T.ones((3, 4)), T.full((2,), 3), T.full((2,), 3.0),
                             T.full([2], True), T.eye(2, 3), T.eye(2), T.arange(25).reshape(5, 5),
                             T.arange(0, 1, 0.25), T.arange(0.0, 3), T.linspace(0, 1, 5), T.linspace(0, 10, 3),
                             T.full((2, 2), 1, dtype=T.float64), T.zeros(2, dtype=T.int32)), grad=False)
case("like_factories", lambda T, x: (T.zeros_like(x), T.ones_like(x, dtype=T.float32), T.full_like(x, 7)),
     ints(0, 3, 2, 2), grad=False)
case("dtype_names", lambda T: [str(d) for d in (T.float32, T.float, T.float64, T.double, T.float16, T.half, T.long,
                                                T.int64, T.int32, T.int, T.bool, T.uint8, T.int8, T.int16)],
     grad=False)
case("default_dtype", lambda T: (str(T.get_default_dtype()), T.tensor([1.0]).dtype == T.float32), grad=False)


# --------------------------------------------------------------------------------------------------------------------
def build(T: Any, arrays: list, dtype: str, requires_grad: bool) -> list:
    out = []
    for a in arrays:
        if a.dtype.kind == "f":
            out.append(T.tensor(a.astype(dtype), requires_grad=requires_grad))
        else:
            out.append(T.tensor(a))
    return out


def tensors_in(result: Any) -> list:
    """The tensors (and plain values) of a result, flattened out of tuples and lists, in order."""
    if isinstance(result, (tuple, list)):
        return [leaf for item in result for leaf in tensors_in(item)]
    return [result]


def assert_same(ours: Any, theirs: Any, torch: Any, where: str) -> None:
    """One result: a tensor of the same shape, dtype name and values, or an equal plain value."""
    if not isinstance(theirs, torch.Tensor):
        assert not isinstance(ours, nb.Tensor) and ours == theirs, (where, ours, theirs)
        return
    assert isinstance(ours, nb.Tensor), (where, type(ours))
    expected = theirs.detach().numpy()
    assert ours.shape == expected.shape, (where, ours.shape, expected.shape)
    assert str(ours.dtype) == str(theirs.dtype), (where, ours.dtype, theirs.dtype)
    if ours.dtype.kind == "f":
        rtol = 1e-12 if ours.dtype == np.float64 else 1e-5 if ours.dtype == np.float32 else 1e-3
        np.testing.assert_allclose(ours.data, expected, rtol=rtol, atol=rtol * 1e-2, err_msg=where)
    else:
        np.testing.assert_array_equal(ours.data, expected, err_msg=where)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_results_match_pytorch(c: Case, dtype: str, torch: Any) -> None:
    arrays = c.make(np.random.default_rng(0))
    ours, theirs = c.fn(nb, *build(nb, arrays, dtype, False)), c.fn(torch, *build(torch, arrays, dtype, False))
    assert type(ours).__name__ == type(theirs).__name__ or not isinstance(theirs, tuple) or \
        type(theirs) is tuple, (type(ours), type(theirs))  # return_types.max/sort/topk by name
    ours_all, theirs_all = tensors_in(ours), tensors_in(theirs)
    assert len(ours_all) == len(theirs_all)
    for k, (a, b) in enumerate(zip(ours_all, theirs_all)):
        assert_same(a, b, torch, f"{c.id} result {k}")


@pytest.mark.parametrize("c", [c for c in CASES if c.grad and c.make(np.random.default_rng(0))],
                         ids=[c.id for c in CASES if c.grad and c.make(np.random.default_rng(0))])
def test_gradients_match_pytorch(c: Case, torch: Any) -> None:
    arrays = c.make(np.random.default_rng(0))
    mine, theirs = build(nb, arrays, "float64", True), build(torch, arrays, "float64", True)
    out_nb, out_torch = tensors_in(c.fn(nb, *mine))[0], tensors_in(c.fn(torch, *theirs))[0]
    v = np.random.default_rng(1).standard_normal(tuple(out_torch.shape))
    (out_nb * nb.tensor(v)).sum().backward()
    (out_torch * torch.tensor(v)).sum().backward()
    for k, (a, b) in enumerate(zip(mine, theirs)):
        if b.grad is None:
            assert a.grad is None or not a.requires_grad, (c.id, k)
            continue
        assert isinstance(a.grad, nb.Tensor), (c.id, k)
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=f"{c.id} input {k}")


# ---- what prints: the book's cells show these reprs ------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda T: T.tensor([[1, 2]]), lambda T: T.tensor([False, 1, 2.0]), lambda T: T.arange(25).reshape(5, 5),
    lambda T: T.arange(25).reshape(5, 5).max(dim=0), lambda T: T.tensor([[2.0, -1.0], [1.0, 1.0]], requires_grad=True),
    lambda T: T.tensor([[2.0, -1.0], [1.0, 1.0]]) * 2, lambda T: T.tensor(117.3367), lambda T: T.tensor(3),
    lambda T: T.tensor([1e-5, 1.0, 1000.0]), lambda T: T.tensor([[-4.0139e-01, 7.2155e-03, 1.5]]),
    lambda T: T.tensor([1.5], dtype=T.float64), lambda T: T.tensor([], dtype=T.int64), lambda T: T.tensor([True]),
    lambda T: T.tensor([1, 2], dtype=T.uint8), lambda T: T.arange(12.0).reshape(3, 4) / 7, lambda T: T.zeros(2, 3),
    lambda T: T.tensor([3, 1, 2, 3]).unique(), lambda T: T.tensor([[10, 20, 30], [2, 3, 4]]),
    lambda T: T.tensor([1.0, 2.0], requires_grad=True) - 1.0, lambda T: T.device("cpu"), lambda T: T.int64,
], ids=lambda make: "")
def test_reprs_read_as_pytorchs(make, torch):
    assert repr(make(nb)) == repr(make(torch))


def test_copy_constructing_a_tensor_warns_as_pytorch(torch):
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        copy = nb.tensor(nb.tensor([1.0, 2.0], requires_grad=True))
    assert not copy.requires_grad and copy.tolist() == [1.0, 2.0]


# ---- the book's idioms -----------------------------------------------------------------------------------------------
def test_chapter2_autograd_notebook_by_hand_matches_pytorch(torch):
    """The auto-gradient notebook: a 2-3-1 network from leaf tensors, then w - w.grad for every weight."""
    def run(T):
        x, y = [T.tensor(a).float() for a in (np.array([[1, 1]]), np.array([[0]]))]
        rng = np.random.default_rng(3)
        W = [T.tensor(a, requires_grad=True) for a in (rng.standard_normal((3, 2)).astype(np.float32).T,
                                                        rng.standard_normal(3).astype(np.float32),
                                                        rng.standard_normal((1, 3)).astype(np.float32).T,
                                                        rng.standard_normal(1).astype(np.float32))]
        hidden = 1 / (1 + T.exp(-(T.matmul(x, W[0]) + W[1])))
        loss = T.mean(T.square(T.matmul(hidden, W[2]) + W[3] - y))
        loss.backward()
        return loss, [w.grad for w in W], [w - w.grad for w in W]

    (loss, grads, updated), (t_loss, t_grads, t_updated) = run(nb), run(torch)
    assert f"{loss:.4f}" == f"{t_loss:.4f}" and repr(loss).endswith("grad_fn=<MeanBackward0>)")
    for ours, theirs in zip(grads + updated, t_grads + t_updated):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-7)
    assert all(repr(u).endswith("grad_fn=<SubBackward0>)") for u in updated)
    x = nb.tensor([[2.0, -1.0], [1.0, 1.0]], requires_grad=True)
    x.pow(2).sum().backward()
    assert repr(x.grad) == repr(torch.tensor([[4.0, -2.0], [2.0, 2.0]]))


def _twin_models(torch):
    model = nb.nn.Sequential(nb.nn.Linear(4, 5), nb.nn.ReLU(), nb.nn.Linear(5, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), twin.parameters()):
            theirs.copy_(torch.from_numpy(mine.data.copy()))
    return model, twin


def test_l1_regularisation_by_plus_equals_keeps_its_gradient(torch):
    """The regularization notebook: l1 = 0, then l1 += torch.norm(param, 1) for each parameter, added to the loss."""
    model, twin = _twin_models(torch)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0, 2])
    for T, m in ((nb, model), (torch, twin)):
        l1 = 0
        for param in m.parameters():
            l1 += T.norm(param, 1)
        loss = T.nn.CrossEntropyLoss()(m(T.tensor(x)), T.tensor(y)) + 0.0001 * l1
        loss.backward()
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_grad_tensor_idioms_and_zero_grad_match_pytorch(torch):
    model, twin = _twin_models(torch)
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    opts = nb.optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    for T, m in ((nb, model), (torch, twin)):
        m(T.tensor(x)).square().mean().backward()
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert isinstance(mine.grad, nb.Tensor) and mine.grad.shape == tuple(theirs.grad.shape)
        np.testing.assert_allclose(mine.grad.norm().item(), theirs.grad.norm().item(), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(mine.grad.data), theirs.grad.data.numpy(), rtol=1e-5, atol=1e-7)
    held = [p.grad for p in model.parameters()]
    for opt in opts:
        opt.zero_grad(set_to_none=False)  # zeroed in place: the same tensors, now 0
    for p, g, theirs in zip(model.parameters(), held, twin.parameters()):
        assert p.grad is g and not p.grad.any() and not theirs.grad.any()
    next(model.parameters()).grad.add_(1.0)
    assert next(model.parameters()).grad.sum().item() == 20.0
    for opt in opts:
        opt.zero_grad()  # PyTorch 2.x's default: set_to_none=True
    assert all(p.grad is None for p in model.parameters()) and all(p.grad is None for p in twin.parameters())


def test_grad_mode_switches_as_context_and_decorators(torch):
    for T in (nb, torch):
        w = T.ones(2, requires_grad=True)

        @T.no_grad()
        def with_parentheses():
            return w * 2

        @T.no_grad
        def bare():
            return w * 2

        with T.no_grad():
            inside = w * 2
            with T.enable_grad():
                again = w * 2
        assert not with_parentheses().requires_grad and not bare().requires_grad and not inside.requires_grad
        assert again.requires_grad and T.is_grad_enabled()
        with T.set_grad_enabled(False):
            assert not (w * 2).requires_grad
        assert (w * 2).requires_grad


def test_numbers_formatting_iteration_and_plotting_work_on_tensors(torch):
    loss = nb.tensor(0.123456, requires_grad=True) * 2
    assert f"{loss:.4f}" == f"{torch.tensor(0.123456, requires_grad=True) * 2:.4f}" == "0.2469"
    assert float(loss) == pytest.approx(0.246912) and int(nb.tensor(-2.7)) == -2 and [10, 20, 30][nb.tensor(1)] == 20
    a, b = nb.tensor([[1, 2], [3, 4]])
    assert a.tolist() == [1, 2] and b.tolist() == [3, 4] and [r.tolist() for r in nb.tensor([5, 6])] == [5, 6]
    assert 2 in nb.tensor([1, 2]) and 7 not in nb.tensor([1, 2])
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = [loss * k for k in range(4)]  # the book appends loss tensors without .item() (requires_grad)
    figure = plt.figure()
    (line,) = plt.plot(history)  # PyTorch refuses this (numpy() on a tensor that requires grad); nnblocks draws it
    np.testing.assert_allclose(line.get_ydata(), [0.0, 0.246912, 0.493824, 0.740736], rtol=1e-6)
    plt.close(figure)
    targets = nb.tensor([3, 1, 3, 0])
    assert np.where(targets == 3)[0].tolist() == [0, 2] and targets[np.int64(2)].item() == 3
    assert (targets == 3).cpu().numpy().tolist() == [True, False, True, False]


def test_namespace_reaches_the_subpackages():
    import importlib.util

    import nnblocks as torch_like

    assert torch_like.nn.Linear is nb.nn.Linear and torch_like.optim.Adam is nb.optim.Adam
    assert torch_like.optim.lr_scheduler.ReduceLROnPlateau is not None
    assert torch_like.random.manual_seed is nb.manual_seed and torch_like.return_types.max is nb.return_types.max
    assert hasattr(torch_like, "utils") == (importlib.util.find_spec("nnblocks.utils") is not None)
    assert torch_like.Tensor is nb.Tensor and isinstance(torch_like.tensor([1]), torch_like.Tensor)


# ---- clear errors ----------------------------------------------------------------------------------------------------
def _raises(call: Callable, error: type, *words: str) -> BaseException:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "numpy" not in type(info.value).__module__  # an nnblocks error, never NumPy's own
    return info.value


@pytest.mark.parametrize("call, error, words", [
    (lambda: nb.tensor(None), InvalidArgumentError, ["tensor()", "None"]),
    (lambda: nb.Tensor(None), InvalidArgumentError, ["Tensor()", "None"]),
    (lambda: nb.Tensor("abc"), InvalidArgumentError, ["'abc'"]),
    (lambda: nb.tensor("abc"), InvalidArgumentError, ["'abc'", "numbers"]),
    (lambda: nb.Tensor(["1", "2"]), InvalidArgumentError, ["['1', '2']", "float(v)"]),
    (lambda: nb.tensor([object()]), InvalidArgumentError, ["object"]),
    (lambda: nb.tensor({"a": 1}), InvalidArgumentError, ["{'a': 1}"]),
    (lambda: nb.tensor(np.array(["a"])), InvalidArgumentError, ["array(['a']"]),
    (lambda: nb.tensor([[1, 2], [3]]), ShapeError, ["ragged", "[[1, 2], [3]]"]),
    (lambda: nb.Tensor([[1.0], [2.0, 3.0]]), ShapeError, ["ragged"]),
    (lambda: nb.Tensor([1.0], [2.0]), InvalidArgumentError, ["one data argument"]),
    (lambda: nb.from_numpy([1, 2]), InvalidArgumentError, ["from_numpy", "list", "nnblocks.tensor"]),
    (lambda: nb.randint(3, 10), InvalidArgumentError, ["size", "randint(0, 10, (3, 4))"]),
    (lambda: nb.zeros(2.5), InvalidArgumentError, ["sizes must be ints"]),
    (lambda: nb.full(3, 1.0), InvalidArgumentError, ["tuple or list"]),
])
def test_junk_is_refused_at_once_naming_what_was_given(call, error, words):
    raised = _raises(call, error, *words)
    assert isinstance(raised, (TypeError, ValueError))  # PyTorch raises TypeError/ValueError/RuntimeError here


def test_a_gradient_before_backward_is_none_and_cannot_be_used():
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    for use in (lambda: w - w.grad, lambda: w.grad - w, lambda: w * w.grad, lambda: nb.add(w, None)):
        raised = _raises(use, InvalidArgumentError, "None", "backward()")
        assert isinstance(raised, TypeError)  # PyTorch: TypeError (unsupported operand type)
    assert (w == None) is False and (w != None) is True  # noqa: E711 - as PyTorch
    with pytest.raises(InvalidArgumentError, match="None"):
        w < None  # noqa: B015


def test_protocol_errors_are_pythons_exceptions_with_pytorchs_words():
    scalar, row = nb.tensor(2.5), nb.tensor([1.0, 2.0])
    for call in (lambda: list(scalar), lambda: len(scalar), lambda: next(iter(scalar)), lambda: [*scalar]):
        raised = _raises(call, ZeroDimError, "0-d tensor", ".item()")
        assert isinstance(raised, TypeError)  # as PyTorch ("iteration over a 0-d tensor")
    _raises(lambda: f"{row:.4f}", InvalidArgumentError, "0-d tensor only", "(2,)")
    assert f"{row}" == "tensor([1., 2.])"
    _raises(lambda: float(row), ShapeError, "only one element tensors")
    _raises(lambda: bool(row), ShapeError, "one element", ".any()")
    _raises(lambda: bool(nb.tensor([])), ShapeError, "one element")
    _raises(lambda: [1, 2][nb.tensor(1.0)], InvalidArgumentError, "only integer tensors")


@pytest.mark.parametrize("call, error, words", [
    (lambda: nb.norm(nb.ones(2, 2), "nuc"), NotSupportedError, ["'nuc'", "np.linalg.norm"]),
    (lambda: nb.norm(nb.tensor([1, 2])), nb.DTypeError, ["floating-point", ".float()"]),
    (lambda: nb.unique(nb.tensor([1, 1]), dim=0), NotSupportedError, ["unique(dim=", "np.unique"]),
    (lambda: nb.ones(2).sum(out=nb.zeros(())), NotSupportedError, ["out=", "assign the result"]),
    (lambda: nb.ones(2).sum(dtype=nb.float64), NotSupportedError, ["dtype=", ".double()"]),
    (lambda: nb.ones(2).sum(dim=0, axis=0), InvalidArgumentError, ["dim=", "axis="]),
    (lambda: nb.ones(2).mean(dimension=0), InvalidArgumentError, ["mean()", "dimension"]),
    (lambda: nb.ones(2, 3).max(dim=(0, 1)), InvalidArgumentError, ["int", "amax"]),
    (lambda: nb.zeros(0, 3).max(0), ShapeError, ["empty"]),
    (lambda: nb.zeros(0).max(), ShapeError, ["empty"]),
    (lambda: nb.ones(2).topk(3), ShapeError, ["k must be"]),
    (lambda: nb.cat(nb.ones(2)), InvalidArgumentError, ["list", "cat([a, b]"]),
    (lambda: nb.ones(2).add_(1, alpha=2).mul_(2, alpha=3), InvalidArgumentError, ["alpha"]),
    (lambda: nb.tensor([1, 2]).add_(1.5), nb.DTypeError, ["int64", "in place"]),
    (lambda: nb.zeros(2, 2).copy_(nb.ones(3)), ShapeError, ["(3,)", "(2, 2)"]),
    (lambda: setattr(nb.ones(2, requires_grad=True), "grad", np.zeros(2)), InvalidArgumentError, ["Tensor or None"]),
    (lambda: setattr(nb.ones(2, requires_grad=True), "grad", nb.zeros(3)), ShapeError, ["(3,)", "(2,)"]),
    (lambda: setattr(nb.ones(2), "data", [1, 2]), InvalidArgumentError, ["Tensor or a NumPy array"]),
    (lambda: nb.ones(2).to("cpu", "fast"), InvalidArgumentError, ["cannot read", "to(device, dtype)"]),
    (lambda: nb.ones(2).to(object()), DeviceError, ["expected a string such as 'cpu'"]),
])
def test_unsupported_or_wrong_calls_name_the_feature_and_the_alternative(call, error, words):
    _raises(call, error, *words)


def test_in_place_methods_around_a_recorded_graph():
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    _raises(lambda: w.add_(1.0), nb.BackwardError, "leaf", "no_grad()")  # as PyTorch
    y = w * 2.0
    _raises(lambda: y.mul_(3.0), nb.BackwardError, "out-of-place", "y = y.mul(")  # PyTorch records it; nnblocks says
    with nb.no_grad():
        assert w.add_(1.0) is w and w.tolist() == [2.0, 3.0]
    y = w * 2.0
    before = y
    y += 1.0  # rebinds y to a new node (documented in Tensor.__iadd__): the gradient still flows
    assert y is not before and y.grad_fn is not None
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]
    plain = nb.zeros(2)
    plain.add_(nb.tensor([1.0, 2.0]), alpha=2).sub_(1.0).div_(3.0)
    assert plain.tolist() == pytest.approx([1 / 3, 1.0], rel=1e-7)  # float32
    assert plain.fill_(7).tolist() == [7.0, 7.0] and not plain.zero_().any()
