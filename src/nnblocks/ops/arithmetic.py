"""Elementwise arithmetic and matrix products, each forward beside its derivative.

For z = f(a, b) and an upstream gradient g = dL/dz, backward returns (g * dz/da, g * dz/db), summed back to each
input's shape when broadcasting stretched it (``unbroadcast``). ``derivatives`` are the same dz/da, dz/db as the
chain-rule trace prints them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import DTypeError, ShapeError
from nnblocks.ops import blas
from nnblocks.ops.base import Function, unbroadcast
from nnblocks.ops.registry import register
from nnblocks.tensor import Tensor


@register("add")
class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    kind = "elementwise"
    formula = "{z} = {a} + {b}"
    derivatives = ("1", "1")

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g: np.ndarray) -> tuple:
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


@register("sub")
class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    kind = "elementwise"
    formula = "{z} = {a} - {b}"
    derivatives = ("1", "-1")

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g: np.ndarray) -> tuple:
        gb = unbroadcast(-g, self.shapes[1]) if self.needs_input_grad[1] else None
        return unbroadcast(g, self.shapes[0]), gb


@register("mul")
class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a."""

    kind = "elementwise"
    formula = "{z} = {a} * {b}"
    derivatives = ("{b}{i}", "{a}{i}")

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a * b

    def backward(self, g: np.ndarray) -> tuple:
        ga = unbroadcast(g * self.b, self.a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb


@register("div")
class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b^2 = -z/b."""

    kind = "elementwise"
    formula = "{z} = {a} / {b}"
    derivatives = ("1/{b}", "-{a}/{b}^2")

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a / b

    def backward(self, g: np.ndarray) -> tuple:
        ga = unbroadcast(g / self.b, self.a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * self.a / (self.b * self.b), self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb


@register("pow")
class Pow(Function):
    """z = a ** b;  dz/da = b * a^(b-1), dz/db = z * ln(a)  (defined for a > 0)."""

    kind = "elementwise"
    formula = "{z} = {a}^{b}"
    derivatives = ("{b} {a}^({b}-1)", "{z} ln {a}")

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        self.z = a**b
        return self.z

    def backward(self, g: np.ndarray) -> tuple:
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g * self.b * self.a ** (self.b - 1), self.a.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(self.a > 0, np.log(np.where(self.a > 0, self.a, 1)), 0)
            gb = unbroadcast(g * self.z * log_a, self.b.shape)
        return ga, gb


@register("neg")
class Neg(Function):
    """z = -a;  dz/da = -1."""

    kind = "elementwise"
    formula = "{z} = neg({a})"
    derivatives = ("-1",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, g: np.ndarray) -> np.ndarray:
        return -g


@register("exp")
class Exp(Function):
    """z = e^a;  dz/da = e^a = z."""

    kind = "elementwise"
    formula = "{z} = exp({a})"
    derivatives = ("{z}",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.z = np.exp(a)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.z


@register("log")
class Log(Function):
    """z = ln a;  dz/da = 1/a."""

    kind = "elementwise"
    formula = "{z} = log({a})"
    derivatives = ("1/{a}",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return np.log(a)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g / self.a


@register("sqrt")
class Sqrt(Function):
    """z = sqrt(a);  dz/da = 1 / (2 sqrt(a)) = 1 / (2z)."""

    kind = "elementwise"
    formula = "{z} = sqrt({a})"
    derivatives = ("1/(2 {z})",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.z = np.sqrt(a)
        return self.z

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g / (2 * self.z)


@register("abs")
class Abs(Function):
    """z = |a|;  dz/da = sign(a) (0 at a = 0, as PyTorch)."""

    kind = "elementwise"
    formula = "{z} = abs({a})"
    derivatives = ("sign({a})",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return np.abs(a)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * np.sign(self.a)


@register("square")
class Square(Function):
    """z = a^2;  dz/da = 2a."""

    kind = "elementwise"
    formula = "{z} = {a}^2"
    derivatives = ("2{a}{i}",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * a

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (2 * self.a)


@register("clone")
class Clone(Function):
    """z = a copy of a (its own array);  dz/da = 1. The graph goes through it, unlike ``detach()``."""

    kind = "elementwise"
    formula = "{z} = clone({a})"
    derivatives = ("1",)

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g


def _check_matmul(name: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{name}: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ShapeError(
            f"{name}: shapes {a.shape} and {b.shape} cannot be multiplied "
            f"({inner_a} columns on the left, {inner_b} rows on the right)"
        )
    if a.dtype != b.dtype and a.dtype.kind == "f" and b.dtype.kind == "f":
        raise DTypeError(
            f"{name}: operands have different dtypes {a.dtype} (shape {a.shape}) and {b.dtype} (shape {b.shape}); "
            "convert one with .float() or .double() (nnblocks never upcasts silently in a matrix product)"
        )


@register("matmul")
class MatMul(Function):
    """Z = A @ B (batched over leading axes, 1-D operands as in NumPy);  dL/dA = G @ B^T, dL/dB = A^T @ G."""

    kind = "matmul"
    formula = "{z} = {a} @ {b};  dL/d{a} = dL/d{z} @ {b}^T,  dL/d{b} = {a}^T @ dL/d{z}"

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        _check_matmul("matmul", a, b)
        self.a, self.b = a, b
        return a @ b

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.a, self.b
        # Treat 1-D operands as a row (left) or a column (right) vector, then drop the added axis again.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # (column axis first, so that a 0-d gradient of vector @ vector becomes (1, 1))
        g2 = g
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape) if a.ndim > 1 else ga.reshape(-1, a.shape[0]).sum(0)
        if self.needs_input_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g2
            gb = unbroadcast(gb, b2.shape).reshape(b.shape) if b.ndim > 1 else gb.reshape(-1, b.shape[0]).sum(0)
        return ga, gb

    def local_derivatives(self, ones: np.ndarray) -> tuple:
        """dZ[i,j]/dA[i,p] = B[p,j],  dZ[i,j]/dB[p,j] = A[i,p]."""
        return self.b, self.a


_SMALL_BATCH = 64  # rows up to which Linear multiplies W X^T (see Linear.forward)...
_LARGE_WEIGHT = 1 << 16  # ...when W is this large: for a tiny layer the copy back costs more than it saves


def _defers(g: np.ndarray, x: np.ndarray, w: np.ndarray, g_owned: bool) -> bool:
    """Whether Linear's backward keeps dW = G^T X as its factors (``blas.DeferredProduct``): for a large weight
    (below, the Python costs more than the pass saved) when what it copies is at most half its size: X, and G unless
    the walk owns it (``Function.owns_grad``). Measured on the 784-1000 layer, backward + step per batch with and
    without, both factors copied (in-process, alternated): batch 64 1.10-1.15 ms against 1.17-1.33, 128 2.32-2.49
    against 2.51-2.92, 256 3.63-4.09 against 3.83-4.18 (even). Copying X alone, batch 256 defers: the whole loop ran
    36.1-40.5k samples/s against 33.6-37.1k in 4 alternated rounds (with ReLU's in-place backward)."""
    copied = x.size if g_owned else x.size + g.size
    return w.size >= _LARGE_WEIGHT and 2 * copied <= w.size and blas.routine("gemm", w.dtype) is not None


class Linear(Function):
    """Fused affine map Y = X W^T + b, PyTorch's layout (W is (out, in)).

    dL/dX = G W,   dL/dW = G^T X,   dL/db = sum of G over the batch.
    One op instead of three (matmul, transpose, add) saves two graph nodes and a temporary per layer, and lets
    backward skip dL/dX for the first layer, whose input is data.
    """

    kind = "linear"

    @property
    def formula(self) -> str:  # type: ignore[override] - with or without the bias
        if self.has_bias:
            return ("{z} = {a} {b}^T + {c};  d{z}[i]/d{b}[i,j] = {a}[j],  d{z}[i]/d{c}[i] = 1,"
                    "  d{z}[i]/d{a}[j] = {b}[i,j]")
        return "{z} = {a} {b}^T;  d{z}[i]/d{b}[i,j] = {a}[j],  d{z}[i]/d{a}[j] = {b}[i,j]"

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ShapeError(
                f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                f"(the input's last dimension must equal in_features = weight.shape[1])"
            )
        if x.dtype != w.dtype:
            raise DTypeError(
                f"linear: input dtype {x.dtype} differs from weight dtype {w.dtype}; convert the input with "
                ".float() (or the model's parameters to float64)"
            )
        self.x, self.w, self.has_bias = x, w, b is not None
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        if x2.shape[0] <= _SMALL_BATCH and w.size >= _LARGE_WEIGHT:
            # A small batch: Y column-major, which OpenBLAS computes from W as stored without packing a transposed
            # operand, then copied to row-major (the bias added on the way), since an elementwise op mixing layouts
            # is ~10x slower (ReLU's backward: 267 vs 27 us at batch 32). 784-1000 layer at batch 32, SciPy's gemm:
            # 0.30-0.46 ms against 0.42-0.64 row-major. The limit of 64 comes from NumPy's matmul on one thread
            # (batch 64: 1.11 vs 1.40 ms, 128: 2.10 vs 2.15, 256: 5.8 vs 5.5, slower).
            column_major = blas.gemm(x2, w.T, order="F")
            y = np.empty(column_major.shape, column_major.dtype)
            np.add(column_major, b, out=y) if b is not None else np.copyto(y, column_major)
        else:
            y = blas.matmul(x2, w.T)
            if b is not None:
                y += b  # y is a fresh array: adding in place saves a temporary of the output's size
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, g: np.ndarray) -> tuple:
        x, w = self.x, self.w
        gx = None
        if self.needs_input_grad[0]:
            gx = blas.matmul(g, w) if g.ndim == 2 else g @ w
        g2, x2 = (g, x) if g.ndim == 2 else (g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1]))
        gw = None
        if self.needs_input_grad[1]:
            if self.may_defer and self.parents[1].grad_fn is None and _defers(g2, x2, w, self.owns_grad):
                # dW = G^T X kept as its factors (ops/blas.py): X copied, since the caller may change its batch; G
                # too unless the walk says nothing else holds it (it may be another tensor's .grad); see _defers
                gw = blas.DeferredProduct(g2 if self.owns_grad else np.array(g2), np.array(x2))
            else:
                gw = blas.matmul(g2.T, x2)
        if not self.has_bias:
            return gx, gw
        gb = g2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb

    def local_derivatives(self, ones: np.ndarray) -> tuple:
        """dz[n,i]/dx[n,j] = W[i,j],  dz[n,i]/dW[i,j] = x[n,j],  dz[n,i]/db[i] = 1."""
        return (self.w, self.x, 1.0) if self.has_bias else (self.w, self.x)


@register("linear", method=False)
def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)

