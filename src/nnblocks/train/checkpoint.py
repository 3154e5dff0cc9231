"""Checkpoints: a whole training run in ONE ``.npz`` file, written atomically and read without pickle.

What goes in (every entry a plain NumPy array, so ``np.load(..., allow_pickle=False)`` reads it):

- ``model/<name>``: every parameter and buffer of ``model.state_dict()``;
- ``optimizer/<i>``, ``scheduler/<i>``, ``extra/<i>``: the arrays found inside the optimizer's and the scheduler's
  ``state_dict()`` and the ``extra`` dict; the nested structure around them (dicts, lists, numbers, strings) goes
  into the metadata as JSON with ``{"__array__": "optimizer/3"}`` where an array was;
- ``__nnblocks__``: a 0-d unicode array holding that JSON metadata: format and version, the epoch count, the
  history, the ``config`` (e.g. the command line's model description, so ``nnblocks evaluate`` can rebuild the
  model), the model's keys and shapes, and the states of the random generators (``Generator.bit_generator.state``
  is a dict of ints: JSON keeps Python's big integers exactly).

Random generators saved: nnblocks' global generator, every ``numpy.random.Generator`` held as an attribute by a
module of the model (Dropout's ``rng``), and those passed as ``rng={"train": loader.generator}``. Restoring them
is what makes a resumed run bit-identical to an uninterrupted one.

Writing goes to a temporary file in the target's folder, flushed and fsync'ed, then ``os.replace``d over the target:
a crash or an error midway leaves the previous checkpoint untouched and no temporary file behind. A process killed
outright (``kill -9``, a power cut) cannot clean up: its temporary file, named ``.model.npz.<host>.<pid>.<random>.tmp``,
is removed by the next save to the same path once that process is gone (``nnblocks.data.files``). The file gets the
permissions ``open()`` would give it (0644 under the usual umask), not ``mkstemp``'s 0600.

Loading is all or nothing: ``load_checkpoint`` checks every part with the part's own check (``check_state_dict`` of
the model, the optimizer and the scheduler, ``nnblocks.random.check_generator_state``) and loads the parts only when
all of them pass, so a refused checkpoint changes nothing.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnblocks import random as nb_random
from nnblocks.data.files import atomic_temp, default_file_mode, load_error_text, npz_problem, remove_stale_temps
from nnblocks.errors import CheckpointError, NNBlocksError
from nnblocks.tensor import Tensor

FORMAT = "nnblocks-checkpoint"
VERSION = 1
META_KEY = "__nnblocks__"


# ---- nested state <-> arrays + JSON ---------------------------------------------------------------------------------
def _flatten(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able skeleton of ``value``; each array goes into ``arrays`` under ``prefix/<n>``."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind == "O":
            raise CheckpointError(f"cannot store an object array under {prefix!r} in a checkpoint (no pickle)")
        key = f"{prefix}/{len(arrays)}"
        arrays[key] = array
        return {"__array__": key, "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_flatten(v, prefix, arrays) for v in value]}
    if isinstance(value, list):
        return [_flatten(v, prefix, arrays) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and "__array__" not in value and "__tuple__" not in value \
                and "__items__" not in value:
            return {k: _flatten(v, prefix, arrays) for k, v in value.items()}
        # Keys that JSON would turn into strings (an optimizer's state is keyed by parameter index): keep them typed.
        return {"__items__": [[_flatten(k, prefix, arrays), _flatten(v, prefix, arrays)] for k, v in value.items()]}
    raise CheckpointError(f"cannot store a {type(value).__name__} under {prefix!r} in a checkpoint: only arrays, "
                          "numbers, strings, lists, tuples and dicts can be saved without pickle")


def _unflatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            array = arrays[value["__array__"]]
            return array[()] if value.get("scalar") else array
        if "__tuple__" in value:
            return tuple(_unflatten(v, arrays) for v in value["__tuple__"])
        if "__items__" in value:
            return {_hashable(_unflatten(k, arrays)): _unflatten(v, arrays) for k, v in value["__items__"]}
        return {k: _unflatten(v, arrays) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


# ---- random generators ------------------------------------------------------------------------------------------------
def model_generators(model: Any) -> dict[str, np.random.Generator]:
    """Every ``numpy.random.Generator`` a module of ``model`` holds as an attribute, named ``model.<module>.<attr>``."""
    found: dict[str, np.random.Generator] = {}
    if model is None:
        return found
    for module_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"model.{module_name}.{attr}" if module_name else f"model.{attr}"] = value
    return found


def loader_generators(**loaders: Any) -> dict[str, np.random.Generator]:
    """``loader_generators(train=train_loader)`` -> ``{"loader.train": its shuffling Generator}`` (skips None)."""
    return {f"loader.{name}": loader.generator for name, loader in loaders.items()
            if isinstance(getattr(loader, "generator", None), np.random.Generator)}


def _all_generators(model: Any, rng: dict[str, np.random.Generator] | None) -> dict[str, np.random.Generator]:
    gens = {"global": nb_random.get_generator(None)}
    gens.update(model_generators(model))
    for name, g in (rng or {}).items():
        if not isinstance(g, np.random.Generator):
            raise TypeError(f"checkpoint rng[{name!r}] must be a numpy.random.Generator, got {type(g).__name__}")
        gens[name] = g
    return gens


# ---- saving ------------------------------------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, history: Any = None, rng: dict[str, np.random.Generator] | None = None,
                    config: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Save a training run to ``path`` (one ``.npz``), atomically. Returns the path.

    Args:
        model: its ``state_dict()`` is saved (parameters and buffers).
        optimizer, scheduler: their ``state_dict()``s, if given.
        epoch: the number of epochs completed (``fit(start_epoch=epoch)`` resumes after it).
        history: a ``History`` (or None).
        rng: extra named Generators to save (e.g. ``loader_generators(train=loader)``); the global generator and
            the model's own generators are always saved.
        config: a JSON-able description of the model and run (what ``nnblocks evaluate`` rebuilds the model from).
        extra: anything else made of arrays, numbers, strings, lists and dicts (e.g. a scaler's mean and std).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    state = model.state_dict()
    for key, value in state.items():
        arrays[f"model/{key}"] = np.asarray(value)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "model_class": type(model).__name__,
        "model_shapes": {k: list(np.shape(v)) for k, v in state.items()},
        "config": config,
        "history": history.to_dict() if history is not None else None,
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "optimizer": _flatten(optimizer.state_dict(), "optimizer", arrays) if optimizer is not None else None,
        "scheduler_class": type(scheduler).__name__ if scheduler is not None else None,
        "scheduler": _flatten(scheduler.state_dict(), "scheduler", arrays) if scheduler is not None else None,
        "extra": _flatten(extra, "extra", arrays) if extra is not None else None,
        "rng": {name: _json_state(g) for name, g in _all_generators(model, rng).items()},
    }
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's metadata (config/history/extra) is not JSON-able: {exc}") from exc
    arrays[META_KEY] = np.array(text)
    _atomic_savez(path, arrays)
    return path


def _json_state(g: np.random.Generator) -> dict[str, Any]:
    return json.loads(json.dumps(g.bit_generator.state))  # a deep copy made of JSON types (ints, strs, dicts)


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)  # what a writer killed mid-write left (up to a whole checkpoint each)
    fd, tmp = atomic_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp's 0o600 -> the mode the file had, or what open() gives the run's other files (0644 usually)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.is_file() else default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---- loading -----------------------------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: the epoch count, the history, the config and extra data, the raw states."""

    path: Path
    epoch: int
    history: Any
    config: dict[str, Any] | None
    extra: Any
    model_state: dict[str, np.ndarray]
    optimizer_state: Any = None
    scheduler_state: Any = None
    rng_states: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def nonfinite_weights(self) -> dict[str, tuple[int, int]]:
        """``{key: (NaN/inf count, size)}`` for each model entry holding NaN or inf (empty when all are finite):
        such a model predicts nothing meaningful, whatever its accuracy says."""
        found = {}
        for key, value in self.model_state.items():
            if value.dtype.kind in "fc":
                count = int(value.size - np.count_nonzero(np.isfinite(value)))
                if count:
                    found[key] = (count, int(value.size))
        return found


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint file without loading it into anything; ``CheckpointError`` names what is wrong."""
    path = Path(path)
    if path.is_dir():
        inside = path / "model.npz"
        hint = f"; did you mean {inside}?" if inside.is_file() else " (give the .npz file a run wrote)"
        raise CheckpointError(f"{path} is a folder, not a checkpoint file{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        problem = npz_problem(path)
        if problem is not None:  # checked first: NumPy's refusal of a non-zip file speaks of pickles
            raise CheckpointError(f"{path}: not an nnblocks checkpoint: {problem}")
        archive = np.load(path, allow_pickle=False)
        with archive:
            names = list(archive.files)
            if META_KEY not in names:
                raise CheckpointError(f"{path}: a .npz file but not an nnblocks checkpoint (no {META_KEY!r} entry; "
                                      f"it holds {names[:8]}{'...' if len(names) > 8 else ''})")
            arrays = {name: archive[name] for name in names}  # read everything now: errors surface here
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint: {load_error_text(exc)}") from exc
    try:
        meta = json.loads(str(arrays.pop(META_KEY)[()]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's metadata entry is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nnblocks checkpoint (metadata format {meta.get('format')!r})"
                              if isinstance(meta, dict) else f"{path}: malformed checkpoint metadata")
    if int(meta.get("version", 0)) > VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta['version']} is newer than this nnblocks "
                              f"reads ({VERSION}); upgrade nnblocks")
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    shapes = meta.get("model_shapes", {})
    if set(shapes) != set(model_state):
        raise CheckpointError(f"{path}: incomplete checkpoint: model entries {sorted(set(shapes) ^ set(model_state))} "
                              "are listed in the metadata but missing from the file (or the reverse)")
    from nnblocks.train.history import History

    try:
        return Checkpoint(
            path=path, epoch=int(meta["epoch"]),
            history=History.from_dict(meta["history"]) if meta.get("history") is not None else None,
            config=meta.get("config"), extra=_unflatten(meta.get("extra"), arrays), model_state=model_state,
            optimizer_state=_unflatten(meta.get("optimizer"), arrays),
            scheduler_state=_unflatten(meta.get("scheduler"), arrays), rng_states=meta.get("rng") or {}, meta=meta,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint metadata ({type(exc).__name__}: {exc})") from exc


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                    rng: dict[str, np.random.Generator] | None = None, restore_rng: bool = True) -> Checkpoint:
    """Load a checkpoint into ``model`` (and ``optimizer``, ``scheduler``) and restore the random generators.

    All or nothing: every part is checked first, by its own ``check_state_dict`` (the model's keys and shapes, the
    optimizer's groups and moment arrays, the scheduler's entries) or ``check_generator_state``, after the file's own
    checks (a state of another class, a state the file lacks); only when all pass is each part loaded. A refusal is
    a ``CheckpointError`` naming the file and what does not match, and leaves ``model``, ``optimizer``,
    ``scheduler`` and the generators as they were.

    With ``restore_rng`` the global generator, the model's generators and those named in ``rng`` (same names as
    when saving, e.g. ``loader_generators(train=loader)``) get their saved states back. Resume with
    ``fit(..., start_epoch=ckpt.epoch, history=ckpt.history)``.
    """
    ckpt = read_checkpoint(path)
    parts = _parts_to_load(ckpt, model, optimizer, scheduler, _all_generators(model, rng) if restore_rng else {})
    for what, check, _, state in parts:
        try:
            check(state)
        except (NNBlocksError, KeyError, TypeError, ValueError) as exc:  # also what a malformed file may provoke
            raise CheckpointError(f"{ckpt.path}: cannot load the {what} state, nothing was changed: {exc}") from exc
    for _, _, load, state in parts:
        load(state)
    return ckpt


Part = tuple[str, Callable[[Any], None], Callable[[Any], Any], Any]


def _parts_to_load(ckpt: Checkpoint, model: Any, optimizer: Any, scheduler: Any,
                   gens: dict[str, np.random.Generator]) -> list[Part]:
    """``(what, check, load, saved state)`` for each part to restore; refuses a part the file lacks or holds for
    another class."""
    parts: list[Part] = []
    if model is not None:
        parts.append(("model", model.check_state_dict, model.load_state_dict, ckpt.model_state))
    for what, target, state in (("optimizer", optimizer, ckpt.optimizer_state),
                                ("scheduler", scheduler, ckpt.scheduler_state)):
        if target is None:
            continue
        given, saved = type(target).__name__, ckpt.meta.get(f"{what}_class")
        if state is None:
            raise CheckpointError(f"{ckpt.path}: holds no {what} state to load into {given}")
        if saved not in (None, given):
            raise CheckpointError(f"{ckpt.path}: {what}: the checkpoint holds {saved} state, the {what} given is "
                                  f"{given}")
        parts.append((what, target.check_state_dict, target.load_state_dict, state))
    for name, g in gens.items():
        if name in ckpt.rng_states:
            parts.append((f"random generator {name!r}", partial(nb_random.check_generator_state, g),
                          partial(nb_random.set_generator_state, g), ckpt.rng_states[name]))
    return parts
