"""nnblocks.vision: torchvision's FashionMNIST/MNIST constructor and attributes over local IDX files, download
through the checksummed fetcher (never the network here), items and transforms."""
from __future__ import annotations

import gzip
import hashlib
import io

import numpy as np
import pytest

import nnblocks as nb
from fmnist_files import NAMES, idx_bytes, write_fashion_mnist
from nnblocks.data import idx
from nnblocks.errors import DataError, InvalidArgumentError, ShapeError
from nnblocks.utils.data import DataLoader
from nnblocks.vision import datasets, transforms


def test_fashion_mnist_as_torchvision_reads_its_layout(tmp_path):
    splits = write_fashion_mnist(tmp_path, n_train=60, n_test=20, gz=True)
    train = datasets.FashionMNIST(str(tmp_path), download=True, train=True)  # present: nothing is fetched
    test = datasets.FashionMNIST(tmp_path, train=False)
    for ds, (images, labels) in ((train, splits[True]), (test, splits[False])):
        assert isinstance(ds.data, nb.Tensor) and ds.data.dtype == np.uint8 and ds.data.shape == (len(labels), 28, 28)
        assert isinstance(ds.targets, nb.Tensor) and ds.targets.dtype == np.int64
        np.testing.assert_array_equal(ds.data.data, images)
        np.testing.assert_array_equal(ds.targets.data, labels)
    assert len(train) == 60 and len(test) == 20
    assert train.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                             "Bag", "Ankle boot"]
    assert train.class_to_idx["Bag"] == 8
    assert repr(test).splitlines() == ["Dataset FashionMNIST", "    Number of datapoints: 20",
                                       f"    Root location: {tmp_path}", "    Split: Test"]
    image, label = train[3]
    assert image.mode == "L" and image.size == (28, 28) and isinstance(label, int)
    np.testing.assert_array_equal(np.asarray(image), splits[True][0][3])
    assert label == splits[True][1][3]


def test_other_layouts_home_folder_and_mnist(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "data" / "FMNIST", n_train=10, n_test=10, layout=".")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert len(datasets.FashionMNIST("~/data/FMNIST")) == 10  # '~' expanded, files straight in the root
    write_fashion_mnist(tmp_path / "m", n_train=10, n_test=10, layout="MNIST/raw")
    digits = datasets.MNIST(tmp_path / "m", train=False)
    assert len(digits) == 10 and digits.classes[3] == "3 - three" and isinstance(digits, datasets.MNIST)


def test_missing_files_and_offline_download_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"FashionMNIST\(root='.*empty', train=True\): fashion-mnist training files "
                                        r"not found"):
        datasets.FashionMNIST(str(tmp_path / "empty"))

    def offline(url, timeout=None):
        raise idx.urllib.error.URLError("no network")

    monkeypatch.setattr(idx.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"(?s)download=True\).*download failed.*no network.*copy the four IDX files "
                                        r"into .*FashionMNIST/raw"):
        datasets.FashionMNIST(str(tmp_path / "offline"), download=True)
    raw = tmp_path / "offline" / "FashionMNIST" / "raw"
    assert not raw.exists() or list(raw.iterdir()) == []


def test_download_goes_to_torchvisions_raw_folder(tmp_path, monkeypatch):
    images, labels = np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3])
    files = {NAMES[False][0] + ".gz": gzip.compress(idx_bytes(images)),
             NAMES[False][1] + ".gz": gzip.compress(idx_bytes(labels.astype(np.uint8)))}
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    source = idx.SOURCES["fashion-mnist"]
    monkeypatch.setitem(idx.SOURCES, "fashion-mnist", {**source, "md5": {**source["md5"], **md5}})
    fetched = []

    def serve(url, timeout=None):
        fetched.append(url.rsplit("/", 1)[1])
        return io.BytesIO(files[fetched[-1]])

    monkeypatch.setattr(idx.urllib.request, "urlopen", serve)
    ds = datasets.FashionMNIST(tmp_path, train=False, download=True)
    assert sorted(fetched) == sorted(files) and ds.targets.tolist() == [1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "FashionMNIST" / "raw").iterdir()) == sorted(files)


def test_transforms_and_loading_batches(tmp_path):
    splits = write_fashion_mnist(tmp_path, n_train=20, n_test=10)
    plain = datasets.FashionMNIST(tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"PIL.Image.Image.*transforms.ToTensor\(\)"):
        next(iter(DataLoader(plain, batch_size=4)))
    ds = datasets.FashionMNIST(tmp_path, transform=transforms.ToTensor(), target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert isinstance(x, nb.Tensor) and x.dtype == np.float32 and x.shape == (1, 28, 28)
    np.testing.assert_allclose(x.data[0], splits[True][0][0] / np.float32(255), rtol=1e-7)
    assert y == splits[True][1][0] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    assert xb.shape == (8, 1, 28, 28) and yb.dtype == np.int64 and yb.tolist() == (splits[True][1][:8] + 100).tolist()
    normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.25,))])
    out = normalize(np.array([[0, 255]], np.uint8))
    np.testing.assert_allclose(out.data, [[[-2.0, 2.0]]])
    assert transforms.Lambda(lambda v: v * 2)(3) == 6
    assert transforms.ToTensor()(np.ones((2, 2, 3), np.float64)).shape == (3, 2, 2)
    with pytest.raises(ShapeError, match=r"\(H, W\) or \(H, W, C\)"):
        transforms.ToTensor()(np.ones(3))
    with pytest.raises(InvalidArgumentError, match="ToTensor"):
        transforms.Normalize((0.5,), (0.5,))(np.ones((2, 2)))
    assert "ToTensor()" in repr(normalize) and "Transform: ToTensor()" in repr(datasets.FashionMNIST(
        tmp_path, transform=transforms.ToTensor()))
