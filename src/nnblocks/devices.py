"""Devices: where a tensor lives. In nnblocks that is always the CPU, in NumPy arrays.

``nnblocks.device("cpu")`` and ``nnblocks.device("cuda:0")`` are PyTorch's device objects (``.type``, ``.index``,
equality, ``str``), so the book's ``device = 'cuda' if torch.cuda.is_available() else 'cpu'`` followed by
``x.to(device)`` / ``model.to(device)`` runs unchanged: ``nnblocks.cuda.is_available()`` is False, the string is
``'cpu'``, and moving to the CPU returns the tensor (or module) itself.

Naming a device is always allowed (``nnblocks.device("cuda")`` is a valid object, as in PyTorch); *computing* on one
that is not the CPU (``.to("cuda")``, ``.cuda()``, ``zeros(3, device="cuda")``) raises ``DeviceError`` saying that
nnblocks computes on the CPU with NumPy and what to write instead.
"""
from __future__ import annotations

from typing import Any

from nnblocks.errors import DeviceError

# The device types PyTorch 2.13 knows (torch.device rejects any other string); only "cpu" computes here.
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


def _parse(text: str) -> tuple[str, int | None]:
    kind, colon, number = text.partition(":")
    if kind not in DEVICE_TYPES:
        raise DeviceError(f"device: {text!r} names no device; expected one of {', '.join(DEVICE_TYPES)} at the start "
                          "(nnblocks computes on 'cpu')")
    if not colon:
        return kind, None
    if not number.isdigit() or (len(number) > 1 and number.startswith("0")):
        raise DeviceError(f"device: invalid device string {text!r} (expected e.g. 'cpu' or 'cuda:0')")
    return kind, int(number)


class device:  # noqa: N801 - PyTorch's name (torch.device)
    """A device: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``, ``device(type="cpu")``."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            kind, number = type.type, type.index
        elif isinstance(type, str):
            kind, number = _parse(type)
        elif isinstance(type, int) and not isinstance(type, bool):
            raise DeviceError(f"device({type}): an integer picks an accelerator, and nnblocks has none; it computes "
                              "on the CPU with NumPy: use device('cpu')")
        else:
            raise DeviceError(f"device: expected a string such as 'cpu', got {type!r}")
        if index is not None:
            if number is not None:
                raise DeviceError(f"device: {type!r} already has an index; give device('cuda', 0) or device('cuda:0')")
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise DeviceError(f"device: the index must be an int >= 0, got {index!r}")
            number = index
        self.type, self.index = kind, number

    def __eq__(self, other: Any) -> bool:  # as PyTorch: a device never equals a string, and 'cpu' != 'cpu:0'
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"


CPU = device("cpu")


def check_device(value: Any, owner: str) -> device:
    """The CPU device, if ``value`` (None, a string, a device) means it; else ``DeviceError`` naming ``owner``."""
    if value is None or value is CPU or (isinstance(value, str) and value == "cpu"):
        return CPU
    found = device(value)  # raises for strings that name no device
    if found.type == "cpu":
        return CPU
    raise DeviceError(
        f"{owner}: nnblocks computes on the CPU with NumPy, so there is no {found.type!r} device here (asked for "
        f"{str(found)!r}). Use 'cpu', e.g. device = 'cuda' if torch.cuda.is_available() else 'cpu' "
        "(nnblocks.cuda.is_available() is False)"
    )
