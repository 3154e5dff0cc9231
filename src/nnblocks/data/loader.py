"""DataLoader: cut a dataset into mini-batches, in order or shuffled, reproducibly.

One epoch visits every sample exactly once. With ``shuffle=True`` the loader draws one permutation of
``range(len(dataset))`` per epoch from its own generator and yields its consecutive chunks; so the same ``seed``
gives the same sequence of epochs every time a loader is built, and successive epochs of one loader differ.

How a batch is made, fastest first:
- the dataset can hand out whole batches (``TensorDataset``, ``Subset`` of one: it has ``get_batch``): the arrays are
  indexed once per batch. Without shuffle the index is a slice, so each batch is a *view* of the dataset's arrays
  (no copy; writing into it in place writes into the dataset). With shuffle it is ``array[indices]``, a fresh array
  per batch (measured faster than ``np.take`` with or without a reused ``out=`` buffer, and never aliased with a
  batch the training loop may still hold).
- any other ``Dataset``: its items are fetched one by one and stacked (``np.stack``) field by field.

Batches are tuples of ``Tensor`` with ``requires_grad=False`` whose arrays keep the dataset's dtypes (float32 stays
float32; integer labels stay int64). A dataset whose items are single values (not tuples) yields single Tensors,
as PyTorch's default collate does.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from nnblocks.data.dataset import Dataset
from nnblocks.errors import InvalidValueError
from nnblocks.random import get_generator
from nnblocks.tensor import Tensor


def _field_array(values: list[Any]) -> np.ndarray:
    """Stack one field of several samples into an array with nnblocks' dtypes (Python floats -> default float)."""
    first = values[0]
    if isinstance(first, Tensor):
        return np.stack([v.data for v in values])
    if isinstance(first, (np.ndarray, np.generic)):
        return np.stack(values)
    return Tensor(values).data  # Python numbers or lists: the same dtype rules as Tensor(...)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of ``batch_size`` samples.

    Args:
        dataset: a ``Dataset`` (a ``TensorDataset`` is batched by array indexing, with no loop over samples).
        batch_size: samples per batch; the last batch is smaller when ``batch_size`` does not divide the dataset.
        shuffle: draw a new random order each epoch.
        drop_last: drop the last, incomplete batch (then every batch has exactly ``batch_size`` samples).
        seed: an int or a ``numpy.random.Generator`` for the shuffling order. An int gives the same epochs every
            time the loader is created; a Generator is used (and advanced) as given; None uses nnblocks' global
            generator (``nnblocks.random.manual_seed``).

    ``len(loader)`` is the number of batches per epoch: ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | np.random.Generator | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = get_generator(seed) if self.shuffle else None
        self._get_batch = getattr(dataset, "get_batch", None)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray | None:
        """This epoch's sample order: a permutation when shuffling, None for the natural order."""
        if not self.shuffle:
            return None
        return self.generator.permutation(len(self.dataset))  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._order()
        stop_at = len(self) * self.batch_size
        for start in range(0, min(n, stop_at), self.batch_size):
            end = min(start + self.batch_size, n)
            index: Any = slice(start, end) if order is None else order[start:end]
            if self._get_batch is not None:
                yield tuple(Tensor(a) for a in self._get_batch(index))
            else:
                yield self._collate(range(start, end) if order is None else index)

    def _collate(self, indices: Any) -> Any:
        """The generic path: fetch each sample and stack field by field."""
        samples = [self.dataset[int(i)] for i in indices]
        if isinstance(samples[0], (tuple, list)):
            return tuple(Tensor(_field_array([s[k] for s in samples])) for k in range(len(samples[0])))
        return Tensor(_field_array(samples))

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")
