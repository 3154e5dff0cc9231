"""conv2d: a 2-D convolution (PyTorch's: a cross-correlation, the kernel is not flipped) as one matrix product.

For an input X (N, C, H, W), a weight W (O, C/groups, kH, kW) and a bias b (O,), each output pixel is

    Z[n,o,y,x] = b[o] + sum_{c,i,j} W[o,c,i,j] Xp[n, g(o) C/groups + c, s_h y + d_h i, s_w x + d_w j]

with Xp the zero-padded input and g(o) the group of output channel o (groups split the channels into independent
convolutions; groups = C is a depthwise convolution). Written out for every pixel that is a loop over
N x O x Ho x Wo x C x kH x kW (``nnblocks.fundamentals.convolution`` does exactly that, for learners and tests).

im2col: copy each output pixel's window into one row of a matrix ``cols`` (N*Ho*Wo rows, kH*kW*C/groups columns);
reshape W into ``Wm`` (kH*kW*C/groups, O) in the same column order; then Z = cols @ Wm + b: the whole convolution is
one GEMM, run by BLAS. Backward, from G = dL/dZ as an (N*Ho*Wo, O) matrix:

    dL/dWm   = cols^T G        (every output pixel used W[o,c,i,j] once, with the input value its window read there)
    dL/db    = G summed over the rows (every output pixel of channel o added b[o] once)
    dL/dcols = G Wm^T          then col2im adds each row back onto the pixels its window read: dL/dX

The rows of ``cols`` repeat each input pixel up to kH*kW times, so ``cols`` is the big array of a CNN's step (the
chapter-4 network's second layer: 121 rows x 576 columns per image, 71 MB at batch 256 in float32). It comes from a
shared workspace and goes back when the op is done with it, instead of being reallocated every step.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.autograd import is_grad_enabled
from nnblocks.errors import DTypeError, InvalidValueError, ShapeError
from nnblocks.ops.base import Function
from nnblocks.ops.registry import register
from nnblocks.ops.windows import WORKSPACE, Window, check_images, col2im, im2col, pad_channels_last, pair
from nnblocks.tensor import Tensor

PADDING_MODES = ("same", "valid")


def conv_padding(padding: Any, kernel: tuple[int, int], dilation: tuple[int, int],
                 stride: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair, ``"valid"`` (none) or ``"same"`` (output as large as the
    input: d (k - 1) pixels in all, the odd one at the bottom / right, as PyTorch; stride 1 only)."""
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise InvalidValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        if padding == "valid":
            return 0, 0, 0, 0
        if stride != (1, 1):
            raise InvalidValueError(f"conv2d: padding='same' needs stride 1 (got stride {stride}): with a larger "
                                    "stride no padding keeps the output as large as the input; give the padding")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2
    ph, pw = pair("conv2d", "padding", padding, minimum=0)
    return ph, ph, pw, pw


def _check(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, groups: int) -> None:
    """Shape and dtype errors that name the op, the shapes and the fix."""
    if w.ndim != 4:
        raise ShapeError(f"conv2d: weight must have shape (out_channels, in_channels/groups, kH, kW), got {w.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise InvalidValueError(f"conv2d: groups must be a whole number >= 1, got {groups!r}")
    check_images("conv2d", x, w.shape[1] * groups, what=f"C = {w.shape[1] * groups}")
    if w.shape[0] % groups:
        raise ShapeError(f"conv2d: out_channels {w.shape[0]} (weight {w.shape}) is not divisible by groups {groups}")
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(f"conv2d: bias must have shape ({w.shape[0]},) for weight {w.shape}, got {b.shape}")
    if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        raise DTypeError(f"conv2d: input dtype {x.dtype} differs from weight dtype {w.dtype}"
                         + ("" if b is None else f" / bias dtype {b.dtype}")
                         + "; convert the input with .float() (or the model with .double())")


def weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """W (O, C/groups, kH, kW) as ``groups`` matrices (kH*kW*C/groups, O/groups), rows in im2col's column order."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, -1)


class Conv2d(Function):
    """Z = conv2d(X, W) + b as one GEMM over im2col's matrix (see the module docstring for the derivation)."""

    kind = "op"

    def _read(self, y: str = "y", x: str = "x", i: Any = "i", j: Any = "j") -> str:
        """Where output pixel (y, x) reads input tap (i, j): ``y+i`` at stride and dilation 1, ``2y+i`` at stride 2."""
        (sh, sw), (dh, dw) = self.window.stride, self.window.dilation

        def at(pixel: str, stride: int, tap: Any, dilation: int) -> str:
            step = tap * dilation if isinstance(tap, int) else f"{dilation if dilation > 1 else ''}{tap}"
            return f"{stride if stride > 1 else ''}{pixel}" + ("" if step == 0 else f"+{step}")

        return f"{at(y, sh, i, dh)},{at(x, sw, j, dw)}"

    @property
    def formula(self) -> str:  # type: ignore[override] - names the stride and dilation that this op used
        bias = " + {c}[o]" if self.has_bias else ""
        return "{z}[n,o,y,x] = sum_c,i,j {b}[o,c,i,j] {a}[n,c," + self._read() + "]" + bias

    @property
    def derivatives(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("{b}[o,c,i,j]", "{a}[n,c," + self._read() + "]", "1")[:3 if self.has_bias else 2]

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1) -> np.ndarray:
        _check(x, w, b, groups)
        kernel, stride = w.shape[2:], pair("conv2d", "stride", stride)
        dilation = pair("conv2d", "dilation", dilation)
        window = Window.fit("conv2d", x.shape, kernel, stride, dilation, conv_padding(padding, kernel, dilation, stride))
        self.x, self.w, self.window, self.groups, self.has_bias = x, w, window, groups, b is not None
        n, o = x.shape[0], w.shape[0]
        ho, wo = window.out
        cols = WORKSPACE.take((groups, n * ho * wo, kernel[0] * kernel[1] * w.shape[1]), x.dtype)
        im2col(x, window, groups, cols)
        out = np.matmul(cols, weight_matrix(w, groups))  # (groups, N*Ho*Wo, O/groups)
        out = out[0] if groups == 1 else out.transpose(1, 0, 2).reshape(n * ho * wo, o)  # (N*Ho*Wo, O)
        if b is not None:
            out += b
        self.cols = cols
        if not is_grad_enabled():  # no graph will be recorded, so no backward: the buffer can serve the next layer
            self.cols = None
            WORKSPACE.give(cols)
        return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)  # channels-last memory, (N, O, Ho, Wo) shape

    def backward(self, g: np.ndarray) -> tuple:
        x, w, window, groups = self.x, self.w, self.window, self.groups
        o, m = w.shape[0], g.shape[0] * g.shape[2] * g.shape[3]
        g2 = g.transpose(0, 2, 3, 1).reshape(m, o)  # free when g is channels-last, as this op's output was
        gg = g2.reshape(m, groups, o // groups).transpose(1, 0, 2)  # (groups, M, O/groups)
        cols = self.cols
        if cols is None:  # a second backward through a retained graph (or the trace): cols were reused, make them again
            cols = im2col(x, window, groups, WORKSPACE.take((groups, m, w[0].size), x.dtype))
        gw = gb = gx = None
        if self.needs_input_grad[1]:
            gw = np.matmul(gg.transpose(0, 2, 1), cols)  # (groups, O/groups, kH*kW*C/groups)
            gw = gw.reshape(o, *window.kernel, w.shape[1]).transpose(0, 3, 1, 2)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g2.sum(axis=0)
        if self.needs_input_grad[0]:
            dcols = np.matmul(gg, weight_matrix(w, groups).transpose(0, 2, 1), out=cols)  # cols' memory, reused
            gx = col2im(dcols, window, x.shape, groups)
        self.cols = None
        WORKSPACE.give(cols)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def release(self) -> None:
        if getattr(self, "cols", None) is not None:
            WORKSPACE.give(self.cols)
        super().release()

    def terms(self, k: int, index: tuple[int, ...]) -> tuple[str, str, str, list[tuple[tuple[int, ...], float]]]:
        """For the trace: the (upstream index, local derivative) pairs whose products add up to dL/d(input k)[index]
        (a weight: one per output pixel of its channel; a bias: the same, times 1; an input pixel: one per tap that
        read it), and their labels."""
        window, w = self.window, self.w
        xp = pad_channels_last(self.x, window).transpose(0, 3, 1, 2)  # (N, C, Hp, Wp)
        (sh, sw), (dh, dw) = window.stride, window.dilation
        og, cg = w.shape[0] // self.groups, w.shape[1]
        n, (ho, wo) = self.x.shape[0], window.out
        pixels = [(s, y, x_) for s in range(n) for y in range(ho) for x_ in range(wo)]
        if k == 1:
            o, c, i, j = index
            channel = (o // og) * cg + c
            pairs = [((s, o, y, x_), float(xp[s, channel, sh * y + dh * i, sw * x_ + dw * j])) for s, y, x_ in pixels]
            return "n,y,x", f"[n,{o},y,x]", f"{{a}}[n,{channel},{self._read(i=i, j=j)}]", pairs
        if k == 2:
            (o,) = index
            return "n,y,x", f"[n,{o},y,x]", "1", [((s, o, y, x_), 1.0) for s, y, x_ in pixels]
        s, channel, h, col = index
        h, col = h + window.padding[0], col + window.padding[2]
        pairs = []
        for o in range((channel // cg) * og, (channel // cg + 1) * og):
            for _, i, j in window.offsets():
                y, x_ = (h - dh * i) / sh, (col - dw * j) / sw
                if y.is_integer() and x_.is_integer() and 0 <= y < ho and 0 <= x_ < wo:
                    pairs.append(((s, o, int(y), int(x_)), float(w[o, channel % cg, i, j])))
        return "o,i,j (the taps that read it)", f"[{s},o,y,x]", f"{{b}}[o,{channel % cg},i,j]", pairs


@register("conv2d", method=False)
def conv2d(input: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution of a batch of images (N, C, H, W) with a weight (O, C/groups, kH, kW), PyTorch's
    ``F.conv2d``: ``stride``, ``padding`` (an int, a pair, ``"same"`` or ``"valid"``), ``dilation``, ``groups``.
    Output: (N, O, Ho, Wo), Ho = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1."""
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        return Conv2d.apply(input, weight, **options)
    return Conv2d.apply(input, weight, bias, **options)
