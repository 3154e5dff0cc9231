"""PyTorch's ``torch.utils`` for nnblocks: ``nnblocks.utils.data`` (datasets, loaders, samplers) and ``summary``.

``from nnblocks.utils.data import Dataset, DataLoader`` is the book's ``from torch.utils.data import Dataset,
DataLoader`` with only the package name changed; the classes themselves live in ``nnblocks.data``.
"""
from nnblocks.utils import data
from nnblocks.utils.model_summary import summary

__all__ = ["data", "summary"]
