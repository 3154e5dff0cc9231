"""Files on disk, safely: what kind a file is by its first bytes, and temporary files a crash can leave behind.

Two things every reader and writer of nnblocks needs:

- ``npz_problem(path)``: why a file that should be an ``.npz`` archive is not one, in words (a ``.npy`` array, text,
  an empty file...), read from its first bytes - instead of NumPy's own refusal, which for any non-zip file talks
  about pickled data and ``allow_pickle``.
- ``atomic_temp(target)`` and ``remove_stale_temps(target)``: a file is written to a temporary file beside its
  target and renamed into place, so a reader never sees half a file. The temporary file is named
  ``.<target name>.<host>.<pid>.<random>.tmp``, so that a later run can tell the leftovers of a killed writer (same
  host, a process that no longer exists) from a file another process is still writing, and remove them.
  Files of the older naming ``.<target name>.<8 random characters>.tmp`` are removed once ``LEGACY_AGE`` old.
"""
from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from pathlib import Path

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first local header, or an empty archive
NPY_MAGIC = b"\x93NUMPY"
# A temporary file of the naming before host and pid were part of it is surely abandoned after an hour: writing one
# checkpoint takes seconds (a 10 MB MNIST checkpoint: ~0.1 s).
LEGACY_AGE = 3600.0


def npz_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` starts like a zip archive (an ``.npz``); else what it is instead, e.g. ``"a .npy array,
    not an .npz archive"``. Raises ``OSError`` when it cannot be read at all."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] in ZIP_MAGIC:
        return None
    if not head:
        return "an empty file, not an .npz archive"
    if head.startswith(NPY_MAGIC):
        return "a single .npy array, not an .npz archive (save with np.savez)"
    if head[:2] == b"\x1f\x8b":
        return "a gzip file, not an .npz archive"
    try:
        head.decode("ascii")
        kind = "text"
    except UnicodeDecodeError:
        kind = "binary data"
    return f"not an .npz (zip) archive: the file starts with {kind} {head!r}"


def _prefix(target: Path) -> str:
    return f".{target.name}."


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def atomic_temp(target: str | os.PathLike) -> tuple[int, Path]:
    """``(fd, path)`` of a new temporary file in ``target``'s folder, named so ``remove_stale_temps`` recognises
    it; the caller writes, then ``os.replace(path, target)`` (and unlinks ``path`` on failure)."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f"{_prefix(target)}{_host()}.{os.getpid()}.", suffix=".tmp", dir=folder)
    return fd, Path(name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user; anything else: assume alive
        return True
    return True


def remove_stale_temps(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``target`` that killed writers left; return what was removed.

    A file of ours is stale when it was made on this host by a process that no longer exists (a file from another
    host sharing the folder is left alone: its process cannot be checked from here), or when it has the older
    naming and is more than ``LEGACY_AGE`` seconds old. Nothing else is touched.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    host = _host()
    ours = re.compile(re.escape(_prefix(target)) + r"(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
    legacy = re.compile(re.escape(_prefix(target)) + r"[a-z0-9_]{8}\.tmp")
    removed = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(_prefix(target)) and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for path in candidates:
        match = ours.fullmatch(path.name)
        try:
            if match:
                stale = match["host"] == host and int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))
            else:
                stale = bool(legacy.fullmatch(path.name)) and time.time() - path.stat().st_mtime > LEGACY_AGE
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed


def default_file_mode() -> int:
    """The mode a new regular file gets from ``open()``: 0o666 less the process's umask (mkstemp gives 0o600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def load_error_text(exc: BaseException) -> str:
    """What NumPy's refusal to read an archive member means, in words that do not suggest ``allow_pickle=True``."""
    text = str(exc)
    if "allow_pickle" in text or "pickle" in text.lower():
        return ("it holds a Python object array (pickled), which could run code when loaded; nnblocks reads only "
                "plain numeric and text arrays")
    return f"truncated or corrupt .npz file ({type(exc).__name__}: {text})"
