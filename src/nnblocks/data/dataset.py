"""Datasets: anything with a length that hands out samples by index (PyTorch's ``torch.utils.data`` shapes).

- ``Dataset``: the base class; a subclass defines ``__len__`` and ``__getitem__(i)`` returning one sample.
- ``TensorDataset(X, y, ...)``: arrays (or Tensors) that share their first dimension; sample ``i`` is
  ``(X[i], y[i], ...)``. Because it holds whole arrays, ``DataLoader`` batches it by indexing the arrays at once
  (``X[batch_indices]``), never sample by sample.
- ``Subset(dataset, indices)``: a view of some samples of another dataset (what splits return);
  ``random_split(dataset, [0.8, 0.2])`` cuts a dataset into random Subsets.
- ``ConcatDataset([a, b])`` (also ``a + b``): the samples of several datasets one after the other.
- ``IterableDataset``: a stream of samples (``__iter__``) instead of indexed ones.

A ``Dataset`` subclass needs no ``super().__init__()`` call (the base class keeps no state), as in PyTorch.

A dataset that can hand out a whole batch at once defines ``get_batch(index) -> tuple of ndarrays`` where ``index``
is a slice or an int64 index array; ``DataLoader`` uses it when present.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Iterator, Sequence

import numpy as np

from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError
from nnblocks.data.sampler import as_generator
from nnblocks.creation import tensor
from nnblocks.tensor import Tensor


class Dataset:
    """Base class of datasets: ``len(ds)`` samples, ``ds[i]`` is the i-th (usually a tuple ``(x, y)``)."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: define ``__iter__`` yielding samples (``__len__`` is optional). A DataLoader
    groups the stream into batches in the order it comes; it cannot shuffle or sample it."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self) -> int:  # a TypeError, as len() of any unsized object (list(loader) then just reads on)
        raise InvalidArgumentError(f"{type(self).__name__} is an IterableDataset without __len__: its length is "
                                   "unknown until it has been read")

    def __getitem__(self, index: int) -> Any:
        raise InvalidArgumentError(f"{type(self).__name__} is an IterableDataset: read it with iter(), not [index]")


def _as_array(value: Any) -> np.ndarray:
    """A Tensor's array (shared, not copied), or the array itself; lists become arrays with nnblocks' dtypes."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    return tensor(value).data  # lists: floats -> default float dtype, ints -> int64 (torch.tensor's rules)


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
        """Arrays of the samples at ``index``: views for a slice, copies for an index array (``np.take``: the copy
        ``a[index]`` makes, faster; see ``data/loader.py``)."""
        if isinstance(index, np.ndarray) and index.ndim == 1 and index.dtype.kind in "iu":
            return tuple(np.take(a, index, axis=0) for a in self.arrays)
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


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other: ``ConcatDataset([a, b])[len(a)]`` is ``b[0]``."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise InvalidValueError("ConcatDataset: needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise InvalidArgumentError("ConcatDataset: an IterableDataset has no indices to concatenate")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        index %= n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Counts that add up to ``n``: given as counts, or as fractions that sum to 1 (remainders handed out one by
    one to the first subsets, as PyTorch does)."""
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        counts = [int(x) for x in lengths]
        if sum(counts) != n or min(counts) < 0:
            raise InvalidValueError(f"random_split: the lengths {counts} must be >= 0 and add up to the dataset's "
                                    f"{n} samples (or be fractions that add up to 1)")
        return counts
    if not math.isclose(sum(lengths), 1) or sum(lengths) > 1 or min(lengths) < 0:
        raise InvalidValueError(f"random_split: fractions {list(lengths)} must be >= 0 and add up to 1")
    counts = [int(math.floor(n * f)) for f in lengths]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Cut ``dataset`` into non-overlapping random ``Subset``s of the given lengths (counts, or fractions summing
    to 1: ``random_split(ds, [0.8, 0.2])``). ``generator``: an int seed or a ``numpy.random.Generator`` (None:
    nnblocks' global generator), so the split is reproducible; it is not PyTorch's permutation for the same seed."""
    counts = _split_lengths(lengths, len(dataset))
    order = as_generator(generator, "random_split").permutation(len(dataset))
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
