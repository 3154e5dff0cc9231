"""Data types under PyTorch's names (``nnblocks.float32``, ``nnblocks.long``...), what a tensor can hold, and the
default float dtype.

A tensor's data is a NumPy array, so its element type *is* a NumPy dtype. ``nnblocks.float32`` is a small object that
stands for that NumPy dtype under PyTorch's name:

- it prints as ``torch.float32``, so the book's printed outputs (``x.dtype`` -> ``torch.int64``) read the same;
- it compares equal to its NumPy dtype and to anything NumPy reads as it (``np.float32``, ``"float32"``) and hashes
  like it, so code written against NumPy dtypes keeps working (``t.dtype == np.float32``);
- NumPy takes it wherever a dtype goes (``np.zeros(3, dtype=nb.float32)``): NumPy reads its ``.dtype`` attribute.

``Tensor.dtype`` returns one of these objects (a dictionary lookup); ``t.data.dtype`` is the NumPy dtype itself.

A tensor holds numbers or booleans: ``from_python`` and ``check_numbers`` refuse None, strings, arbitrary objects and
ragged lists at once, naming what was given, where NumPy would make an object or string array (and fail later, far
from the cause).

Differs from PyTorch on purpose: ``torch.float32 == np.float32`` is False in PyTorch and True here (the arrays are
NumPy's); ``set_default_dtype`` takes float32 and float64 only (PyTorch also takes float16 and bfloat16).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from nnblocks.errors import DTypeError, InvalidArgumentError, ShapeError


class dtype:  # noqa: N801 - PyTorch's name (torch.dtype)
    """A NumPy dtype under PyTorch's name; ``.dtype`` is the NumPy dtype (what NumPy reads)."""

    __slots__ = ("dtype", "_name")

    def __init__(self, numpy_dtype: Any, name: str) -> None:
        self.dtype = np.dtype(numpy_dtype)
        self._name = name

    @property
    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self.dtype.kind in "ifc"

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    def __getattr__(self, name: str) -> Any:  # kind, char, type, name...: the NumPy dtype's own attributes
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        try:
            return self.dtype == np.dtype(other)
        except (TypeError, ValueError):
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __reduce__(self) -> tuple:  # copy/deepcopy/pickle give back the registered object
        return as_dtype, (self.dtype.str,)


# PyTorch's names, first the canonical one (what the dtype prints as), then its aliases.
_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("float32", ("float",)), ("float64", ("double",)), ("float16", ("half",)),
    ("int64", ("long",)), ("int32", ("int",)), ("int16", ("short",)), ("int8", ()),
    ("uint8", ()), ("uint16", ()), ("uint32", ()), ("uint64", ()), ("bool", ()),
    ("complex64", ("cfloat",)), ("complex128", ("cdouble",)),
)
_BY_NUMPY: dict[np.dtype, dtype] = {}
NAMES: dict[str, dtype] = {}  # every public name -> its dtype object (nnblocks/__init__ puts them on the package)
for _canonical, _aliases in _NAMES:
    _object = _BY_NUMPY[np.dtype(_canonical)] = dtype(_canonical, _canonical)
    for _name in (_canonical, *_aliases):
        NAMES[_name] = _object

# The legacy type strings of ``Tensor.type()`` ("torch.FloatTensor") and what they mean.
TENSOR_TYPES: dict[str, dtype] = {
    f"torch.{kind}Tensor": NAMES[name] for kind, name in (
        ("Float", "float32"), ("Double", "float64"), ("Half", "float16"), ("Long", "int64"), ("Int", "int32"),
        ("Short", "int16"), ("Char", "int8"), ("Byte", "uint8"), ("Bool", "bool"))
}


def as_dtype(value: Any) -> dtype:
    """The nnblocks dtype for a NumPy dtype, a NumPy type, a name NumPy knows, or an nnblocks dtype."""
    if isinstance(value, dtype):
        return value
    numpy_dtype = np.dtype(value)
    found = _BY_NUMPY.get(numpy_dtype)
    if found is None:  # a dtype PyTorch has no name for (e.g. float128): keep NumPy's name
        found = _BY_NUMPY[numpy_dtype] = dtype(numpy_dtype, numpy_dtype.name)
    return found


def to_numpy(value: Any, owner: str = "dtype") -> np.dtype:
    """``np.dtype(value)``, or a ``DTypeError`` naming ``owner`` and what was given (never NumPy's own message)."""
    if isinstance(value, dtype):
        return value.dtype
    if isinstance(value, str) and value in TENSOR_TYPES:
        return TENSOR_TYPES[value].dtype
    try:
        return np.dtype(value)
    except (TypeError, ValueError):
        raise DTypeError(f"{owner}: {value!r} is not a dtype; use one of nnblocks.float32, nnblocks.float64, "
                         "nnblocks.int64, nnblocks.bool... (or a NumPy dtype)") from None


# ---- what a tensor can hold ------------------------------------------------------------------------------------------
_REFUSED_KINDS = "OUSVMm"  # object, str, bytes, void, datetime, timedelta: nothing an op can compute with


def from_python(data: Any, what: str) -> np.ndarray:
    """An array from Python data (lists, tuples, numbers, nested tensors), refusing what is not numbers: None, strings,
    arbitrary objects, ragged lists. ``what`` names the caller in the error (``"tensor()"``)."""
    try:
        array = np.asarray(data)
    except ValueError:  # NumPy's "inhomogeneous shape": rows of different lengths
        raise ShapeError(f"{what}: the nested lists have rows of different lengths (ragged), got {show(data)}; every "
                         "row of a tensor needs the same number of elements") from None
    except (TypeError, OverflowError) as exc:
        raise InvalidArgumentError(f"{what}: cannot make a tensor of {show(data)}: {exc}") from None
    check_numbers(array, data, what)
    return array


def check_numbers(array: np.ndarray, given: Any, what: str) -> None:
    """Raise ``InvalidArgumentError`` unless ``array`` holds numbers (or booleans)."""
    if array.dtype.kind in _REFUSED_KINDS:
        raise InvalidArgumentError(f"{what}: a tensor holds numbers or booleans, got {show(given)} "
                                   f"(of type {type(given).__name__}); convert it first, e.g. [float(v) for v in ...]")


def show(data: Any) -> str:
    """``repr(data)``, cut to 60 characters for an error message."""
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."



# ---- the default float dtype ---------------------------------------------------------------------------------------
_default = np.dtype(np.float32)


def default_numpy() -> np.dtype:
    """The default float dtype as a NumPy dtype (what new float arrays are made with)."""
    return _default


def set_default_dtype(value: Any) -> None:
    """Set the float dtype used for Python numbers/lists and new parameters (float32 or float64)."""
    global _default
    numpy_dtype = to_numpy(value, "set_default_dtype")
    if numpy_dtype not in (np.float32, np.float64):
        raise DTypeError(f"set_default_dtype: only float32 and float64 are supported, got {as_dtype(numpy_dtype)}")
    _default = numpy_dtype


def get_default_dtype() -> dtype:
    """The float dtype new tensors and parameters get when none is given (``torch.float32`` unless changed).

    NumPy takes it as a dtype (``np.zeros(3, dtype=get_default_dtype())``) and it equals ``np.float32``."""
    return _BY_NUMPY[_default]


@contextlib.contextmanager
def default_dtype(value: Any) -> Iterator[None]:
    """``with default_dtype(np.float64): ...`` switches the default dtype for a block (used by gradient checks)."""
    previous = _default
    set_default_dtype(value)
    try:
        yield
    finally:
        set_default_dtype(previous)
