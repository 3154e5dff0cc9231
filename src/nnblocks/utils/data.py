"""``torch.utils.data`` under nnblocks' name: the same classes and functions as ``nnblocks.data`` (where they live).

    from nnblocks.utils.data import Dataset, DataLoader, TensorDataset, random_split

What differs from PyTorch, on purpose: ``DataLoader(num_workers=N)`` builds batches in this process (nnblocks has no
worker processes) and ``pin_memory`` has no effect (no GPU); random orders come from NumPy generators
(``generator=`` an int seed or a ``numpy.random.Generator``), so a seed does not give PyTorch's order.
"""
from nnblocks.data.collate import default_collate, default_convert
from nnblocks.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from nnblocks.data.loader import DataLoader
from nnblocks.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
    "default_collate", "default_convert", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "BatchSampler",
]
