"""Samplers: the order in which a DataLoader visits a dataset's indices (PyTorch's ``torch.utils.data`` samplers).

A sampler is any iterable of indices (a list works); the classes here also hand the loader one epoch's order as an
int64 array at once (``epoch_order``), so a ``TensorDataset`` is still batched by array indexing, and
``SequentialSampler`` says "the natural order" (None), so its batches are slices: views, no copy.

Randomness is nnblocks': ``generator`` is an int seed or a ``numpy.random.Generator`` (None: nnblocks' global
generator, which ``nnblocks.manual_seed`` resets), not a ``torch.Generator``.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from nnblocks.errors import InvalidArgumentError, InvalidValueError
from nnblocks.random import get_generator


def as_generator(generator: Any, owner: str) -> np.random.Generator:
    """An int seed, a numpy Generator or None (the global generator) as a numpy Generator; anything else is refused."""
    if generator is None or isinstance(generator, (int, np.integer, np.random.Generator)) \
            and not isinstance(generator, bool):
        return get_generator(generator)
    raise InvalidArgumentError(f"{owner}: generator= takes an int seed or a numpy.random.Generator in nnblocks, got "
                               f"a {type(generator).__name__} (a torch.Generator has no meaning here: use "
                               "generator=np.random.default_rng(seed), or seed=)")


class Sampler:
    """Base class: ``iter(sampler)`` yields dataset indices; ``epoch_order()`` gives one epoch's indices at once."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def epoch_order(self) -> np.ndarray | None:
        """This epoch's indices as an int64 array (None: 0, 1, ..., len-1, which lets the loader slice)."""
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    def __init__(self, data_source: Sequence[Any]) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def epoch_order(self) -> None:
        return None


class RandomSampler(Sampler):
    """A new random order every epoch: a permutation of all indices, or ``num_samples`` draws with replacement."""

    def __init__(self, data_source: Sequence[Any], replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, int)
                                        or num_samples <= 0):
            raise InvalidValueError(f"RandomSampler: num_samples must be a positive int, got {num_samples!r}")
        if num_samples is not None and not replacement and num_samples != len(data_source):
            raise InvalidValueError("RandomSampler: without replacement every index is drawn once, so num_samples "
                                    f"must be len(data_source) = {len(data_source)}; got {num_samples} (pass "
                                    "replacement=True, or use a Subset)")
        self.data_source, self.replacement = data_source, bool(replacement)
        self._num_samples = num_samples
        self.generator = as_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def epoch_order(self) -> np.ndarray:
        n = len(self.data_source)
        if self.replacement:
            return self.generator.integers(0, n, size=self.num_samples, dtype=np.int64)
        return self.generator.permutation(n)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order every epoch."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.generator = as_generator(generator, "SubsetRandomSampler")

    def __len__(self) -> int:
        return len(self.indices)

    def epoch_order(self) -> np.ndarray:
        return self.indices[self.generator.permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
