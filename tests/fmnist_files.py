"""Small Fashion-MNIST-shaped IDX files for tests: uint8 (N, 28, 28) images, labels 0..9, written where
torchvision keeps them (``<root>/FashionMNIST/raw``). Each class is a fixed random pattern plus noise, so a network
can learn them (the book's scripts then show falling losses), and the same seed gives the same bytes."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

NAMES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic 0x0000 08 <ndim>, the big-endian dimensions, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    patterns = np.random.default_rng(1234).random((10, 28, 28)) * 200  # the same classes for every split
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = patterns[labels] + rng.random((n, 28, 28)) * 55
    return images.astype(np.uint8), labels.astype(np.int64)


def write_fashion_mnist(root: Path, n_train: int = 600, n_test: int = 100, gz: bool = False,
                        layout: str = "FashionMNIST/raw") -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """Write both splits under ``root/layout``; returns ``{train: (images, labels)}``."""
    folder = Path(root) / layout
    folder.mkdir(parents=True, exist_ok=True)
    splits = {True: make_split(n_train, seed=1), False: make_split(n_test, seed=2)}
    for train, (images, labels) in splits.items():
        for name, array in zip(NAMES[train], (images, labels.astype(np.uint8))):
            data = idx_bytes(array)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return splits
