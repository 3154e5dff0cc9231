"""Datasets: anything with a length that hands out samples by index (PyTorch's ``torch.utils.data`` shapes).

- ``Dataset``: the base class; a subclass defines ``__len__`` and ``__getitem__(i)`` returning one sample.
- ``TensorDataset(X, y, ...)``: arrays (or Tensors) that share their first dimension; sample ``i`` is
  ``(X[i], y[i], ...)``. Because it holds whole arrays, ``DataLoader`` batches it by indexing the arrays at once
  (``X[batch_indices]``), never sample by sample.
- ``Subset(dataset, indices)``: a view of some samples of another dataset (what splits return).

A dataset that can hand out a whole batch at once defines ``get_batch(index) -> tuple of ndarrays`` where ``index``
is a slice or an int64 index array; ``DataLoader`` uses it when present.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnblocks.errors import ShapeError
from nnblocks.tensor import Tensor


class Dataset:
    """Base class of datasets: ``len(ds)`` samples, ``ds[i]`` is the i-th (usually a tuple ``(x, y)``)."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _as_array(value: Any) -> np.ndarray:
    """A Tensor's array (shared, not copied), or the array itself; lists become arrays with nnblocks' dtypes."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    return Tensor(value).data  # lists: floats -> default float dtype, ints -> int64


class TensorDataset(Dataset):
    """Several arrays indexed together along their first dimension.

    ``TensorDataset(X, y)[i] == (Tensor(X[i]), Tensor(y[i]))``. The arrays are kept as given (no copy, same dtype);
    Tensors are unwrapped to their arrays. All must have the same length, else ``ShapeError`` names every shape.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ShapeError("TensorDataset needs at least one array")
        self.arrays: tuple[np.ndarray, ...] = tuple(_as_array(a) for a in arrays)
        for a in self.arrays:
            if a.ndim == 0:
                raise ShapeError(f"TensorDataset: a 0-d array (a scalar) has no samples to index; shapes given: "
                                 f"{[tuple(x.shape) for x in self.arrays]}")
        lengths = {a.shape[0] for a in self.arrays}
        if len(lengths) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
            raise ShapeError(f"TensorDataset: all arrays must have the same first dimension (number of samples); "
                             f"got shapes {shapes}")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The arrays as Tensors (sharing memory), as PyTorch's ``TensorDataset.tensors``."""
        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(Tensor(a[index]) for a in self.arrays)

    def get_batch(self, index: slice | np.ndarray) -> tuple[np.ndarray, ...]:
        """Arrays of the samples at ``index``: views for a slice, copies for an index array."""
        return tuple(a[index] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (no data is copied)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ShapeError(f"Subset: indices must be 1-D, got shape {self.indices.shape}")
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples, got "
                             f"min {self.indices.min()} and max {self.indices.max()}")

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getattr__(self, name: str) -> Any:
        # Offer the batched fast path only when the wrapped dataset has one.
        if name == "get_batch" and hasattr(self.dataset, "get_batch"):
            inner = self.dataset.get_batch  # type: ignore[attr-defined]
            return lambda index: inner(self.indices[index])
        raise AttributeError(f"{type(self).__name__!s} object has no attribute {name!r}")
