"""What ``conv`` means in a run (``nnblocks train --conv 64 128``): the book's convolution blocks on the data's images.

Every entry of ``conv`` is one block of the book's chapter-4 network, ``Conv2d(c_in, c, 3) -> MaxPool2d(2) -> ReLU``
(``nn.CNN``'s blocks), so ``--conv 64 128 --hidden 256`` on MNIST is exactly the book's network:

    28x28 -conv 3x3-> 26x26 -pool 2-> 13x13 -conv-> 11x11 -pool-> 5x5;   128 x 5 x 5 = 3200 features for Linear

A valid (unpadded) 3x3 convolution takes 2 pixels off each side's length and pooling halves it (rounding down), so
the book's two blocks need images of at least 10x10: on the 8x8 digits they leave nothing (8 -> 6 -> 3 -> 1 -> 0).
``padding="same"`` (one pixel of zeros around each image) keeps the size through each convolution, so only the
pooling shrinks it: 8 -> 4 -> 2. ``padding="auto"`` (the default) is the book's valid convolutions wherever they fit
the image, else "same"; the run's config stores what it became, and the run's description line prints it.

This file holds that arithmetic, done before any layer exists: the image sizes, the padding, the flat width the
first Linear layer gets, and the memory a training step takes (to refuse a network that cannot fit, unbuilt).
"""
from __future__ import annotations

from typing import Sequence

from nnblocks.errors import InvalidValueError

KERNEL, POOL = 3, 2  # the book's blocks: 3x3 convolutions, each followed by 2x2 max-pooling (stride 2)
PADDINGS = ("auto", "valid", "same")


def image_sizes(size: Sequence[int], conv: Sequence[int], padding: str) -> list[tuple[int, int]]:
    """(H, W) after each block, from the image's (H, W): ``[(13, 13), (5, 5)]`` for 28x28, [64, 128], "valid".
    A size below 1 means the block had nothing left to work on."""
    h, w = int(size[0]), int(size[1])
    sizes = []
    for _ in conv:
        if padding == "valid":  # a 3x3 window fits H - 2 times along H
            h, w = h - (KERNEL - 1), w - (KERNEL - 1)
        h, w = max(h, 0) // POOL, max(w, 0) // POOL
        sizes.append((h, w))
    return sizes


def _path(size: Sequence[int], sizes: list[tuple[int, int]]) -> str:
    return " -> ".join(f"{h}x{w}" for h, w in [tuple(size), *sizes])


def resolve_padding(conv: Sequence[int], image_shape: Sequence[int], padding: str = "auto") -> str:
    """``"valid"`` or ``"same"``: ``padding`` itself, or for ``"auto"`` the book's ``"valid"`` when its blocks fit
    the image and ``"same"`` otherwise. Raises ``InvalidValueError`` naming ``conv`` when the blocks shrink the
    image to nothing even so, with the most blocks that fit."""
    if padding not in PADDINGS:
        raise InvalidValueError(f"TrainConfig: unknown padding {padding!r}; choose from {', '.join(PADDINGS)}")
    if not conv:
        return "valid" if padding == "auto" else padding
    size = tuple(image_shape[-2:])
    choices = ("valid", "same") if padding == "auto" else (padding,)
    for choice in choices:
        sizes = image_sizes(size, conv, choice)
        if min(min(s) for s in sizes) >= 1:
            return choice
    most = max(k for k in range(len(conv) + 1) if k == 0 or min(image_sizes(size, conv[:k], choice)[-1]) >= 1)
    how = "" if padding == "auto" else f" with {padding} padding"
    fix = f"use at most {most} --conv block{'s' if most != 1 else ''} on these images" if most else \
        "these images are too small for a 3x3 convolution and 2x2 pooling"
    if padding == "valid" and most < len(conv):
        fix += ", or --padding same (which keeps the size through each convolution)"
    raise InvalidValueError(f"conv {list(conv)}: {len(conv)} block(s) of a 3x3 convolution and 2x2 max-pooling"
                            f"{how} shrink {size[0]}x{size[1]} images to nothing ({_path(size, sizes)}); {fix}")


def flat_features(conv: Sequence[int], image_shape: Sequence[int], padding: str) -> int:
    """The width of the first Linear layer: channels x height x width after the last block (3200 for the book)."""
    h, w = image_sizes(image_shape[-2:], conv, padding)[-1]
    return int(conv[-1]) * h * w


def describe(conv: Sequence[int], image_shape: Sequence[int], padding: str) -> str:
    """``conv 64-128 (3x3, valid padding, max-pool 2: 28x28 -> 13x13 -> 5x5)``."""
    sizes = image_sizes(image_shape[-2:], conv, padding)
    return (f"conv {'-'.join(str(c) for c in conv)} (3x3, {padding} padding, max-pool {POOL}: "
            f"{_path(image_shape[-2:], sizes)})")


# Per block and sample, the arrays a training step keeps: the im2col matrix (C_in x 9 per output pixel; backward
# writes the gradient into the same buffer), the convolution's output and gradient, the pooled output, its argmax
# positions and gradient, the activation's output and mask: about 4 arrays of the conv output's size and 4 of the
# pooled size beside the im2col matrix.
CONV_COPIES, POOLED_COPIES = 4, 4


def conv_cost(conv: Sequence[int], image_shape: Sequence[int], padding: str,
              batchnorm: bool) -> tuple[int, int, int]:
    """``(parameters, activation values per sample, flat width)`` of the convolution blocks, worked out from the
    sizes alone (nothing allocated)."""
    c_in, (h, w) = int(image_shape[0]), tuple(image_shape[-2:])
    params = values = 0
    for c, (hp, wp) in zip(conv, image_sizes((h, w), conv, padding)):
        hc, wc = (h, w) if padding == "same" else (h - KERNEL + 1, w - KERNEL + 1)
        params += c_in * c * KERNEL * KERNEL + c + (4 * c if batchnorm else 0)
        values += c_in * KERNEL * KERNEL * hc * wc + CONV_COPIES * c * hc * wc + POOLED_COPIES * c * hp * wp
        c_in, h, w = int(c), hp, wp
    return params, values, c_in * h * w
