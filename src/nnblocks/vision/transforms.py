"""The few ``torchvision.transforms`` a dataset of small grey images needs: ``ToTensor``, ``Normalize``, ``Compose``,
``Lambda``. Each is a callable applied to one item (``datasets.FashionMNIST(root, transform=ToTensor())``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnblocks.errors import InvalidArgumentError, ShapeError
from nnblocks.tensor import Tensor


class ToTensor:
    """A PIL image or an (H, W) / (H, W, C) array -> a float32 Tensor (C, H, W); 8-bit values are divided by 255."""

    def __call__(self, picture: Any) -> Tensor:
        array = np.asarray(picture.data if isinstance(picture, Tensor) else picture)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ShapeError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape {array.shape}")
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return Tensor(np.divide(chw, np.float32(255), dtype=np.float32))
        return Tensor(chw.astype(np.float32))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel of a (C, H, W) Tensor (``Normalize((0.5,), (0.5,))`` maps [0, 1] to [-1, 1])."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = list(mean), list(std)

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 3:
            raise InvalidArgumentError("Normalize: expected a (C, H, W) Tensor (put ToTensor() before it)")
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        return Tensor((x.data - mean) / std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Any function of one item, as a transform."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __call__(self, x: Any) -> Any:
        return self.function(x)

    def __repr__(self) -> str:
        return "Lambda()"


class Compose:
    """Apply several transforms in order: ``Compose([ToTensor(), Normalize((0.5,), (0.5,))])``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"
