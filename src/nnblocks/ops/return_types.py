"""The named tuples some functions return, as ``torch.return_types``: ``x.max(dim)`` is ``max(values, indices)``.

Each is a tuple (``values, indices = x.max(1)`` unpacks it; ``r[0]`` is the values) with named fields, printed as
PyTorch prints it, so the book's ``x.max(dim=0)`` cell shows the same text:

    torch.return_types.max(
    values=tensor([...]),
    indices=tensor([...]))
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any


def _return_type(name: str) -> Any:
    fields = namedtuple(name, ("values", "indices"))  # type: ignore[misc] - the name is chosen at run time

    class ReturnType(fields):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def __repr__(self) -> str:
            body = ",\n".join(f"{field}={value!r}" for field, value in zip(self._fields, self))
            return f"torch.return_types.{name}(\n{body})"

    ReturnType.__name__ = ReturnType.__qualname__ = name
    ReturnType.__module__ = __name__
    return ReturnType


max = _return_type("max")  # noqa: A001 - PyTorch's names
min = _return_type("min")  # noqa: A001
sort = _return_type("sort")
topk = _return_type("topk")
