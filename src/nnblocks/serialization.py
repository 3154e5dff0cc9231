"""``nnblocks.save(obj, path)`` / ``nnblocks.load(path)``: PyTorch's ``torch.save`` / ``torch.load``, without pickle.

    torch.save(model.state_dict(), "mymodel.pth")          # the book's lines, with `import nnblocks as torch`
    model.load_state_dict(torch.load("mymodel.pth"))       # -> <All keys matched successfully>

What can be saved: Tensors, NumPy arrays and scalars, Python numbers, strings, bytes, None, and dicts (any keys of
those kinds), lists and tuples of them, nested as deep as you like: a state dict, an optimizer's ``state_dict()``,
``{"epoch": 3, "model": model.state_dict(), "losses": [...]}``. Loading gives back the same structure and types
(an ``OrderedDict`` stays ordered, a Tensor stays a Tensor with its ``requires_grad``, an array an array).

Where it differs from PyTorch, on purpose: the file is a NumPy ``.npz`` (a zip of ``.npy`` arrays) plus one JSON
entry describing the structure, read with ``allow_pickle=False``; loading a file never runs code, whatever
``weights_only`` says. So objects that only pickle can store are refused at save time with the way out: a whole
``nn.Module`` or optimizer (save its ``state_dict()``), your own classes (save their numbers). Two names for one
tensor are saved as two copies (PyTorch keeps them shared). ``map_location`` is accepted: every array loads on the
CPU, the only device nnblocks has.

``load`` also reads: an nnblocks training checkpoint (``nnblocks train``'s ``model.npz``) as a dict of its parts
(``model``, ``optimizer``, ``scheduler``, ``epoch``, ``config``, ``history``, ``extra``, ``rng``) in plain data; a
plain ``.npz`` (a dict of its arrays) or ``.npy`` (the array). A PyTorch ``.pt``/``.pth`` file is pickle: it is
refused with the one line that converts it.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nnblocks.errors import CheckpointError, InvalidArgumentError, InvalidValueError
from nnblocks.tensor import Tensor

FORMAT, VERSION = "nnblocks-save", 1
META_KEY = "__nnblocks__"  # the same entry name as a training checkpoint's: one reader tells them apart
CHECKPOINT_FORMAT = "nnblocks-checkpoint"  # train/checkpoint.py's files, read here as plain data
_MARKERS = ("__array__", "__tensor__", "__tuple__", "__items__", "__bytes__")
_SUPPORTED = "Tensors, NumPy arrays, numbers, strings, bytes, None, and dicts, lists or tuples of them"


# ---- the structure <-> JSON + arrays ---------------------------------------------------------------------------------
def _refusal(value: Any, where: str) -> InvalidArgumentError:
    kind = type(value).__name__
    if hasattr(value, "state_dict") and (hasattr(value, "parameters") or hasattr(value, "param_groups")):
        what = "a whole nn.Module" if hasattr(value, "parameters") else "a whole optimizer"
        return InvalidArgumentError(
            f"save: {where} is {what} ({kind}); nnblocks saves no pickled objects, so save its state_dict() "
            f"instead: nnblocks.save(obj.state_dict(), path), then build the {kind} again and call "
            "obj.load_state_dict(nnblocks.load(path))")
    if hasattr(value, "state_dict"):
        return InvalidArgumentError(f"save: {where} is a {kind}; save its state_dict() instead (nnblocks saves "
                                    "no pickled objects)")
    return InvalidArgumentError(f"save: {where} is a {kind}, which only pickle could store; nnblocks saves "
                                f"{_SUPPORTED} (no pickle, so loading never runs code): save its numbers instead")


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "numpy")


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """The JSON-able skeleton of ``value``; every array goes into ``arrays`` (a reference stays in the skeleton)."""
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is also a Python float
        return {"__array__": _store(np.asarray(value), arrays, where), "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Tensor) or _is_torch_tensor(value):
        data = value.data if isinstance(value, Tensor) else value.detach().cpu().numpy()
        return {"__tensor__": _store(np.asarray(data), arrays, where), "requires_grad": bool(value.requires_grad)}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = type(value) is dict and all(isinstance(k, str) and k not in _MARKERS for k in value)
        if plain:
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
        items = [[_encode(k, arrays, f"a key of {where}"), _encode(v, arrays, f"{where}[{k!r}]")]
                 for k, v in value.items()]
        return {"__items__": items, "ordered": isinstance(value, OrderedDict)}
    raise _refusal(value, where)


def _store(array: np.ndarray, arrays: dict[str, np.ndarray], where: str) -> str:
    if array.dtype.kind in "OV":
        raise InvalidArgumentError(f"save: {where} is a NumPy array of dtype {array.dtype} (Python objects): only "
                                   "pickle could store it; convert it to numbers or strings")
    key = f"array_{len(arrays)}"
    arrays[key] = array
    return key


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of ``_encode``; also reads a training checkpoint's skeleton (the same markers, no tensors)."""
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        array = arrays[value["__tensor__"]]
        return Tensor(array, requires_grad=bool(value.get("requires_grad")) and array.dtype.kind == "f")
    if "__array__" in value:
        array = arrays[value["__array__"]]
        return array[()] if value.get("scalar") else array
    if "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__items__" in value:
        pairs = [(_hashable(_decode(k, arrays)), _decode(v, arrays)) for k, v in value["__items__"]]
        return OrderedDict(pairs) if value.get("ordered") else dict(pairs)
    return {k: _decode(v, arrays) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


# ---- saving ----------------------------------------------------------------------------------------------------------
def save(obj: Any, f: str | os.PathLike | BinaryIO, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Write ``obj`` (see the module doc for what it may hold) to the path or binary file ``f``.

    A path is written atomically (a temporary file renamed into place: an error leaves any previous file intact) and
    exactly under the name given (``mymodel.pth`` stays ``mymodel.pth``). ``pickle_protocol`` and PyTorch's other
    format switches are accepted and mean nothing here; a ``pickle_module`` is refused: nothing is pickled.
    """
    if pickle_module is not None:
        raise InvalidArgumentError("save: pickle_module= is PyTorch's hook into pickle; nnblocks never pickles, "
                                   "leave it out")
    arrays: dict[str, np.ndarray] = {}
    skeleton = _encode(obj, arrays, "the object")
    meta = {"format": FORMAT, "version": VERSION, "object": skeleton}
    arrays[META_KEY] = np.array(json.dumps(meta))
    if hasattr(f, "write"):
        np.savez(f, **arrays)
        return
    path = Path(f)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- loading ---------------------------------------------------------------------------------------------------------
def _check_map_location(map_location: Any) -> None:
    """Every location that means the CPU is fine (a function too: it would only move arrays that are on the CPU)."""
    if map_location is None or callable(map_location) and not isinstance(map_location, (str, dict)):
        return
    places = map_location.values() if isinstance(map_location, dict) else [map_location]
    for place in places:
        if not str(place).startswith("cpu"):
            raise InvalidValueError(f"load: map_location={place!r}: nnblocks computes on the CPU with NumPy, so "
                                    "everything loads there; leave map_location out, or pass 'cpu'")


def _name(f: Any) -> str:
    return str(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", f"<{type(f).__name__}>")


def _torch_advice(name: str, what: str) -> str:
    return (f"{name}: {what}, and nnblocks never loads pickle (unpickling can run any code). Convert it once, "
            f"where PyTorch is installed: nnblocks.save(torch.load({name!r}), 'weights.npz') for a state dict (or "
            "any nest of tensors; torch tensors are saved as nnblocks Tensors), or "
            f"nnblocks.export.from_torch(torch.load({name!r}, weights_only=False)) for a whole torch.nn.Module")


def _open(f: Any) -> tuple[Any, bytes]:
    """The readable source (path or file object, rewound) and its first bytes."""
    if hasattr(f, "read"):
        start = f.tell()
        head = f.read(8)
        f.seek(start)
        return f, head
    path = Path(f)
    if not path.is_file():
        raise FileNotFoundError(f"load: no such file: {path}")
    with open(path, "rb") as handle:
        return path, handle.read(8)


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Read what ``save`` wrote (or a training checkpoint, a plain ``.npz``/``.npy``); see the module doc.

    ``weights_only`` is accepted with any value: loading never executes anything (``mmap`` and pickle's own
    arguments, such as ``encoding=``, have nothing to act on). A file of another kind is a ``CheckpointError``
    naming it; a PyTorch pickle file says how to convert it.
    """
    if pickle_module is not None:
        raise InvalidArgumentError("load: pickle_module= is PyTorch's hook into pickle; nnblocks never unpickles")
    _check_map_location(map_location)
    source, head = _open(f)
    name = _name(f)
    if head.startswith(b"\x80") or head[:1] in (b"(", b"]", b"}"):
        raise CheckpointError(_torch_advice(name, "this is a Python pickle (PyTorch's legacy torch.save format "
                                                  "or pickle.dump)"))
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        raise CheckpointError(f"{name}: not a file nnblocks.save wrote (nor a .npz or .npy file): it starts with "
                              f"{head!r}; was it saved by another program, or cut short?")
    try:
        loaded = np.load(source, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        with loaded:
            if any(n.endswith("data.pkl") for n in loaded.files):
                raise CheckpointError(_torch_advice(name, "this is a PyTorch file (torch.save's zip of pickles)"))
            arrays = {key: loaded[key] for key in loaded.files}  # read everything now: errors surface here
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
        raise CheckpointError(f"{name}: cannot read it: truncated or corrupt file ({type(exc).__name__}: {exc})") \
            from exc
    if META_KEY not in arrays:
        return arrays  # a plain .npz: its arrays by name
    return _from_meta(name, arrays)


def _from_meta(name: str, arrays: dict[str, np.ndarray]) -> Any:
    try:
        meta = json.loads(str(arrays.pop(META_KEY)[()]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{name}: its {META_KEY} entry is not valid JSON ({exc}): the file is damaged") from exc
    kind = meta.get("format") if isinstance(meta, dict) else None
    if kind not in (FORMAT, CHECKPOINT_FORMAT):
        raise CheckpointError(f"{name}: unknown nnblocks file format {kind!r}")
    newest = VERSION if kind == FORMAT else 1
    if int(meta.get("version", 0)) > newest:
        raise CheckpointError(f"{name}: {kind} version {meta['version']} is newer than this nnblocks reads "
                              f"({newest}); upgrade nnblocks")
    try:
        if kind == FORMAT:
            return _decode(meta["object"], arrays)
        return _checkpoint_parts(meta, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: malformed {kind} file ({type(exc).__name__}: {exc})") from exc


def _checkpoint_parts(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """A training checkpoint as plain data: ``model`` is its state dict (``model.load_state_dict(parts["model"])``)."""
    model = OrderedDict((key, arrays[f"model/{key}"]) for key in meta["model_shapes"])
    parts = {"model": model, "epoch": int(meta["epoch"]), "config": meta.get("config"),
             "history": meta.get("history"), "rng": meta.get("rng")}
    for part in ("optimizer", "scheduler", "extra"):
        parts[part] = _decode(meta.get(part), arrays)
    for part in ("model_class", "optimizer_class", "scheduler_class"):
        parts[part] = meta.get(part)
    return parts

