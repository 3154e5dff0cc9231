"""Every differentiable op's gradient against central finite differences in float64 (``nnblocks.gradcheck``).

``CASES`` is the table of ops (one row per op and input layout, broadcasting included); ``test_ops_torch.py`` reuses
it to compare the same ops with PyTorch. A row holds the nnblocks function, the equivalent PyTorch function
(``tfn(torch, F, *tensors)``) and a maker that draws the input arrays from a seeded generator. Float arrays become
tensors that require grad; ``const(array)`` marks a float input that does not (targets); integer and boolean arrays
never do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnblocks as nb
from nnblocks import ops


# --------------------------------------------------------------------------------------------------------------------
# The table of ops
# --------------------------------------------------------------------------------------------------------------------
class const:
    """A float input that is data, not a variable (a target, class probabilities): requires_grad=False."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array, dtype=np.float64)


@dataclass
class Case:
    id: str
    fn: Callable[..., nb.Tensor]
    tfn: Callable[..., Any] | None
    make: Callable[[np.random.Generator], list]


def rn(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def pos(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Values in [0.5, 2]: inputs of log, sqrt, a divisor, a base of a real power."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Normal values pushed at least 0.2 away from 0, so that kinks (abs, relu, clip...) are far from eps."""
    def make(rng: np.random.Generator) -> np.ndarray:
        x = rng.standard_normal(shape)
        return x + 0.2 * np.sign(x) + (x == 0) * 0.3
    return make


def distinct(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """A shuffled grid 0.1 apart: no ties, so max/min/maximum are differentiable at every element."""
    return lambda rng: (rng.permutation(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape) if shape else np.array(0.3)


def probs(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def classes(n: int, c: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.integers(0, c, n).astype(np.int64)


def simplex(n: int, c: int) -> Callable[[np.random.Generator], const]:
    def make(rng: np.random.Generator) -> const:
        p = rng.uniform(0.1, 1.0, (n, c))
        return const(p / p.sum(axis=1, keepdims=True))
    return make


def inputs(*makers: Callable) -> Callable[[np.random.Generator], list]:
    return lambda rng: [m(rng) for m in makers]


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
COND = np.array([[True, False, False, True], [False, True, True, False], [True, True, False, False]])
CLASS_WEIGHT = const(np.array([0.5, 2.0, 1.0, 1.5, 0.25]))


def _torch_T(x: Any) -> Any:
    return x.permute(*reversed(range(x.ndim)))


CASES: list[Case] = []


def case(id: str, fn: Callable, tfn: Callable | None, *makers: Callable) -> None:
    CASES.append(Case(id, fn, tfn, inputs(*makers)))


# ---- arithmetic, with broadcasting ---------------------------------------------------------------------------------
for shapes in [((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1)), ((3, 4), (3, 4))]:
    tag = "x".join(map(str, shapes[0])) + "_" + "x".join(map(str, shapes[1]))
    case(f"add_{tag}", lambda a, b: a + b, lambda T, F, a, b: a + b, rn(*shapes[0]), rn(*shapes[1]))
    case(f"sub_{tag}", lambda a, b: a - b, lambda T, F, a, b: a - b, rn(*shapes[0]), rn(*shapes[1]))
    case(f"mul_{tag}", lambda a, b: a * b, lambda T, F, a, b: a * b, rn(*shapes[0]), rn(*shapes[1]))
    case(f"div_{tag}", lambda a, b: a / b, lambda T, F, a, b: a / b, rn(*shapes[0]), pos(*shapes[1]))
    case(f"pow_{tag}", lambda a, b: a**b, lambda T, F, a, b: a**b, pos(*shapes[0]), rn(*shapes[1]))
case("add_scalar", lambda a: a + 2.5, lambda T, F, a: a + 2.5, rn(3, 4))
case("radd_scalar", lambda a: 2.5 + a, lambda T, F, a: 2.5 + a, rn(3, 4))
case("rsub_scalar", lambda a: 1.5 - a, lambda T, F, a: 1.5 - a, rn(3, 4))
case("rmul_scalar", lambda a: 3.0 * a, lambda T, F, a: 3.0 * a, rn(3, 4))
case("rdiv_scalar", lambda a: 2.0 / a, lambda T, F, a: 2.0 / a, pos(3, 4))
case("div_scalar", lambda a: a / 4.0, lambda T, F, a: a / 4.0, rn(3, 4))
case("pow_3", lambda a: a**3, lambda T, F, a: a**3, rn(3, 4))
case("pow_2.5", lambda a: a**2.5, lambda T, F, a: a**2.5, pos(3, 4))
case("pow_neg_half", lambda a: a ** -0.5, lambda T, F, a: a ** -0.5, pos(5))
case("rpow", lambda a: 2.0**a, lambda T, F, a: 2.0**a, rn(3, 4))
case("neg", lambda a: -a, lambda T, F, a: -a, rn(3, 4))
case("ops.neg", ops.neg, lambda T, F, a: T.neg(a), rn(2, 3))

# ---- matrix products ------------------------------------------------------------------------------------------------
for sa, sb in [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
               ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]:
    tag = "x".join(map(str, sa)) + "@" + "x".join(map(str, sb))
    case(f"matmul_{tag}", lambda a, b: a @ b, lambda T, F, a, b: a @ b, rn(*sa), rn(*sb))
case("matmul_fn", ops.matmul, lambda T, F, a, b: T.matmul(a, b), rn(2, 3), rn(3, 2))
case("matmul_method", lambda a, b: a.matmul(b), lambda T, F, a, b: a.matmul(b), rn(2, 3), rn(3, 2))

# ---- elementwise functions ------------------------------------------------------------------------------------------
case("exp", lambda a: a.exp(), lambda T, F, a: a.exp(), rn(3, 4))
case("log", lambda a: a.log(), lambda T, F, a: a.log(), pos(3, 4))
case("sqrt", lambda a: a.sqrt(), lambda T, F, a: a.sqrt(), pos(3, 4))
case("abs", lambda a: a.abs(), lambda T, F, a: a.abs(), away(3, 4))
case("ops.exp", ops.exp, lambda T, F, a: T.exp(a), rn(4))
case("ops.log", ops.log, lambda T, F, a: T.log(a), pos(4))
case("ops.sqrt", ops.sqrt, lambda T, F, a: T.sqrt(a), pos(4))
case("ops.abs", ops.abs, lambda T, F, a: T.abs(a), away(4))
case("square", lambda a: a.square(), lambda T, F, a: T.square(a), rn(3, 4))
case("clone", lambda a: (a.clone() * a), lambda T, F, a: a.clone() * a, rn(3, 4))

# ---- reductions -----------------------------------------------------------------------------------------------------
for dim, keep in [(None, False), (0, False), (-1, True), ((0, 2), False), ((-1, -3), True), (1, True), ((), False)]:
    if dim == ():
        continue  # torch reads dim=() as "all dims"; not a layout worth pinning down
    kw = {} if dim is None else {"dim": dim, "keepdim": keep}
    case(f"sum_{dim}_{keep}", lambda a, kw=kw: a.sum(**kw), lambda T, F, a, kw=kw: a.sum(**kw), rn(2, 3, 4))
    case(f"mean_{dim}_{keep}", lambda a, kw=kw: a.mean(**kw), lambda T, F, a, kw=kw: a.mean(**kw), rn(2, 3, 4))
    case(f"amax_{dim}_{keep}", lambda a, kw=kw: a.amax(**kw), lambda T, F, a, kw=kw: T.amax(a, **kw),
         distinct(2, 3, 4))
    case(f"amin_{dim}_{keep}", lambda a, kw=kw: a.amin(**kw), lambda T, F, a, kw=kw: T.amin(a, **kw),
         distinct(2, 3, 4))
    if dim is None or isinstance(dim, int):  # max(dim) takes one dim and returns (values, indices)
        case(f"max_{dim}_{keep}", lambda a, kw=kw: a.max(**kw) if not kw else a.max(**kw).values,
             lambda T, F, a, kw=kw: a.max(**kw) if not kw else a.max(**kw).values, distinct(2, 3, 4))
        case(f"min_{dim}_{keep}", lambda a, kw=kw: a.min(**kw) if not kw else a.min(**kw).values,
             lambda T, F, a, kw=kw: a.min(**kw) if not kw else a.min(**kw).values, distinct(2, 3, 4))
case("ops.sum", lambda a: ops.sum(a, 1), lambda T, F, a: T.sum(a, 1), rn(3, 4))
case("ops.mean", lambda a: ops.mean(a, 0, True), lambda T, F, a: T.mean(a, 0, True), rn(3, 4))
case("ops.max", lambda a: ops.max(a, 1).values, lambda T, F, a: T.max(a, 1).values, distinct(3, 4))
case("ops.min", lambda a: ops.min(a), lambda T, F, a: T.min(a), distinct(3, 4))
case("max_0d_dim", lambda a: a.max(0).values, lambda T, F, a: a.max(0).values, rn())
for p in (1, 2, 3, 0.5, float("inf"), float("-inf"), "fro"):
    case(f"norm_{p}", lambda a, p=p: nb.norm(a, p), lambda T, F, a, p=p: T.norm(a, p), away(3, 4))
case("norm_dim", lambda a: a.norm(2, 1), lambda T, F, a: a.norm(2, 1), rn(3, 4))
case("norm_dims_keepdim", lambda a: a.norm(p=1, dim=(0, 2), keepdim=True),
     lambda T, F, a: a.norm(p=1, dim=(0, 2), keepdim=True), away(2, 3, 4))
case("sort", lambda a: a.sort(1).values, lambda T, F, a: a.sort(1).values, distinct(3, 4))
case("sort_descending", lambda a: nb.sort(a, 0, descending=True).values,
     lambda T, F, a: T.sort(a, 0, descending=True).values, distinct(3, 4))
case("topk", lambda a: a.topk(2).values, lambda T, F, a: a.topk(2).values, distinct(3, 4))
case("topk_smallest_dim0", lambda a: nb.topk(a, 2, dim=0, largest=False).values,
     lambda T, F, a: T.topk(a, 2, dim=0, largest=False).values, distinct(3, 4))
case("gather", lambda a, i: nb.gather(a, 1, i), lambda T, F, a, i: T.gather(a, 1, i), rn(3, 4),
     lambda rng: rng.integers(0, 4, (3, 5)).astype(np.int64))
case("sum_of_scalar", lambda a: a.sum(), lambda T, F, a: a.sum(), rn())

# ---- shapes ---------------------------------------------------------------------------------------------------------
case("reshape_tuple", lambda a: a.reshape((6, 4)), lambda T, F, a: a.reshape((6, 4)), rn(2, 3, 4))
case("reshape_args_-1", lambda a: a.reshape(4, -1), lambda T, F, a: a.reshape(4, -1), rn(2, 3, 4))
case("reshape_flat", lambda a: a.reshape(-1), lambda T, F, a: a.reshape(-1), rn(2, 3, 4))
case("view", lambda a: a.view(3, 8), lambda T, F, a: a.reshape(3, 8), rn(2, 3, 4))
case("ops.reshape", lambda a: ops.reshape(a, 12, 2), lambda T, F, a: T.reshape(a, (12, 2)), rn(2, 3, 4))
case("flatten", lambda a: a.flatten(), lambda T, F, a: a.flatten(), rn(2, 3, 4))
case("flatten_1", lambda a: a.flatten(1), lambda T, F, a: a.flatten(1), rn(2, 3, 4))
case("flatten_0_1", lambda a: a.flatten(0, 1), lambda T, F, a: a.flatten(0, 1), rn(2, 3, 4))
case("transpose_default", lambda a: a.transpose(), lambda T, F, a: a.transpose(0, 1), rn(3, 4))
case("transpose_0_2", lambda a: a.transpose(0, 2), lambda T, F, a: a.transpose(0, 2), rn(2, 3, 4))
case("transpose_-1_-2", lambda a: a.transpose(-1, -2), lambda T, F, a: a.transpose(-1, -2), rn(2, 3, 4))
case("permute_args", lambda a: a.permute(2, 0, 1), lambda T, F, a: a.permute(2, 0, 1), rn(2, 3, 4))
case("permute_tuple_neg", lambda a: a.permute((-1, 0, 1)), lambda T, F, a: a.permute(-1, 0, 1), rn(2, 3, 4))
case("T_2d", lambda a: a.T, lambda T, F, a: a.T, rn(3, 4))
case("T_3d", lambda a: a.T, lambda T, F, a: _torch_T(a), rn(2, 3, 4))
case("unsqueeze_1", lambda a: a.unsqueeze(1), lambda T, F, a: a.unsqueeze(1), rn(3, 4))
case("unsqueeze_-1", lambda a: a.unsqueeze(-1), lambda T, F, a: a.unsqueeze(-1), rn(3, 4))
case("squeeze_all", lambda a: a.squeeze(), lambda T, F, a: a.squeeze(), rn(3, 1, 4, 1))
case("squeeze_1", lambda a: a.squeeze(1), lambda T, F, a: a.squeeze(1), rn(3, 1, 4, 1))

# ---- indexing -------------------------------------------------------------------------------------------------------
case("index_int", lambda a: a[1], lambda T, F, a: a[1], rn(3, 4))
case("index_neg_int", lambda a: a[-1, 2], lambda T, F, a: a[-1, 2], rn(3, 4))
case("index_slice", lambda a: a[:, 1:3], lambda T, F, a: a[:, 1:3], rn(3, 4))
case("index_step_slice", lambda a: a[::2, -1], lambda T, F, a: a[::2, -1], rn(3, 4))
case("index_ellipsis", lambda a: a[..., 1], lambda T, F, a: a[..., 1], rn(2, 3, 4))
case("index_none", lambda a: a[None, 1:], lambda T, F, a: a[None, 1:], rn(3, 4))
case("index_repeated", lambda a: a[[0, 2, 0, 0]], lambda T, F, a: a[[0, 2, 0, 0]], rn(3, 4))
case("index_int_and_list", lambda a: a[1, [0, 2, 2]], lambda T, F, a: a[1, [0, 2, 2]], rn(3, 4))
case("index_two_arrays", lambda a: a[[0, 1, 1], [3, 3, 0]], lambda T, F, a: a[[0, 1, 1], [3, 3, 0]], rn(3, 4))
case("index_tensor", lambda a: a[nb.tensor([2, 2, 1])], lambda T, F, a: a[T.tensor([2, 2, 1])], rn(3, 4))
case("index_mask", lambda a: a[MASK], lambda T, F, a: a[T.from_numpy(MASK)], rn(3, 4))
case("index_mask_tensor", lambda a: a[nb.tensor(MASK)], lambda T, F, a: a[T.from_numpy(MASK)], rn(3, 4))
case("index_row_mask", lambda a: a[np.array([True, False, True])],
     lambda T, F, a: a[T.tensor([True, False, True])], rn(3, 4))

# ---- joining, selecting ---------------------------------------------------------------------------------------------
case("cat_0", lambda a, b: nb.cat([a, b]), lambda T, F, a, b: T.cat([a, b]), rn(2, 3), rn(4, 3))
case("cat_-1_three", lambda a, b, c: nb.cat([a, b, c], dim=-1), lambda T, F, a, b, c: T.cat([a, b, c], dim=-1),
     rn(2, 1), rn(2, 3), rn(2, 2))
case("concatenate_1", lambda a, b: nb.concatenate((a, b), 1), lambda T, F, a, b: T.cat((a, b), 1),
     rn(2, 2, 3), rn(2, 1, 3))
case("stack_0", lambda a, b: nb.stack([a, b]), lambda T, F, a, b: T.stack([a, b]), rn(3, 4), rn(3, 4))
case("stack_1", lambda a, b, c: nb.stack([a, b, c], dim=1), lambda T, F, a, b, c: T.stack([a, b, c], dim=1),
     rn(3, 4), rn(3, 4), rn(3, 4))
case("stack_-1", lambda a, b: nb.stack([a, b], dim=-1), lambda T, F, a, b: T.stack([a, b], dim=-1), rn(3), rn(3))
case("where", lambda a, b: nb.where(COND, a, b), lambda T, F, a, b: T.where(T.from_numpy(COND), a, b),
     rn(3, 4), rn(3, 4))
case("where_broadcast", lambda a, b: nb.where(COND, a, b), lambda T, F, a, b: T.where(T.from_numpy(COND), a, b),
     rn(3, 1), rn(4))
case("where_scalar", lambda a: nb.where(nb.tensor(COND), a, 0.0),
     lambda T, F, a: T.where(T.from_numpy(COND), a, 0.0), rn(3, 4))
case("where_scalar_first", lambda b: nb.where(COND, -1.0, b),
     lambda T, F, b: T.where(T.from_numpy(COND), -1.0, b), rn(3, 4))
case("maximum", lambda a, b: nb.maximum(a, b), lambda T, F, a, b: T.maximum(a, b), distinct(3, 4),
     lambda rng: distinct(3, 4)(rng) + 0.05)
case("maximum_broadcast", lambda a, b: nb.maximum(a, b), lambda T, F, a, b: T.maximum(a, b),
     distinct(3, 4), lambda rng: distinct(4)(rng) + 0.05)
case("maximum_scalar", lambda a: nb.maximum(a, 0.0), lambda T, F, a: T.clamp(a, min=0.0), away(3, 4))
case("minimum", lambda a, b: nb.minimum(a, b), lambda T, F, a, b: T.minimum(a, b), distinct(3, 4),
     lambda rng: distinct(3, 4)(rng) + 0.05)
case("minimum_broadcast", lambda a, b: nb.minimum(a, b), lambda T, F, a, b: T.minimum(a, b),
     lambda rng: distinct(3, 1)(rng) + 0.05, distinct(3, 4))
case("clip_both", lambda a: a.clip(-0.5, 0.5), lambda T, F, a: a.clamp(-0.5, 0.5),
     lambda rng: np.array([-1.3, -0.7, -0.2, 0.1, 0.3, 0.8, 1.9, -0.45]))
case("clip_min", lambda a: nb.clip(a, min=0.1), lambda T, F, a: a.clamp(min=0.1), away(3, 4))
case("clamp_max", lambda a: nb.clamp(a, max=0.1), lambda T, F, a: a.clamp(max=0.1), away(3, 4))
case("clamp_method", lambda a: a.clamp(-1.0, 1.0), lambda T, F, a: a.clamp(-1.0, 1.0),
     lambda rng: np.array([-2.0, -0.5, 0.25, 0.9, 3.0]))

# ---- activations ----------------------------------------------------------------------------------------------------
case("relu", lambda a: a.relu(), lambda T, F, a: F.relu(a), away(3, 4))
case("ops.relu", ops.relu, lambda T, F, a: T.relu(a), away(5))
case("leaky_relu", lambda a: a.leaky_relu(), lambda T, F, a: F.leaky_relu(a), away(3, 4))
case("leaky_relu_0.2", lambda a: ops.leaky_relu(a, 0.2), lambda T, F, a: F.leaky_relu(a, 0.2), away(3, 4))
case("sigmoid", lambda a: a.sigmoid(), lambda T, F, a: T.sigmoid(a), lambda rng: 4 * rng.standard_normal((3, 4)))
case("ops.sigmoid", nb.sigmoid, lambda T, F, a: T.sigmoid(a), rn(5))
case("tanh", lambda a: a.tanh(), lambda T, F, a: T.tanh(a), rn(3, 4))
case("ops.tanh", nb.tanh, lambda T, F, a: T.tanh(a), rn(5))
case("softmax", lambda a: a.softmax(), lambda T, F, a: T.softmax(a, -1), rn(3, 5))
case("softmax_0", lambda a: nb.softmax(a, 0), lambda T, F, a: T.softmax(a, 0), rn(3, 5))
case("softmax_3d_1", lambda a: a.softmax(1), lambda T, F, a: T.softmax(a, 1), rn(2, 3, 4))
case("softmax_large", lambda a: a.softmax(), lambda T, F, a: T.softmax(a, -1),
     lambda rng: rng.standard_normal((2, 4)) + 500.0)
case("log_softmax", lambda a: a.log_softmax(), lambda T, F, a: T.log_softmax(a, -1), rn(3, 5))
case("log_softmax_0", lambda a: ops.log_softmax(a, 0), lambda T, F, a: T.log_softmax(a, 0), rn(3, 5))
case("log_softmax_3d_1", lambda a: a.log_softmax(1), lambda T, F, a: T.log_softmax(a, 1), rn(2, 3, 4))

# ---- fused linear ---------------------------------------------------------------------------------------------------
case("linear_bias", ops.linear, lambda T, F, x, w, b: F.linear(x, w, b), rn(4, 3), rn(5, 3), rn(5))
case("linear_no_bias", ops.linear, lambda T, F, x, w: F.linear(x, w), rn(4, 3), rn(5, 3))
case("linear_3d", ops.linear, lambda T, F, x, w, b: F.linear(x, w, b), rn(2, 4, 3), rn(5, 3), rn(5))
case("linear_1d", ops.linear, lambda T, F, x, w, b: F.linear(x, w, b), rn(3), rn(2, 3), rn(2))
case("linear_const_x", lambda x, w, b: ops.linear(x, w, b), lambda T, F, x, w, b: F.linear(x, w, b),
     lambda rng: const(rng.standard_normal((4, 3))), rn(2, 3), rn(2))

# ---- losses ---------------------------------------------------------------------------------------------------------
for red in ("mean", "sum", "none"):
    case(f"cross_entropy_idx_{red}", lambda x, t, r=red: ops.cross_entropy(x, t, reduction=r),
         lambda T, F, x, t, r=red: F.cross_entropy(x, t, reduction=r), rn(6, 5), classes(6, 5))
    case(f"cross_entropy_idx_weight_{red}",
         lambda x, t, w, r=red: ops.cross_entropy(x, t, weight=w, reduction=r),
         lambda T, F, x, t, w, r=red: F.cross_entropy(x, t, weight=w, reduction=r),
         rn(6, 5), classes(6, 5), lambda rng: CLASS_WEIGHT)
    case(f"cross_entropy_prob_{red}", lambda x, t, r=red: ops.cross_entropy(x, t, reduction=r),
         lambda T, F, x, t, r=red: F.cross_entropy(x, t, reduction=r), rn(4, 5), simplex(4, 5))
    case(f"cross_entropy_prob_weight_{red}",
         lambda x, t, w, r=red: ops.cross_entropy(x, t, weight=w, reduction=r),
         lambda T, F, x, t, w, r=red: F.cross_entropy(x, t, weight=w, reduction=r),
         rn(4, 5), simplex(4, 5), lambda rng: CLASS_WEIGHT)
    case(f"nll_loss_{red}", lambda x, t, r=red: ops.nll_loss(x, t, reduction=r),
         lambda T, F, x, t, r=red: F.nll_loss(x, t, reduction=r), rn(6, 5), classes(6, 5))
    case(f"nll_loss_weight_{red}", lambda x, t, w, r=red: ops.nll_loss(x, t, weight=w, reduction=r),
         lambda T, F, x, t, w, r=red: F.nll_loss(x, t, weight=w, reduction=r),
         rn(6, 5), classes(6, 5), lambda rng: CLASS_WEIGHT)
    case(f"mse_loss_{red}", lambda p, y, r=red: ops.mse_loss(p, y, reduction=r),
         lambda T, F, p, y, r=red: F.mse_loss(p, y, reduction=r), rn(3, 4), rn(3, 4))
    case(f"l1_loss_{red}", lambda p, y, r=red: ops.l1_loss(p, y, reduction=r),
         lambda T, F, p, y, r=red: F.l1_loss(p, y, reduction=r),
         away(3, 4), lambda rng: const(rng.standard_normal((3, 4)) * 0.05))
    case(f"bce_{red}", lambda p, y, r=red: ops.binary_cross_entropy(p, y, reduction=r),
         lambda T, F, p, y, r=red: F.binary_cross_entropy(p, y, reduction=r),
         probs(3, 4), lambda rng: const(rng.uniform(0, 1, (3, 4))))
    case(f"bce_logits_{red}", lambda x, y, r=red: ops.binary_cross_entropy_with_logits(x, y, reduction=r),
         lambda T, F, x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r),
         lambda rng: 3 * rng.standard_normal((3, 4)), lambda rng: const(rng.uniform(0, 1, (3, 4))))
case("cross_entropy_of_log_softmax_is_nll", lambda x, t: ops.nll_loss(x.log_softmax(), t),
     lambda T, F, x, t: F.nll_loss(T.log_softmax(x, -1), t), rn(5, 3), classes(5, 3))
# targets that require gradients (PyTorch differentiates w.r.t. them too)
case("mse_loss_target_grad", ops.mse_loss, lambda T, F, p, y: F.mse_loss(p, y), rn(2, 3), rn(2, 3))
case("l1_loss_target_grad", ops.l1_loss, lambda T, F, p, y: F.l1_loss(p, y), away(2, 3), lambda rng: rn(2, 3)(rng) * 0.05)
case("bce_target_grad", ops.binary_cross_entropy, lambda T, F, p, y: F.binary_cross_entropy(p, y),
     probs(2, 3), probs(2, 3))
case("bce_logits_target_grad", ops.binary_cross_entropy_with_logits,
     lambda T, F, x, y: F.binary_cross_entropy_with_logits(x, y), rn(2, 3), probs(2, 3))

# ---- a small composite: a two-layer network's loss -----------------------------------------------------------------
case("mlp_loss",
     lambda x, w1, b1, w2, b2, t: ops.cross_entropy(ops.linear(ops.linear(x, w1, b1).tanh(), w2, b2), t),
     lambda T, F, x, w1, b1, w2, b2, t: F.cross_entropy(F.linear(T.tanh(F.linear(x, w1, b1)), w2, b2), t),
     rn(5, 3), rn(4, 3), rn(4), rn(3, 4), rn(3), classes(5, 3))


def build(case_: Case, dtype: Any, seed: int = 0) -> list[nb.Tensor]:
    """The case's inputs as nnblocks tensors of ``dtype`` (floats), int64 (classes) or bool (masks)."""
    tensors = []
    for a in case_.make(np.random.default_rng(seed)):
        if isinstance(a, const):
            tensors.append(nb.Tensor(a.array.astype(dtype)))
        elif np.asarray(a).dtype.kind == "f":
            tensors.append(nb.Tensor(np.asarray(a, dtype=dtype), requires_grad=True))
        else:
            tensors.append(nb.Tensor(np.asarray(a)))
    return tensors


# --------------------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------------------
def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_gradient_matches_central_differences(c: Case) -> None:
    tensors = build(c, np.float64)
    report = nb.gradcheck(c.fn, tensors)
    assert report.ok and len(report.checks) == sum(t.requires_grad for t in tensors)
    for check in report.checks:
        assert check.max_abs_error < 1e-6, str(check)


def test_forward_values_by_hand() -> None:
    """A few forward values worked out by hand, so that the gradient checks above test the right function."""
    a = nb.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64)
    np.testing.assert_array_equal((a @ a).data, [[7.0, 10.0], [15.0, 22.0]])
    np.testing.assert_array_equal(a.sum(0).data, [4.0, 6.0])
    np.testing.assert_array_equal(a.max(1).values.data, [2.0, 4.0])
    np.testing.assert_array_equal(a.max(1).indices.data, [1, 1])
    assert nb.norm(a, 1).item() == 10.0 and nb.norm(a).item() == np.sqrt(30.0)
    np.testing.assert_allclose(a.softmax().data[0], [1 / (1 + np.e), np.e / (1 + np.e)])
    # row 0: logsumexp(1, 2) - 2 = log(1 + e) - 1;  row 1: logsumexp(3, 4) - 3 = log(1 + e)
    np.testing.assert_allclose(ops.cross_entropy(a, nb.tensor([1, 0])).item(), np.log(1 + np.e) - 0.5, rtol=1e-12)
    np.testing.assert_array_equal(nb.clip(a, 1.5, 3.5).data, [[1.5, 2.0], [3.0, 3.5]])
    np.testing.assert_array_equal(a[[1, 1]].data, [[3.0, 4.0], [3.0, 4.0]])


def test_repeated_index_scatter_adds() -> None:
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_max_ties_amax_splits_max_dim_picks_the_returned_index() -> None:
    # PyTorch's rules (checked against torch 2.13 in test_torch_api.py): x.max() and amax split the gradient evenly
    # between tied maxima; x.max(dim) sends it whole to the index it returns, the first maximum.
    x = nb.tensor([[1.0, 5.0, 5.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    y = nb.tensor([[1.0, 5.0, 5.0], [2.0, 0.0, 2.0]], requires_grad=True)
    y.amax(dim=1).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    y.grad = None
    values, indices = y.max(dim=1)
    values.sum().backward()
    np.testing.assert_array_equal(indices.data, [1, 0])
    np.testing.assert_array_equal(y.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def test_comparisons_and_argmax_carry_no_gradient() -> None:
    x = nb.tensor([[0.5, -1.0, 2.0], [3.0, 0.0, -2.0]], requires_grad=True)
    for out, expected in [
        (x > 0, [[True, False, True], [True, False, False]]),
        (x >= 0, [[True, False, True], [True, True, False]]),
        (x < 0.5, [[False, True, False], [False, True, True]]),
        (x <= 0.5, [[True, True, False], [False, True, True]]),
        (x.eq(0.0), [[False, False, False], [False, True, False]]),
        (x.ne(0.0), [[True, True, True], [True, False, True]]),
        (x.argmax(), 3),
        (x.argmax(dim=1), [2, 0]),
        (x.argmax(dim=1, keepdim=True), [[2], [0]]),
        (x.argmin(dim=0), [0, 0, 1]),
    ]:
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.data, expected)
    assert (x > 0).dtype == np.bool_ and x.argmax(dim=1).dtype == np.int64


def test_dot_product_of_vectors_backward() -> None:
    """Regression: vector @ vector gives a 0-d output whose gradient once failed to reshape in MatMul.backward."""
    a = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = nb.tensor([4.0, 5.0, 6.0], requires_grad=True)
    out = a @ b
    assert out.shape == () and out.item() == 32.0
    out.backward()
    np.testing.assert_array_equal(a.grad, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


# ---- Hypothesis: broadcasting shapes ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(["add", "sub", "mul", "div", "where"]), seed=st.integers(0, 2**16))
def test_broadcast_gradients(shapes: Any, op: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = nb.Tensor(rng.standard_normal(sa), requires_grad=True)
    b = nb.Tensor(rng.uniform(0.5, 2.0, sb), requires_grad=True)
    cond = rng.random(shapes.result_shape) < 0.5
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "where": lambda a, b: nb.where(cond, a, b)}[op]
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    report = nb.gradcheck(fn, [a, b], seed=seed)
    assert report.ok, str(report)


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_reduction_gradients_over_any_dims(shape: tuple, data: Any) -> None:
    ndim = len(shape)
    dims = data.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                              unique_by=lambda d: d % ndim))
    keepdim = data.draw(st.booleans())
    op = data.draw(st.sampled_from(["sum", "mean", "amax"]))
    size = int(np.prod(shape))
    x = nb.Tensor((np.random.default_rng(size).permutation(size) * 0.1).reshape(shape), requires_grad=True)
    fn = lambda t: getattr(t, op)(dim=tuple(dims), keepdim=keepdim)  # noqa: E731
    expected = getattr(np, {"sum": "sum", "mean": "mean", "amax": "max"}[op])(x.data, axis=tuple(dims),
                                                                            keepdims=keepdim)
    np.testing.assert_allclose(fn(x).data, expected)
    assert nb.gradcheck(fn, [x]).ok


def test_maximum_minimum_split_ties_like_pytorch():
    # max(a, b) at a tie: both inputs share the gradient 1/2 each (torch.maximum's rule); elsewhere the larger wins.
    a = nb.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = nb.Tensor([1.0, 3.0, 2.0], requires_grad=True)
    nb.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    nb.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0, 1.0])
