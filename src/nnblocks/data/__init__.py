"""Data for training: datasets and the DataLoader, toy sets, the embedded digits, MNIST / Fashion-MNIST, and prep.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``DataLoader``, ``default_collate``, the samplers, ``random_split``:
  PyTorch's ``torch.utils.data`` names and behaviour (also importable as ``nnblocks.utils.data``), with NumPy
  arrays inside and batches of ``nnblocks.Tensor``.
- toy sets (``xor``, ``moons``, ``circles``, ``spirals``, ``blobs``, ``regression_line``, the chapter's examples),
  registered by name in ``TOY_SETS``.
- ``digits()``: 1,797 8x8 handwritten digits shipped with the package (no download).
- ``mnist()``, ``fashion_mnist()``: IDX readers with validation and an opt-in, checksummed download.
- ``train_val_split``, ``train_val_test_split``, ``scale_255``, ``Standardizer``: explicit preparation steps.
- the recipe's data pipeline, one step per function: ``load_dataset`` (any of the above, or your own CSV / NPZ file
  through ``read_table`` and ``labels_to_task``, as a ``RawData``), ``split_dataset`` (a ``SplitPlan``),
  ``subsample``, ``scale_splits`` (a named ``Scaling``), or all of them at once with ``prepare``.
"""
from __future__ import annotations

from nnblocks.data.collate import default_collate, default_convert
from nnblocks.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
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
from nnblocks.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler
from nnblocks.data.pipeline import BOOK_SPLIT, SplitPlan, Splits, prepare, scale_splits, split_dataset, subsample
from nnblocks.data.prep import Standardizer, scale_255, split_indices, train_val_split, train_val_test_split
from nnblocks.data.scaling import SCALINGS, Scaling, resolve_scaling
from nnblocks.data.sources import (
    IMAGE_SETS,
    OFFICIAL_TEST_SETS,
    RawData,
    dataset_names,
    load_dataset,
    short_name,
)
from nnblocks.data.tables import Table, is_data_file, read_csv, read_npz, read_table
from nnblocks.data.tasks import Targets, labels_to_task
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
    "Dataset", "TensorDataset", "Subset", "DataLoader", "IterableDataset", "ConcatDataset", "random_split",
    "default_collate", "default_convert", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "BatchSampler",
    "digits",
    "mnist", "fashion_mnist", "read_idx", "read_idx_images", "read_idx_labels", "data_root", "FASHION_CLASSES",
    "split_indices", "train_val_split", "train_val_test_split", "scale_255", "Standardizer",
    "read_table", "read_csv", "read_npz", "is_data_file", "Table", "labels_to_task", "Targets",
    "load_dataset", "RawData", "dataset_names", "short_name", "IMAGE_SETS", "OFFICIAL_TEST_SETS",
    "SplitPlan", "BOOK_SPLIT", "Splits", "split_dataset", "subsample", "Scaling", "SCALINGS", "resolve_scaling",
    "scale_splits", "prepare",
    "TOY_SETS", "xor", "moons", "circles", "spirals", "blobs", "regression_line",
    "chapter1_single", "chapter1_times_three", "chapter2_sum",
]
