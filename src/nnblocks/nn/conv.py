"""Conv2d: a bank of learned filters slid over images (PyTorch's ``nn.Conv2d``: names, shapes, defaults, init).

``weight`` is (out_channels, in_channels / groups, kH, kW): one kH x kW filter per (output channel, input channel of
its group); ``bias`` is (out_channels,). Both are initialised as PyTorch does, uniform in +-1/sqrt(fan_in) with
fan_in = in_channels / groups * kH * kW (``kaiming_uniform_(a=sqrt(5))`` works out to that bound), so a state_dict
saved by PyTorch loads as is, and ours loads into PyTorch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.nn import init
from nnblocks.nn.module import Module, Parameter
from nnblocks.ops.conv import conv2d, conv_padding
from nnblocks.ops.windows import pair
from nnblocks.random import SeedLike, get_generator
from nnblocks.tensor import Tensor, get_default_dtype


class Conv2d(Module):
    """``Conv2d(1, 64, 3)``: 64 filters of 3 x 3 over a 1-channel image; input (N, C_in, H, W), output (N, C_out,
    Ho, Wo) with Ho = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1.

    ``padding`` is an int, a pair, ``"valid"`` (none) or ``"same"`` (output as large as the input, stride 1 only);
    ``groups`` splits the channels into independent convolutions. Only ``padding_mode="zeros"`` is implemented.
    Deliberate difference: PyTorch also takes one unbatched image (C, H, W); here a 3-D input is an error that says
    to add the batch axis, so a forgotten batch axis is never mistaken for channels.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = None, seed: SeedLike = None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidValueError(f"Conv2d: {name} must be a whole number >= 1, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise InvalidValueError(f"Conv2d: in_channels {in_channels} and out_channels {out_channels} must both be "
                                    f"divisible by groups {groups}")
        if padding_mode != "zeros":
            raise InvalidValueError(f"Conv2d: padding_mode {padding_mode!r} is not implemented; only 'zeros' is")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size)
        self.stride = pair("Conv2d", "stride", stride)
        self.dilation = pair("Conv2d", "dilation", dilation)
        conv_padding(padding, self.kernel_size, self.dilation, self.stride)  # a bad padding fails here, not later
        self.padding = padding if isinstance(padding, str) else pair("Conv2d", "padding", padding, minimum=0)
        self.padding_mode = padding_mode
        dtype = dtype or get_default_dtype()
        rng = get_generator(seed)
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, *self.kernel_size), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), seed=rng)
        if bias:
            fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), seed=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"  # as PyTorch: padding=same, padding=(1, 1)
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")
