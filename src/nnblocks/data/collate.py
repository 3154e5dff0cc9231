"""How a DataLoader turns a list of samples into one batch: ``default_collate``, PyTorch's rules on nnblocks Tensors.

A sample is whatever ``dataset[i]`` returns; a batch of them is collated field by field, recursively:

=====================================  ===========================================================================
the samples hold                       the batch holds
=====================================  ===========================================================================
Tensors / NumPy arrays of one shape    one Tensor, stacked on a new first axis, keeping their dtype (float64 stays
                                       float64, uint8 stays uint8)
NumPy scalars (``np.float32(1)``)      a 1-D Tensor of their dtype
Python ints (and bools)                a 1-D int64 (bool) Tensor
Python floats                          a 1-D **float64** Tensor (as PyTorch: not the default float32)
strings / bytes                        the list of them, unchanged
dicts                                  a dict (same type) of each key's values collated
named tuples                           the same named tuple type of each field collated
tuples / lists of equal length         a **list** of each position collated (``x, y = batch`` unpacks it)
=====================================  ===========================================================================

Anything else (None, a PIL image, an object array) is refused with an error that names the sample's type and the
way out (convert it in ``__getitem__`` or a ``transform``, or pass your own ``collate_fn``).

``default_convert`` is what a loader with ``batch_size=None`` applies to each single sample instead: NumPy arrays
become Tensors, everything else is left as it is (recursively through dicts, tuples and lists).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnblocks.errors import InvalidArgumentError, ShapeError
from nnblocks.creation import tensor
from nnblocks.tensor import Tensor

_SUPPORTED = "Tensors, NumPy arrays, numbers, strings, and dicts, lists or tuples of them"


def _unsupported(value: Any, where: str) -> InvalidArgumentError:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return InvalidArgumentError(
        f"default_collate: a batch can only be made of {_SUPPORTED}; {where} is a {name}. Convert it in your "
        "Dataset's __getitem__ (or with transform=, e.g. nnblocks.vision.transforms.ToTensor() for an image), "
        "or pass DataLoader(collate_fn=...) to build batches your own way")


def _stack(arrays: list[np.ndarray], where: str) -> Tensor:
    first = arrays[0]
    if first.dtype.kind in "OSUV":  # object, bytes, str, void: nothing a Tensor can hold
        raise _unsupported(first, f"{where} (a NumPy array of dtype {first.dtype})")
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise ShapeError(f"default_collate: every sample's {where} must have the same shape to be stacked into "
                             f"a batch; sample 0 has {first.shape}, sample {i} has {a.shape}. Resize or pad them in "
                             "__getitem__, or pass a collate_fn that pads")
    return Tensor(np.stack(arrays))


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def default_collate(batch: Sequence[Any], _where: str = "the sample") -> Any:
    """Collate a list of samples into one batch, following PyTorch's ``default_collate`` (table in the module doc)."""
    if len(batch) == 0:
        raise InvalidArgumentError("default_collate: the batch is empty (no samples to collate)")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.data for b in batch], _where)
    if isinstance(elem, (np.ndarray, np.generic)):
        return _stack([np.asarray(b) for b in batch], _where)
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bools too (an int subclass): bool batches stay bool
        return tensor(batch)  # torch.tensor's rules: int64 (bool for bools)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        collated = {key: default_collate([d[key] for d in batch], f"{_where}[{key!r}]") for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, Sequence):
        size = len(elem)
        for i, b in enumerate(batch):
            if len(b) != size:
                raise ShapeError(f"default_collate: every sample must have the same number of fields; sample 0 "
                                 f"has {size}, sample {i} has {len(b)}")
        fields = [default_collate(list(column), f"{_where}[{k}]") for k, column in enumerate(zip(*batch))]
        return type(elem)(*fields) if _is_namedtuple(elem) else fields
    raise _unsupported(elem, _where)


def default_convert(sample: Any) -> Any:
    """One sample made batch-free: NumPy arrays (not of strings or objects) become Tensors; dicts, named tuples,
    tuples and lists are converted element by element; everything else is returned as it is (as PyTorch)."""
    if isinstance(sample, np.ndarray) and sample.dtype.kind not in "OSUV":
        return Tensor(sample)
    if isinstance(sample, np.generic) and sample.dtype.kind not in "OSUV":
        return Tensor(np.asarray(sample))
    if isinstance(sample, Mapping):
        return type(sample)({k: default_convert(v) for k, v in sample.items()})  # type: ignore[call-arg]
    if _is_namedtuple(sample):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, tuple):
        return [default_convert(v) for v in sample]
    if isinstance(sample, list):
        return [default_convert(v) for v in sample]
    return sample
