"""The benchmark's data: made once by the parent and saved as ``.npy``, so that every worker loads the same files.

Real MNIST from ``--data-dir``, or else seeded synthetic MNIST-shaped images with a learnable class structure.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks.bench.workload import CLASSES, IN_FEATURES


def synthetic_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-shaped samples: uint8 images (n, 784) and int64 labels (n,), with learnable class structure.

    Each class has a template of three Gaussian blobs on a 28x28 grid; a sample is its class's template, shifted by
    up to one pixel, scaled by a random contrast, blended with a random other class's template (so classes overlap
    and accuracy stays below 100%), plus pixel noise, clipped to 0..255. Vectorised: no loop over samples.
    """
    rng = np.random.default_rng(seed)
    templates_rng = np.random.default_rng(12345)  # the classes are the same whatever the seed: train and test agree
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    templates = np.zeros((CLASSES, 28, 28), np.float32)
    for c in range(CLASSES):
        for _ in range(3):
            cy, cx = templates_rng.uniform(6, 22, size=2)
            sigma = templates_rng.uniform(2.0, 4.5)
            templates[c] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    templates /= templates.max(axis=(1, 2), keepdims=True)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    shifted = np.stack([np.roll(templates, s, axis=(1, 2)) for s in shifts], axis=1).reshape(CLASSES, len(shifts), -1)

    labels = rng.integers(0, CLASSES, size=n).astype(np.int64)
    images = np.empty((n, IN_FEATURES), np.uint8)
    for start in range(0, n, 10000):  # in chunks, to keep the float temporaries small
        y = labels[start:start + 10000]
        m = len(y)
        own = shifted[y, rng.integers(0, len(shifts), size=m)]
        other = shifted[rng.integers(0, CLASSES, size=m), rng.integers(0, len(shifts), size=m)]
        contrast = rng.uniform(0.5, 1.0, size=(m, 1)).astype(np.float32)
        blend = rng.uniform(0.0, 0.6, size=(m, 1)).astype(np.float32)
        pixels = contrast * own + blend * other + rng.normal(0, 0.3, size=(m, IN_FEATURES)).astype(np.float32)
        images[start:start + m] = np.clip(pixels * 255, 0, 255).astype(np.uint8)
    return images, labels


def prepare_data(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Write train/test images (uint8, (N, 784)) and labels (int64) as .npy into ``folder``; describe the source."""
    if args.data_dir is not None:
        from nnblocks.data import mnist  # the parent alone reads IDX files: workers stay free of the data package

        train_x, train_y = mnist(args.data_dir, train=True, download=False)
        test_x, test_y = mnist(args.data_dir, train=False, download=False)
        train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
        source = f"MNIST from {args.data_dir}"
        if args.samples > len(train_x):
            raise SystemExit(f"nnblocks bench: --samples {args.samples} but {args.data_dir} holds only "
                             f"{len(train_x)} training images")
    else:
        train_x, train_y = synthetic_mnist(args.samples, seed=args.seed)
        test_x, test_y = synthetic_mnist(args.test_samples, seed=args.seed + 1_000_003)
        source = "synthetic MNIST-shaped data (seeded class templates + noise)"
    arrays = {"train_x": train_x[:args.samples], "train_y": train_y[:args.samples],
              "test_x": test_x[:args.test_samples], "test_y": test_y[:args.test_samples]}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    return {"source": source, "train": int(len(arrays["train_x"])), "test": int(len(arrays["test_x"]))}


def load_data(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The worker's view of the data: float32 inputs scaled to [0, 1] (as a user writes it), int64 labels."""

    def load(name: str) -> np.ndarray:
        return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    train_x = load("train_x").astype(np.float32) / np.float32(255)
    test_x = load("test_x").astype(np.float32) / np.float32(255)
    return train_x, np.array(load("train_y"), np.int64), test_x, np.array(load("test_y"), np.int64)


def train_size(folder: Path) -> int:
    """How many training samples ``folder`` holds, read from the labels' header alone."""
    return int(np.load(folder / "train_y.npy", mmap_mode="r", allow_pickle=False).shape[0])
