"""Sliding windows over images: their geometry, the im2col / col2im pair that turns a convolution into one matrix
product, and the workspace that keeps the big im2col buffers from being reallocated every step.

Geometry (PyTorch's, per spatial axis): a kernel of k taps with dilation d spans ``d (k - 1) + 1`` pixels; over an
input of n pixels padded by ``lo`` and ``hi`` it fits ``floor((n + lo + hi - d (k - 1) - 1) / s) + 1`` times with
stride s. ``Window`` holds that arithmetic for both axes, checked once, with errors naming the op and the shapes.

Layout: the engine keeps images in PyTorch's logical shape (N, C, H, W), but the convolution's matrix product
writes its result channels-last in memory (one row of the product per output pixel, one column per channel), and
returns it as an (N, C, H, W) *view* of that memory. Elementwise ops keep the memory order (NumPy's ``order='K'``), so
the next convolution reads its input channels-last too, and copying its windows into the im2col matrix moves
contiguous runs of C values instead of single floats. Measured on the chapter-4 network (batch 256, one thread, a
busy machine): the im2col copy of the second convolution took 19 ms from channels-last memory, 37 ms from
channels-first.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnblocks.errors import InvalidValueError, ShapeError


def pair(op: str, name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """``3`` -> (3, 3); ``(3, 2)`` stays; anything else (or a value below ``minimum``) is an error naming the op."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise InvalidValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise InvalidValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return int(values[0]), int(values[1])


def check_images(op: str, x: np.ndarray, channels: int | None = None, what: str = "C") -> None:
    """A ShapeError unless ``x`` is a batch of images (N, C, H, W) (with ``channels`` channels, when given)."""
    if x.ndim != 4:
        hint = (" (one image: add the batch axis, x[None] or x.unsqueeze(0))" if x.ndim == 3 else "")
        raise ShapeError(f"{op}: expected a batch of images of shape (N, {what}, H, W), got shape {x.shape}{hint}")
    if channels is not None and x.shape[1] != channels:
        raise ShapeError(f"{op}: expected {channels} input channels ({what}), got input of shape {x.shape} "
                         f"with {x.shape[1]} channels")


@dataclass(frozen=True)
class Window:
    """Where a kH x kW kernel (stride, dilation) lands on an H x W image padded by (top, bottom, left, right)."""

    size: tuple[int, int]  # input H, W
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    out: tuple[int, int]  # output H, W

    @classmethod
    def fit(cls, op: str, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int], padding: tuple[int, int, int, int], ceil_mode: bool = False) -> "Window":
        """The window's geometry on inputs of ``x_shape`` (N, C, H, W), or a ShapeError when the kernel does not fit."""
        out = []
        for axis, n in enumerate(x_shape[2:]):
            lo, hi = padding[2 * axis], padding[2 * axis + 1]
            span = dilation[axis] * (kernel[axis] - 1) + 1
            room = n + lo + hi - span
            if room < 0:
                raise ShapeError(
                    f"{op}: the kernel {kernel} (dilation {dilation}, spanning {span} pixels) is larger than the "
                    f"padded input: input of shape {tuple(x_shape)} padded to {n + lo + hi} along "
                    f"{'HW'[axis]}; use a smaller kernel, more padding or a larger image")
            count = -(-room // stride[axis]) + 1 if ceil_mode else room // stride[axis] + 1
            if ceil_mode and (count - 1) * stride[axis] >= n + lo:  # PyTorch: the last window starts inside
                count -= 1
            out.append(count)
        return cls(tuple(x_shape[2:]), kernel, stride, dilation, padding, (out[0], out[1]))

    @property
    def padded(self) -> tuple[int, int]:
        """The padded input's H, W, grown where ``ceil_mode`` lets the last window reach past the padding."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        top, bottom, left, right = self.padding
        need_h = (self.out[0] - 1) * sh + dh * (kh - 1) + 1
        need_w = (self.out[1] - 1) * sw + dw * (kw - 1) + 1
        return max(self.size[0] + top + bottom, need_h), max(self.size[1] + left + right, need_w)

    def offsets(self) -> list[tuple[int, int, int]]:
        """(k, i, j) for every kernel tap in row-major order: its flat number and its row and column."""
        kh, kw = self.kernel
        return [(i * kw + j, i, j) for i in range(kh) for j in range(kw)]

    def tap(self, i: int, j: int) -> tuple[slice, slice]:
        """The slices of the padded input that tap (i, j) reads for all output pixels at once."""
        (ho, wo), (sh, sw), (dh, dw) = self.out, self.stride, self.dilation
        return (slice(i * dh, i * dh + (ho - 1) * sh + 1, sh), slice(j * dw, j * dw + (wo - 1) * sw + 1, sw))


def pad_channels_last(x: np.ndarray, window: Window, fill: float = 0.0) -> np.ndarray:
    """``x`` (N, C, H, W) as an (N, Hp, Wp, C) array: a view when there is no padding, else a padded copy."""
    xl = x.transpose(0, 2, 3, 1)
    top, _, left, _ = window.padding
    hp, wp = window.padded
    if (hp, wp) == xl.shape[1:3]:
        return xl
    padded = np.full((x.shape[0], hp, wp, x.shape[1]), fill, dtype=x.dtype)
    padded[:, top:top + x.shape[2], left:left + x.shape[3]] = xl
    return padded


def im2col(x: np.ndarray, window: Window, groups: int, out: np.ndarray) -> np.ndarray:
    """Copy every window of ``x`` (N, C, H, W) into ``out`` (groups, N*Ho*Wo, kH*kW*C/groups): one row per output
    pixel, its kH*kW*C/groups input values in (tap row, tap column, channel) order. One strided copy, no loop."""
    n, c = x.shape[:2]
    (kh, kw), (ho, wo), (sh, sw), (dh, dw) = window.kernel, window.out, window.stride, window.dilation
    xp = pad_channels_last(x, window)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    view = sliding_window_view(xp, (span_h, span_w), axis=(1, 2))  # (N, Hp', Wp', C, span_h, span_w)
    view = view[:, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw, :, ::dh, ::dw]  # (N, Ho, Wo, C, kH, kW)
    # splitting the channel axis into (groups, C/groups) is always a view: no copy before the one below
    view = view.reshape(n, ho, wo, groups, c // groups, kh, kw).transpose(3, 0, 1, 2, 5, 6, 4)
    out.reshape(groups, n, ho, wo, kh, kw, c // groups)[...] = view
    return out


def col2im(cols: np.ndarray, window: Window, x_shape: tuple[int, ...], groups: int) -> np.ndarray:
    """The adjoint of ``im2col``: add each row of ``cols`` back onto the pixels its window read (a pixel read by
    several windows receives the sum). One strided add per kernel tap (kH*kW of them), each over the whole batch.
    Returns an (N, C, H, W) view of channels-last memory."""
    n, c, h, w = x_shape
    (kh, kw), (ho, wo) = window.kernel, window.out
    hp, wp = window.padded
    top, _, left, _ = window.padding
    dx = np.zeros((n, hp, wp, groups, c // groups), dtype=cols.dtype)
    taps = cols.reshape(groups, n, ho, wo, kh, kw, c // groups).transpose(1, 2, 3, 0, 4, 5, 6)
    for _, i, j in window.offsets():
        rows, columns = window.tap(i, j)
        dx[:, rows, columns] += taps[:, :, :, :, i, j]
    return dx.reshape(n, hp, wp, c)[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


class Workspace:
    """Big scratch arrays, kept for reuse instead of reallocated every step (PyTorch keeps a caching allocator).

    ``take(shape, dtype)`` hands out a free array of that shape (a new one when none is free); ``give(array)``
    returns it once nothing reads it any more. At most ``per_shape`` free arrays per shape (layers of the same
    geometry each hold one during a step) and ``shapes`` shapes are kept (least recently used dropped), so memory
    stays bounded when batch shapes vary. An array taken and never given back (a graph dropped without backward) is
    simply garbage-collected.
    """

    def __init__(self, per_shape: int = 8, shapes: int = 16) -> None:
        self.per_shape, self.shapes = per_shape, shapes
        self.free: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()  # runs may train in threads (the playground): one array, one taker

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        key = (tuple(shape), np.dtype(dtype).str)
        with self.lock:
            arrays = self.free.get(key)
            if arrays:
                self.free.move_to_end(key)
                return arrays.pop()
        return np.empty(shape, dtype=dtype)

    def give(self, array: np.ndarray) -> None:
        key = (array.shape, array.dtype.str)
        with self.lock:
            arrays = self.free.setdefault(key, [])
            self.free.move_to_end(key)
            if len(arrays) < self.per_shape and not any(a is array for a in arrays):
                arrays.append(array)
            while len(self.free) > self.shapes:
                self.free.popitem(last=False)

    def nbytes(self) -> int:
        """Bytes held in free arrays (for tests and the benchmark's memory notes)."""
        return sum(a.nbytes for arrays in self.free.values() for a in arrays)


WORKSPACE = Workspace()  # shared by every convolution: a buffer given back by one layer can serve another
