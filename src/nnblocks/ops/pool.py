"""Pooling: max_pool2d, avg_pool2d and adaptive_avg_pool2d over (N, C, H, W), with PyTorch's arguments and rules.

Max pooling keeps the largest value of each window. Its derivative is 1 for the one input that was the maximum and
0 for the others, so backward routes each output's gradient to that input (an input that is the maximum of several
overlapping windows receives the sum). Which input wins a tie matters for the gradient: as PyTorch, the first in the
window's row-major order, and a NaN wins over numbers (the last NaN, as PyTorch's ``val > max || isnan(val)`` scan).

The window is slid by looping over the kernel's kH x kW taps, not over pixels: tap (i, j) of every window of the
batch is one strided view of the (padded) input, so a 2 x 2 pool is four whole-batch comparisons.

Average pooling is linear: Z = A_h X A_w^T / D per image and channel, with A_h[y, h] = 1 when row h lies in the
window of output row y (A_w the same for columns) and D the divisor of each window. Backward is the transpose:
dL/dX = A_h^T (G / D) A_w. ``avg_pool2d`` (fixed windows) and ``adaptive_avg_pool2d`` (windows that tile the input
into a given output size) are the same op with different matrices.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.ops.base import Function
from nnblocks.ops.registry import register
from nnblocks.ops.windows import Window, check_images, pad_channels_last, pair
from nnblocks.tensor import Tensor


def _pool_window(op: str, x: np.ndarray, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool) -> Window:
    """The pooling window's geometry, with PyTorch's rules: stride defaults to the kernel, padding <= kernel / 2."""
    check_images(op, x)
    kernel = pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or stride == () else pair(op, "stride", stride)
    ph, pw = pair(op, "padding", padding, minimum=0)
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise InvalidValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel {kernel}; a larger "
                                "padding would make windows of padding alone")
    return Window.fit(op, x.shape, kernel, stride, pair(op, "dilation", dilation), (ph, ph, pw, pw), ceil_mode)


class MaxPool2d(Function):
    """Z[n,c,y,x] = the largest input in window (y, x);  dZ/dX = 1 for that input, 0 for the others."""

    kind = "op"
    formula = "{z}[n,c,y,x] = max of {a}[n,c] over window (y,x)"
    derivatives = ("1[{a} is its window's max]",)

    def forward(self, x: np.ndarray, kernel_size: Any = 2, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                ceil_mode: bool = False) -> np.ndarray:
        self.window = window = _pool_window("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
        self.x_shape = x.shape
        xp = pad_channels_last(x, window, fill=-np.inf)  # (N, Hp, Wp, C): a view when there is no padding
        taps = [xp[:, rows, columns] for rows, columns in (window.tap(i, j) for _, i, j in window.offsets())]
        best = taps[0].copy()
        for value in taps[1:]:
            np.maximum(best, value, out=best)  # NaN propagates, as in PyTorch
        # The winner of each window is the first tap equal to the max (PyTorch keeps the first on ties). Counting the
        # taps before it: ``later`` says "the winner is after tap k", and the winner's number is how often that held.
        # Three whole-array passes per tap; ``np.copyto(..., where=...)`` on these strided views measured 6x slower.
        later = np.not_equal(taps[0], best)
        self.argmax = later.astype(np.uint8 if len(taps) <= 256 else np.int32)
        for value in taps[1:-1]:
            later &= np.not_equal(value, best)
            self.argmax += later
        if np.isnan(best).any():  # rare: NaN != NaN found no winner there; PyTorch's scan keeps the last NaN
            for k, value in enumerate(taps):
                np.copyto(self.argmax, k, where=np.isnan(value))
        if xp.shape[1:3] != x.shape[2:] and np.isneginf(best).any():
            self._first_real_tap(best)  # rarer still: no real pixel beat the -inf padding
        return best.transpose(0, 3, 1, 2)

    def _first_real_tap(self, best: np.ndarray) -> None:
        """Where a window's max is -inf, PyTorch keeps the first tap past the top and left padding: the first pixel
        of the image in the window (if the window holds none, that tap is past the image too; as in PyTorch, its
        index then points outside the plane, and the gradient, sent to padding, is dropped)."""
        window = self.window
        top, _, left, _ = window.padding
        rows = np.arange(window.out[0])[:, None] * window.stride[0] - top
        columns = np.arange(window.out[1]) * window.stride[1] - left
        for k, i, j in reversed(window.offsets()):
            past = (rows + i * window.dilation[0] >= 0) & (columns + j * window.dilation[1] >= 0)
            np.copyto(self.argmax, k, where=np.isneginf(best) & past[:, :, None])

    def backward(self, g: np.ndarray) -> np.ndarray:
        window = self.window
        n, c = self.x_shape[:2]
        dx = np.zeros((n, *window.padded, c), dtype=g.dtype)
        gl = g.transpose(0, 2, 3, 1)
        overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(window.stride, window.dilation, window.kernel))
        for k, i, j in window.offsets():
            rows, columns = window.tap(i, j)
            if overlap:  # a pixel in several windows collects every gradient it won
                dx[:, rows, columns] += gl * (self.argmax == k)
            else:  # each pixel is in one window at most: write, no read-modify-write
                np.multiply(gl, self.argmax == k, out=dx[:, rows, columns])
        top, _, left, _ = window.padding
        return dx[:, top:top + self.x_shape[2], left:left + self.x_shape[3]].transpose(0, 3, 1, 2)

    def indices(self) -> np.ndarray:
        """PyTorch's ``return_indices``: for each output, the flat index h * W + w of its max in its input plane."""
        window, (h, w) = self.window, self.x_shape[2:]
        (sh, sw), (dh, dw), kw = window.stride, window.dilation, window.kernel[1]
        top, _, left, _ = window.padding
        tap = self.argmax.transpose(0, 3, 1, 2).astype(np.int64)
        rows = np.arange(window.out[0])[:, None] * sh + (tap // kw) * dh - top
        columns = np.arange(window.out[1]) * sw + (tap % kw) * dw - left
        return rows * w + columns

    def terms(self, k: int, index: tuple[int, ...]) -> tuple[str, str, str, list[tuple[tuple[int, ...], float]]]:
        """For the trace: one (upstream, local) pair per window holding input pixel ``index``: local 1 if it won."""
        n, c, h, w = index
        winners = self.indices()[n, c]
        pairs = [((n, c, y, x), float(winners[y, x] == h * self.x_shape[3] + w))
                 for y, x in _windows_holding(self.window, h, w)]
        return "y,x (the windows holding it)", f"[{n},{c},y,x]", f"1[{{a}}[{n},{c},{h},{w}] is the max]", pairs


def _windows_holding(window: Window, h: int, w: int) -> list[tuple[int, int]]:
    """The output positions (y, x) whose window reads input pixel (h, w)."""
    top, _, left, _ = window.padding
    found = []
    for y in range(window.out[0]):
        for x in range(window.out[1]):
            for _, i, j in window.offsets():
                if (y * window.stride[0] + i * window.dilation[0] - top == h
                        and x * window.stride[1] + j * window.dilation[1] - left == w):
                    found.append((y, x))
                    break
    return found


@register("max_pool2d", method=False)
def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over kernel_size windows (stride defaults to kernel_size), PyTorch's ``F.max_pool2d``; with
    ``return_indices``, also each max's flat index in its input plane (what ``MaxUnpool2d`` takes)."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    out = MaxPool2d.apply(input, **options)
    if not return_indices:
        return out
    op = out.grad_fn
    if op is None:  # no graph recorded: the op that computed ``out`` is gone, so find the maxima once more
        op = MaxPool2d()
        op.forward(input.data if isinstance(input, Tensor) else np.asarray(input), **options)
    return out, Tensor(op.indices())


# ---- average pooling -----------------------------------------------------------------------------------------------
class AvgPool2d(Function):
    """Z = A_h X A_w^T / D (per image and channel);  dL/dX = A_h^T (G / D) A_w: each input in a window receives that
    window's gradient divided by its divisor."""

    kind = "op"
    formula = "{z}[n,c,y,x] = sum of {a}[n,c] over window (y,x) / its divisor"
    derivatives = ("1/(window size)",)

    def forward(self, x: np.ndarray, rows: Any = None, columns: Any = None, divisor: Any = None) -> np.ndarray:
        self.rows, self.columns = rows.astype(x.dtype), columns.astype(x.dtype)
        self.divisor = divisor.astype(x.dtype)
        return self.rows @ x @ self.columns.T / self.divisor

    def backward(self, g: np.ndarray) -> np.ndarray:
        return self.rows.T @ (g / self.divisor) @ self.columns

    def terms(self, k: int, index: tuple[int, ...]) -> tuple[str, str, str, list[tuple[tuple[int, ...], float]]]:
        """For the trace: one (upstream, local) pair per window holding input pixel ``index``: 1 / its divisor."""
        n, c, h, w = index
        pairs = [((n, c, int(y), int(x)), float(1 / self.divisor[y, x]))
                 for y in np.flatnonzero(self.rows[:, h]) for x in np.flatnonzero(self.columns[:, w])]
        return "y,x (the windows holding it)", f"[{n},{c},y,x]", "1/(window size)", pairs


def _window_matrix(size: int, out: int, kernel: int, stride: int, pad: int, ceil_mode: bool,
                   count_include_pad: bool) -> tuple[np.ndarray, np.ndarray]:
    """A (out, size) 0/1 matrix of which inputs each window covers, and each window's length to divide by
    (PyTorch's: with ``count_include_pad`` the padding counts, but not what ``ceil_mode`` adds past it)."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    length = end - start
    first, last = np.maximum(start, 0), np.minimum(end, size)
    index = np.arange(size)
    matrix = (index >= first[:, None]) & (index < last[:, None])
    return matrix, (length if count_include_pad else last - first)


@register("avg_pool2d", method=False)
def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over kernel_size windows, PyTorch's ``F.avg_pool2d``: padding counts in the mean unless
    ``count_include_pad=False``; ``divisor_override`` divides every window sum by that number instead."""
    x = input.data if isinstance(input, Tensor) else np.asarray(input)
    window = _pool_window("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    axes = [_window_matrix(x.shape[2 + a], window.out[a], window.kernel[a], window.stride[a], window.padding[2 * a],
                           ceil_mode, count_include_pad) for a in (0, 1)]
    (rows, length_h), (columns, length_w) = axes
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)) \
                or divisor_override == 0:
            raise InvalidValueError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
        divisor = np.full(window.out, divisor_override)
    else:
        divisor = np.outer(length_h, length_w)
    return AvgPool2d.apply(input, rows=rows, columns=columns, divisor=divisor)


def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    """Output i averages inputs floor(i size / out) .. ceil((i + 1) size / out) - 1: windows that tile the input,
    overlapping by one where ``size`` is not a multiple of ``out``."""
    i = np.arange(out)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    index = np.arange(size)
    return (index >= start[:, None]) & (index < end[:, None])


@register("adaptive_avg_pool2d", method=False)
def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling to a fixed output size (PyTorch's ``F.adaptive_avg_pool2d``; None keeps that input size):
    ``output_size=1`` is global average pooling."""
    x = input.data if isinstance(input, Tensor) else np.asarray(input)
    check_images("adaptive_avg_pool2d", x)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    sizes = tuple(x.shape[2 + a] if s is None else s for a, s in enumerate(sizes))
    oh, ow = pair("adaptive_avg_pool2d", "output_size", sizes)
    rows, columns = _adaptive_matrix(x.shape[2], oh), _adaptive_matrix(x.shape[3], ow)
    return AvgPool2d.apply(input, rows=rows, columns=columns, divisor=np.outer(rows.sum(1), columns.sum(1)))
