"""CNN: the convolutional-network builder, beside ``MLP``: the book's chapter-4 network from a small description.

    CNN((1, 28, 28), channels=[64, 128], hidden=[256], out=10)

builds exactly the book's ``nn.Sequential``, in its layer order::

    Conv2d(1, 64, 3) -> MaxPool2d(2) -> ReLU        one block per entry of ``channels``
    Conv2d(64, 128, 3) -> MaxPool2d(2) -> ReLU
    Flatten -> Linear(3200, 256) -> ReLU             one Linear + activation per entry of ``hidden``
    Linear(256, 10)                                  ([Dropout] before each Linear with ``dropout``, as nn.MLP)

A ``CNN`` *is* a ``Sequential`` with the same indices, so its state_dict keys (``0.weight``, ``3.weight``,
``7.weight``, ``9.weight``) are those of the book's PyTorch model: either loads the other's weights. The width of the
first Linear layer (128 x 5 x 5 = 3200 here) is worked out from the image size. Rows of flat pixels (N, C*H*W), as
the data pipeline yields them, are viewed as images (N, C, H, W) first, so a CNN trains on the same loaders as an MLP.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.nn import layers
from nnblocks.nn.conv import Conv2d
from nnblocks.nn.mlp import activation_module
from nnblocks.nn.module import Module
from nnblocks.nn.pooling import MaxPool2d
from nnblocks.ops.conv import conv_padding
from nnblocks.ops.windows import Window
from nnblocks.random import SeedLike, get_generator
from nnblocks.tensor import Tensor


def _positive(name: str, values: Sequence[Any]) -> list[int]:
    out = [int(v) for v in values]
    if any(v < 1 for v in out):
        raise InvalidValueError(f"CNN: {name} must be whole numbers >= 1, got {list(values)}")
    return out


class CNN(layers.Sequential):
    """``CNN(input_shape, channels, hidden, out)``: convolution blocks, then an MLP head (see the module docstring).

    Args:
        input_shape: (C, H, W) of one image; (H, W) means one channel.
        channels: output channels of each convolution block (``nnblocks train --conv 64 128`` would pass [64, 128]).
        hidden: widths of the hidden Linear layers after Flatten ([] : straight to the outputs).
        out: number of outputs (classes).
        kernel_size, padding: of every Conv2d (``padding="same"`` keeps the image size through the convolutions).
        pool: kernel (and stride) of the MaxPool2d of every block (1: no pooling).
        activation: after every pooling and hidden Linear layer (a name of ``nn.MLP``'s, or a Module class).
        batchnorm: a BatchNorm2d after every Conv2d (before pooling).
        dropout: probability of a Dropout before each Linear layer of the head, as ``nn.MLP`` places it (0: none).
        seed: every Conv2d then Linear layer draws its initial weights, in order, from this one generator;
            ``dropout_seed``: the generator of the Dropout masks (so adding dropout does not change the weights).
    """

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int] = (64, 128), hidden: Sequence[int] = (256,),
                 out: int = 10, kernel_size: int = 3, padding: Any = 0, pool: int = 2, activation: Any = "relu",
                 batchnorm: bool = False, dropout: float = 0.0, dtype: Any = None, seed: SeedLike = None,
                 dropout_seed: SeedLike = None) -> None:
        shape = _positive("input_shape", input_shape)
        if len(shape) == 2:
            shape = [1, *shape]
        if len(shape) != 3:
            raise InvalidValueError(f"CNN: input_shape must be (C, H, W) or (H, W), got {tuple(input_shape)}")
        channels, hidden = _positive("channels", channels), _positive("hidden", hidden)
        if not 0 <= dropout < 1:
            raise InvalidValueError(f"CNN: dropout must be a probability in [0, 1), got {dropout}")
        rng, mask_rng = get_generator(seed), get_generator(dropout_seed)
        modules: list[Module] = []
        c, size = shape[0], tuple(shape[1:])
        for k, width in enumerate(channels):
            conv = Conv2d(c, width, kernel_size, padding=padding, dtype=dtype, seed=rng)
            size = self._shrink(size, conv, pool, k)
            modules.append(conv)
            if batchnorm:
                modules.append(layers.BatchNorm2d(width, dtype=dtype))
            if pool > 1:
                modules.append(MaxPool2d(pool))
            modules.append(activation_module(activation))
            c = width
        modules.append(layers.Flatten())
        widths = [c * size[0] * size[1], *hidden, int(out)]
        for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            if dropout:
                modules.append(layers.Dropout(dropout, seed=mask_rng))
            modules.append(layers.Linear(n_in, n_out, dtype=dtype, seed=rng))
            if k < len(hidden):
                modules.append(activation_module(activation))
        super().__init__(*modules)
        self.input_shape, self.channels, self.hidden, self.out = tuple(shape), channels, hidden, int(out)

    @staticmethod
    def _shrink(size: tuple[int, int], conv: Conv2d, pool: int, k: int) -> tuple[int, int]:
        """The image size after block ``k``'s convolution and pooling, or an error when nothing is left of it."""
        try:
            window = Window.fit("CNN", (1, 1, *size), conv.kernel_size, conv.stride, conv.dilation,
                                conv_padding(conv.padding, conv.kernel_size, conv.dilation, conv.stride))
            after = window.out if pool <= 1 else (window.out[0] // pool, window.out[1] // pool)
        except ShapeError:
            after = (0, 0)
        if min(after) < 1:
            raise ShapeError(f"CNN: block {k + 1} gets a {size[0]}x{size[1]} image, too small for its "
                             f"{conv.kernel_size[0]}x{conv.kernel_size[1]} convolution and {pool}x{pool} pooling: too "
                             "many blocks for this image size (use fewer channels, padding='same' or pool=1)")
        return after

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2 and x.shape[1] == int(np.prod(self.input_shape)):  # flat rows from the data pipeline
            x = x.reshape(x.shape[0], *self.input_shape)
        return super().forward(x)

