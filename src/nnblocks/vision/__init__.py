"""A small torchvision stand-in: ``from torchvision import datasets`` becomes ``from nnblocks.vision import datasets``.

- ``datasets.FashionMNIST`` / ``datasets.MNIST``: torchvision's constructor (``root``, ``train``, ``transform``,
  ``target_transform``, ``download``) and attributes (``.data`` uint8 (N, 28, 28), ``.targets`` int64 (N,),
  ``.classes``) as nnblocks Tensors, read from the standard IDX files (also in torchvision's ``<root>/FashionMNIST/raw``
  layout) by ``nnblocks.data.idx``, downloaded with its checksums on ``download=True``.
- ``transforms``: ``ToTensor``, ``Normalize``, ``Compose``, ``Lambda`` for those datasets' items.
"""
from nnblocks.vision import datasets, transforms

__all__ = ["datasets", "transforms"]
