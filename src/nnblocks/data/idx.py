"""MNIST and Fashion-MNIST: reading the IDX files they are distributed in, and fetching them on request.

The IDX format (big-endian): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` 4-byte dimension
sizes, then the values in row-major order. MNIST's images are type 0x08 (unsigned byte) with 3 dimensions, magic
``0x00000803 = 2051``, header 16 bytes; labels are 1-D unsigned bytes, magic ``0x00000801 = 2049``, header 8 bytes.
Files may be raw or gzipped (``name`` or ``name.gz``); every check (magic, dimensions, exact length, image/label
counts) raises ``DataError`` naming the file and what is wrong.

``mnist()`` / ``fashion_mnist()`` return ``(images, labels)``: images **uint8** ``(N, 28, 28)`` with the raw 0..255
pixel values, labels **int64** ``(N,)``. Nothing is scaled or flattened for you: a network over pixels writes
``scale_255(images.reshape(len(images), -1))``, which is exactly what the chapter-3 network does.

Where the files live: ``root`` if given (or its ``<name>``, ``MNIST/raw``, ``FashionMNIST/raw`` or ``raw`` sub-folder), else
``$NNBLOCKS_DATA/<name>`` (or ``$NNBLOCKS_DATA`` itself) if that variable is set, else
``$XDG_CACHE_HOME/nnblocks/<name>`` (``~/.cache/nnblocks/<name>`` when XDG_CACHE_HOME is unset), with ``<name>``
``mnist`` or ``fashion-mnist``. ``download=True`` fetches the missing ``.gz`` files with ``urllib`` from the public
mirrors below, checks each against its published MD5, and only then renames it into place.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks.data.files import atomic_temp, remove_stale_temps
from nnblocks.errors import DataError, InvalidValueError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# IDX type byte -> big-endian dtype of the values.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# The four files of each set: split -> (images file, labels file).
FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Published MD5 checksums of the gzipped files (as listed by torchvision and the Fashion-MNIST README).
SOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# ---- reading ---------------------------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The file's (decompressed, for ``.gz``) contents, with read errors turned into DataError naming the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip stream (the download was probably cut short)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into an array of its shape, in native byte order.

    ``magic``, if given, is the magic number the file must have (``IMAGES_MAGIC`` or ``LABELS_MAGIC``). The file's
    length must be exactly header + product of dimensions * item size: a shorter file is reported as truncated, a
    longer one as having trailing bytes.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated: {len(raw)} bytes, too short for an IDX header (4-byte magic number)")
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        kind = {IMAGES_MAGIC: "an IDX image file", LABELS_MAGIC: "an IDX label file"}.get(magic, "this IDX file")
        raise DataError(f"{path}: wrong magic number {found} (0x{found:08x}); expected {magic} (0x{magic:08x}) for "
                        f"{kind}; is it the right file, or a gzip file without the .gz suffix?")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise DataError(f"{path}: wrong magic number {found} (0x{found:08x}): not an IDX file")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated: {len(raw)} bytes, but the header of a {ndim}-D IDX file needs {header}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected:
        raise DataError(f"{path}: truncated: dimensions {shape} need {expected} bytes, the file has {len(raw)}")
    if len(raw) > expected:
        raise DataError(f"{path}: {len(raw) - expected} unexpected trailing bytes after the data of dimensions "
                        f"{shape} ({expected} bytes expected, the file has {len(raw)})")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)  # native order, writable, owns its memory


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """An IDX image file (magic 2051) as uint8 ``(N, rows, cols)``."""
    images = read_idx(path, IMAGES_MAGIC)
    if images.ndim != 3:  # the magic fixes ndim = 3; kept for clarity
        raise DataError(f"{path}: expected 3 dimensions (count, rows, cols), got {images.shape}")
    return images


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """An IDX label file (magic 2049) as int64 ``(N,)``."""
    return read_idx(path, LABELS_MAGIC).astype(np.int64)


# ---- where the files are ---------------------------------------------------------------------------------------------
def data_root(name: str) -> Path:
    """The default folder of data set ``name``: ``$NNBLOCKS_DATA/<name>``, else the per-user cache folder."""
    env = os.environ.get("NNBLOCKS_DATA")
    if env:
        return Path(env).expanduser() / name
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "nnblocks" / name


def _find(folder: Path, filename: str) -> Path | None:
    """The raw file if present, else its ``.gz``, else None. Also accepts the dotted spelling some copies use
    (``train-images.idx3-ubyte`` for ``train-images-idx3-ubyte``)."""
    dotted = filename.replace("-idx", ".idx")
    for name in (filename, dotted):
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


# Sub-folders where other tools keep the same files (torchvision: <root>/MNIST/raw, <root>/FashionMNIST/raw).
_LAYOUTS = {"mnist": ("mnist", "MNIST/raw", "raw"), "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw", "raw")}


def _has_all(folder: Path, filenames: tuple[str, ...]) -> bool:
    return all(_find(folder, f) is not None for f in filenames)


def _locate(name: str, folder: Path, filenames: tuple[str, ...]) -> Path:
    """``folder`` itself if it holds the files, else the first known sub-folder that holds them all, else ``folder``
    (so the missing-files message and downloads use the folder that was asked for)."""
    for candidate in (folder, *(folder / sub for sub in _LAYOUTS.get(name, ()))):
        if _has_all(candidate, filenames):
            return candidate
    return folder


class DataFilesMissing(DataError):
    """The IDX files of ``name`` (``mnist``, ``fashion-mnist``) are not in ``folder``: ``missing`` lists their names.

    The message speaks of the Python API (``download=True``, ``root=``); a command line can phrase its own from the
    attributes (``train``: whether the training or the test files are missing)."""

    def __init__(self, name: str, folder: Path, missing: list[str], train: bool) -> None:
        self.name, self.folder, self.missing, self.train = name, folder, list(missing), train
        split = "training" if train else "test"
        function = name.replace("-", "_")
        super().__init__(f"{name} {split} files not found. Put these files in {folder}:\n{self.listing()}\n"
                         f"or let nnblocks fetch them: {function}(download=True). (Set NNBLOCKS_DATA or pass root= "
                         "to use another folder.)")

    def listing(self) -> str:
        return "\n".join(f"  {self.folder / f}  (or {self.folder / f}.gz)" for f in self.missing)


# ---- downloading -----------------------------------------------------------------------------------------------------
def _download(url: str, target: Path, md5: str) -> None:
    """Fetch ``url`` into ``target`` via a temporary file in the same folder, renamed into place only when complete
    and matching ``md5``; on any failure nothing is left behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)  # what an interrupted download killed outright left
    fd, tmp = atomic_temp(target)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(f"{url}: checksum mismatch: MD5 {digest.hexdigest()}, expected {md5}; "
                            f"the download is corrupt or the mirror changed, nothing was written to {target}")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: download failed ({exc}); nothing was written to {target}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fetch(name: str, folder: Path, missing: list[str]) -> None:
    source = SOURCES[name]
    for filename in missing:
        gz = filename + ".gz"
        errors = []
        for mirror in source["mirrors"]:
            try:
                _download(mirror + gz, folder / gz, source["md5"][gz])
                break
            except DataError as exc:
                errors.append(str(exc))
        else:
            raise DataError(f"{name}: could not download {gz}:\n" + "\n".join(errors))


def load_idx_pair(name: str, root: str | os.PathLike | None = None, train: bool = True,
                  download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of an MNIST-format set: ``(images uint8 (N, 28, 28), labels int64 (N,))``."""
    if name not in SOURCES:
        raise InvalidValueError(f"unknown IDX data set {name!r}; known: {sorted(SOURCES)}")
    filenames = FILES[bool(train)]
    if root is not None:
        folder = _locate(name, Path(root).expanduser(), filenames)
    else:
        folder = data_root(name)
        env = os.environ.get("NNBLOCKS_DATA")
        if env and not _has_all(folder, filenames):  # the files may also sit straight in $NNBLOCKS_DATA
            found = _locate(name, Path(env).expanduser(), filenames)
            folder = found if _has_all(found, filenames) else folder
    missing = [f for f in filenames if _find(folder, f) is None]
    if missing and not download:
        raise DataFilesMissing(name, folder, missing, bool(train))
    if missing:
        _fetch(name, folder, missing)
    image_path, label_path = (_find(folder, f) for f in filenames)
    images = read_idx_images(image_path)  # type: ignore[arg-type]
    labels = read_idx_labels(label_path)  # type: ignore[arg-type]
    if images.shape[1:] != (28, 28):
        raise DataError(f"{image_path}: {name} images must be 28x28, this file holds {images.shape[1:]} images")
    if len(images) != len(labels):
        raise DataError(f"{name}: image/label count mismatch: {image_path} holds {len(images)} images but "
                        f"{label_path} holds {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{label_path}: labels must be digits 0..9, found values {labels.min()}..{labels.max()}")
    return images, labels


def mnist(root: str | os.PathLike | None = None, train: bool = True,
          download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits: ``(images uint8 (N, 28, 28), labels int64 (N,))``, N = 60,000 (train) or 10,000.

    Pixels are raw 0..255 (flatten and ``scale_255`` them yourself). ``root`` is the folder holding the four IDX
    files (raw or ``.gz``), by default ``data_root("mnist")``; ``download=True`` fetches missing files from
    https://ossci-datasets.s3.amazonaws.com/mnist/ (the mirror torchvision uses) and verifies their MD5.
    """
    return load_idx_pair("mnist", root, train, download)


def fashion_mnist(root: str | os.PathLike | None = None, train: bool = True,
                  download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Zalando's article images, 10 classes named in ``FASHION_CLASSES``), MNIST's format and sizes.

    Same contract as ``mnist()``; default folder ``data_root("fashion-mnist")``; downloads come from
    http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ with the MD5s published in the Fashion-MNIST README.
    """
    return load_idx_pair("fashion-mnist", root, train, download)
