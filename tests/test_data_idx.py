"""IDX readers for MNIST / Fashion-MNIST: exact round trips on small files built here, every corruption reported with
the file and the problem, default folders, and the checksummed download served from local bytes."""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest

import nnblocks.data.idx as idx
from nnblocks.data import data_root, fashion_mnist, mnist, read_idx, read_idx_images, read_idx_labels
from nnblocks.errors import DataError

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def images_bytes(images: np.ndarray, magic: int = 2051) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def labels_bytes(labels: np.ndarray, magic: int = 2049) -> bytes:
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def sample(n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n)


def write(folder: Path, name: str, data: bytes, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_split(folder: Path, train: bool = True, gz: bool = False, n: int = 5, seed: int = 0):
    images, labels = sample(n, seed)
    names = (TRAIN_IMAGES, TRAIN_LABELS) if train else (TEST_IMAGES, TEST_LABELS)
    write(folder, names[0], images_bytes(images), gz)
    write(folder, names[1], labels_bytes(labels), gz)
    return images, labels


# ---- round trips -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_reads_back_exactly(tmp_path, gz, train):
    images, labels = write_split(tmp_path, train, gz)
    X, y = mnist(root=tmp_path, train=train)
    assert X.dtype == np.uint8 and X.shape == (5, 28, 28) and X.flags.writeable
    assert y.dtype == np.int64 and y.shape == (5,)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)


def test_fashion_mnist_same_format(tmp_path):
    images, labels = write_split(tmp_path, True, gz=True, n=3, seed=1)
    X, y = fashion_mnist(root=tmp_path)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)


def test_read_idx_other_types(tmp_path):
    values = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
    path = write(tmp_path, "floats", struct.pack(">BBBBII", 0, 0, 0x0D, 2, 1, 3) + values.astype(">f4").tobytes())
    out = read_idx(path)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


# ---- corruption ----------------------------------------------------------------------------------------------------------
def test_truncated_images(tmp_path):
    images, _ = sample()
    path = write(tmp_path, TRAIN_IMAGES, images_bytes(images)[:-100])
    with pytest.raises(DataError) as err:
        read_idx_images(path)
    msg = str(err.value)
    assert str(path) in msg and "truncated" in msg and "3936" in msg  # 16 + 5*28*28 expected


def test_truncated_gzip(tmp_path):
    images, _ = sample()
    path = tmp_path / (TRAIN_IMAGES + ".gz")
    path.write_bytes(gzip.compress(images_bytes(images))[:-50])
    with pytest.raises(DataError) as err:
        read_idx_images(path)
    assert str(path) in str(err.value) and "truncated" in str(err.value)


def test_truncated_header(tmp_path):
    path = write(tmp_path, TRAIN_LABELS, b"\x00\x00")
    with pytest.raises(DataError, match="truncated") as err:
        read_idx_labels(path)
    assert str(path) in str(err.value)


def test_trailing_bytes(tmp_path):
    path = write(tmp_path, TRAIN_LABELS, labels_bytes(np.arange(5)) + b"\x00")
    with pytest.raises(DataError, match="1 unexpected trailing bytes") as err:
        read_idx_labels(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("which", ["images", "labels"])
def test_wrong_magic(tmp_path, which):
    images, labels = sample()
    if which == "images":  # a label file where the image file should be
        path = write(tmp_path, TRAIN_IMAGES, labels_bytes(labels))
        reader, expected, found = read_idx_images, "2051", "2049"
    else:
        path = write(tmp_path, TRAIN_LABELS, images_bytes(images))
        reader, expected, found = read_idx_labels, "2049", "2051"
    with pytest.raises(DataError) as err:
        reader(path)
    msg = str(err.value)
    assert str(path) in msg and "wrong magic number" in msg and expected in msg and found in msg


def test_gzip_content_without_suffix(tmp_path):
    images, _ = sample()
    path = write(tmp_path, TRAIN_IMAGES, gzip.compress(images_bytes(images)))
    with pytest.raises(DataError, match="wrong magic number") as err:
        read_idx_images(path)
    assert str(path) in str(err.value)


def test_count_mismatch(tmp_path):
    images, labels = sample(5)
    write(tmp_path, TRAIN_IMAGES, images_bytes(images))
    write(tmp_path, TRAIN_LABELS, labels_bytes(labels[:4]))
    with pytest.raises(DataError) as err:
        mnist(root=tmp_path)
    msg = str(err.value)
    assert "count mismatch" in msg and "5 images" in msg and "4 labels" in msg
    assert str(tmp_path / TRAIN_IMAGES) in msg and str(tmp_path / TRAIN_LABELS) in msg


def test_wrong_image_size_and_label_range(tmp_path):
    write(tmp_path, TRAIN_IMAGES, images_bytes(np.zeros((2, 8, 8), np.uint8)))
    write(tmp_path, TRAIN_LABELS, labels_bytes(np.array([0, 1])))
    with pytest.raises(DataError, match="28x28"):
        mnist(root=tmp_path)
    write(tmp_path, TRAIN_IMAGES, images_bytes(np.zeros((2, 28, 28), np.uint8)))
    write(tmp_path, TRAIN_LABELS, labels_bytes(np.array([0, 12])))
    with pytest.raises(DataError, match=r"0\.\.9") as err:
        mnist(root=tmp_path)
    assert str(tmp_path / TRAIN_LABELS) in str(err.value)


def test_missing_files_name_paths_and_download(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        mnist(root=folder, train=False)
    msg = str(err.value)
    assert str(folder / TEST_IMAGES) in msg and str(folder / TEST_LABELS) in msg
    assert "download=True" in msg and "--" not in msg  # the library names no flag: the command line says its own
    assert (err.value.name, err.value.folder, err.value.train) == ("mnist", folder, False)
    assert err.value.missing == [TEST_IMAGES, TEST_LABELS]
    # only the missing one is listed
    write(tmp_path / "half", TRAIN_IMAGES, images_bytes(sample()[0]), gz=True)
    with pytest.raises(DataError) as err:
        fashion_mnist(root=tmp_path / "half")
    msg = str(err.value)
    assert str(tmp_path / "half" / TRAIN_LABELS) in msg and TRAIN_IMAGES not in msg
    assert "fashion_mnist(download=True)" in msg


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NNBLOCKS_DATA", str(tmp_path / "data"))
    assert data_root("mnist") == tmp_path / "data" / "mnist"
    monkeypatch.delenv("NNBLOCKS_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root("fashion-mnist") == tmp_path / "cache" / "nnblocks" / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root("mnist") == tmp_path / "home" / ".cache" / "nnblocks" / "mnist"
    # the default root is used when root is None
    monkeypatch.setenv("NNBLOCKS_DATA", str(tmp_path / "data"))
    images, labels = write_split(tmp_path / "data" / "mnist", train=False)
    np.testing.assert_array_equal(mnist(train=False)[1], labels)


# ---- download (no network: urlopen serves local bytes) -------------------------------------------------------------------
def fake_server(monkeypatch, files: dict[str, bytes]) -> list[str]:
    requested: list[str] = []

    def urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise idx.urllib.error.URLError(f"404 {name}")
        return io.BytesIO(files[name])

    monkeypatch.setattr(idx.urllib.request, "urlopen", urlopen)
    return requested


def published(monkeypatch, name: str, files: dict[str, bytes]) -> None:
    """Pretend ``files`` are the published ones: their MD5s become the expected checksums."""
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    monkeypatch.setitem(idx.SOURCES, name, {**idx.SOURCES[name], "md5": {**idx.SOURCES[name]["md5"], **md5}})


def test_download_good_checksum(monkeypatch, tmp_path):
    images, labels = sample(4, seed=3)
    files = {TEST_IMAGES + ".gz": gzip.compress(images_bytes(images)),
             TEST_LABELS + ".gz": gzip.compress(labels_bytes(labels))}
    published(monkeypatch, "mnist", files)
    requested = fake_server(monkeypatch, files)
    X, y = mnist(root=tmp_path / "m", train=False, download=True)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    assert requested == ["https://ossci-datasets.s3.amazonaws.com/mnist/" + f for f in files]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(files)  # no temporary files left
    # present files are not fetched again
    requested.clear()
    mnist(root=tmp_path / "m", train=False, download=True)
    assert requested == []


def test_download_bad_checksum_leaves_nothing(monkeypatch, tmp_path):
    images, labels = sample(4)
    files = {TRAIN_IMAGES + ".gz": gzip.compress(images_bytes(images)),
             TRAIN_LABELS + ".gz": gzip.compress(labels_bytes(labels))}
    published(monkeypatch, "fashion-mnist", files)
    good = files[TRAIN_IMAGES + ".gz"]
    files[TRAIN_IMAGES + ".gz"] = good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]  # corrupted in transit
    fake_server(monkeypatch, files)
    with pytest.raises(DataError) as err:
        fashion_mnist(root=tmp_path / "f", download=True)
    msg = str(err.value)
    assert "checksum mismatch" in msg and TRAIN_IMAGES + ".gz" in msg
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com" in msg
    assert list((tmp_path / "f").iterdir()) == []


def test_download_failure_leaves_nothing(monkeypatch, tmp_path):
    fake_server(monkeypatch, {})
    with pytest.raises(DataError, match="download failed"):
        mnist(root=tmp_path / "m", download=True)
    assert list((tmp_path / "m").iterdir()) == []


def test_published_checksums_are_the_known_ones():
    assert idx.SOURCES["mnist"]["md5"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert idx.SOURCES["fashion-mnist"]["md5"]["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    assert all(len(v) == 4 for v in (s["md5"] for s in idx.SOURCES.values()))


# ---- other folder layouts of the same files ----------------------------------------------------------------------------
def test_torchvision_layout_and_dotted_names_are_found(tmp_path):
    # torchvision keeps <root>/MNIST/raw/...; Kaggle's copies spell the files train-images.idx3-ubyte
    images, labels = write_split(tmp_path / "MNIST" / "raw", train=True, gz=True)
    np.testing.assert_array_equal(mnist(root=tmp_path, train=True)[0], images)
    dotted = tmp_path / "kaggle"
    test_images, test_labels = sample(3, seed=1)
    write(dotted, TEST_IMAGES.replace("-idx", ".idx"), images_bytes(test_images))
    write(dotted, TEST_LABELS.replace("-idx", ".idx"), labels_bytes(test_labels))
    np.testing.assert_array_equal(fashion_mnist(root=dotted, train=False)[1], test_labels)


def test_files_straight_in_nnblocks_data(monkeypatch, tmp_path):
    # NNBLOCKS_DATA pointing at the folder that holds the files (no <name> sub-folder) also works
    monkeypatch.setenv("NNBLOCKS_DATA", str(tmp_path))
    images, labels = write_split(tmp_path, train=False)
    np.testing.assert_array_equal(mnist(train=False)[1], labels)
    with pytest.raises(DataError, match=str(tmp_path / "mnist")):  # the training files are missing: named in mnist/
        mnist(train=True)
