"""Data for training: datasets and the DataLoader, toy sets, the embedded digits, MNIST / Fashion-MNIST, and prep.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``DataLoader``: PyTorch's ``torch.utils.data`` names and behaviour,
  with NumPy arrays inside and batches of ``nnblocks.Tensor``.
- toy sets (``xor``, ``moons``, ``circles``, ``spirals``, ``blobs``, ``regression_line``, the chapter's examples),
  registered by name in ``TOY_SETS``.
- ``digits()``: 1,797 8x8 handwritten digits shipped with the package (no download).
- ``mnist()``, ``fashion_mnist()``: IDX readers with validation and an opt-in, checksummed download.
- ``train_val_split``, ``train_val_test_split``, ``scale_255``, ``Standardizer``: explicit preparation steps.
"""
from __future__ import annotations

from nnblocks.data.dataset import Dataset, Subset, TensorDataset
from nnblocks.data.digits import digits
from nnblocks.data.idx import (
    FASHION_CLASSES,
    data_root,
    fashion_mnist,
    mnist,
    read_idx,
    read_idx_images,
    read_idx_labels,
)
from nnblocks.data.loader import DataLoader
from nnblocks.data.prep import Standardizer, scale_255, split_indices, train_val_split, train_val_test_split
from nnblocks.data.toy import (
    TOY_SETS,
    blobs,
    chapter1_single,
    chapter1_times_three,
    chapter2_sum,
    circles,
    moons,
    regression_line,
    spirals,
    xor,
)

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader",
    "digits",
    "mnist", "fashion_mnist", "read_idx", "read_idx_images", "read_idx_labels", "data_root", "FASHION_CLASSES",
    "split_indices", "train_val_split", "train_val_test_split", "scale_255", "Standardizer",
    "TOY_SETS", "xor", "moons", "circles", "spirals", "blobs", "regression_line",
    "chapter1_single", "chapter1_times_three", "chapter2_sum",
]
