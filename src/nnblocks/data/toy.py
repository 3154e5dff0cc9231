"""Small synthetic data sets for the chapter's examples and for seeing what a network learns in 2-D.

Each function returns ``(X, y)`` as NumPy arrays: ``X`` float32 of shape ``(n, features)``; ``y`` int64 class labels
of shape ``(n,)`` for classification sets, float32 targets of shape ``(n, 1)`` for regression sets. Every random set
takes ``seed`` (an int or a ``numpy.random.Generator``): the same seed gives the same points. Points are generated in
float64 and rounded once to float32; class sets come in a seeded random order (not sorted by class), so any prefix
is a fair sample.

``TOY_SETS`` maps a name (as the ``nnblocks`` command spells it) to its function.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.random import SeedLike, get_generator


def _check_n(n: int, name: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise InvalidValueError(f"{name}: n must be an int >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(noise: float, name: str) -> float:
    if not noise >= 0:
        raise InvalidValueError(f"{name}: noise must be >= 0, got {noise!r}")
    return float(noise)


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def _split_counts(n: int, k: int) -> np.ndarray:
    """n points over k classes as evenly as possible (the first n % k classes get one more)."""
    return np.full(k, n // k) + (np.arange(k) < n % k)


# ---- the chapter's worked examples ---------------------------------------------------------------------------------
def chapter1_single() -> tuple[np.ndarray, np.ndarray]:
    """Chapter 1's first example: one input ``x = [[1, 1]]`` with target ``y = [[0]]`` (both float32)."""
    return np.array([[1.0, 1.0]], dtype=np.float32), np.array([[0.0]], dtype=np.float32)


def chapter1_times_three() -> tuple[np.ndarray, np.ndarray]:
    """Chapter 1's regression example: ``x = [[1], [2], [3], [4]]``, ``y = 3x = [[3], [6], [9], [12]]`` (float32)."""
    x = np.array([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    return x, 3 * x


def chapter2_sum() -> tuple[np.ndarray, np.ndarray]:
    """Chapter 2's example: ``x = [[1, 2], [3, 4], [5, 6], [7, 8]]``, ``y = x1 + x2 = [[3], [7], [11], [15]]``."""
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], dtype=np.float32)
    return x, x.sum(axis=1, keepdims=True)


# ---- classification in 2-D -----------------------------------------------------------------------------------------
def xor(n: int | None = None, noise: float = 0.0, seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: label ``x1 XOR x2`` of the corners of the unit square; not linearly separable.

    ``n=None`` gives the four corners ``(0,0),(0,1),(1,0),(1,1)`` with labels ``0,1,1,0`` in that order (plus
    Gaussian noise of std ``noise`` if > 0). With ``n``, each of the n points picks a corner at random and is
    displaced by that noise; its label is its corner's.
    """
    noise = _check_noise(noise, "xor")
    rng = None  # the exact four corners draw no random numbers
    if n is None:
        corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    else:
        rng = get_generator(seed)
        corners = rng.integers(0, 2, size=(_check_n(n, "xor"), 2))
    X = corners.astype(np.float64)
    if noise > 0:
        rng = get_generator(seed) if rng is None else rng
        X = X + noise * rng.standard_normal(X.shape)
    y = corners[:, 0] ^ corners[:, 1]
    return X.astype(np.float32), y.astype(np.int64)


def moons(n: int = 200, noise: float = 0.1, seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: class 0 on ``(cos t, sin t)``, class 1 on ``(1 - cos t, 1/2 - sin t)``.

    ``t`` is evenly spaced on ``[0, pi]`` for each class (class 0 gets the extra point when n is odd); Gaussian noise
    of std ``noise`` is added to both coordinates.
    """
    n = _check_n(n, "moons", 2)
    noise = _check_noise(noise, "moons")
    rng = get_generator(seed)
    n0, n1 = _split_counts(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.repeat([0, 1], [n0, n1])
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5,
            seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` (0 < factor < 1).

    Angles are evenly spaced per class; Gaussian noise of std ``noise`` is added to both coordinates. Without noise,
    every class-0 point has norm 1 and every class-1 point has norm ``factor``.
    """
    n = _check_n(n, "circles", 2)
    noise = _check_noise(noise, "circles")
    if not 0 < factor < 1:
        raise InvalidValueError(f"circles: factor must lie in (0, 1), got {factor!r}")
    rng = get_generator(seed)
    n0, n1 = _split_counts(n, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), factor * np.stack([np.cos(t1), np.sin(t1)], 1)])
    y = np.repeat([0, 1], [n0, n1])
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def spirals(n: int = 300, classes: int = 2, noise: float = 0.2, turns: float = 1.0,
            seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms, one per class, around the origin.

    Arm ``k`` has points at radius ``r`` evenly spaced on ``[0, 1]`` and angle
    ``theta = 2 pi (turns * r + k / classes) + noise * N(0, 1)``; the point is ``r (cos theta, sin theta)``.
    The noise perturbs the angle, so arms blur into each other as it grows.
    """
    n = _check_n(n, "spirals", 2)
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or not 2 <= classes <= n:
        raise InvalidValueError(f"spirals: classes must be an int in [2, n={n}], got {classes!r}")
    noise = _check_noise(noise, "spirals")
    rng = get_generator(seed)
    counts = _split_counts(n, int(classes))
    y = np.repeat(np.arange(classes), counts)
    # Radius of each point along its own arm: 0..1 in equal steps, restarting for each class.
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    r = (np.arange(n) - starts) / np.maximum(np.repeat(counts, counts) - 1, 1)
    theta = 2 * np.pi * (turns * r + y / classes) + noise * rng.standard_normal(n)
    X = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
    return _shuffled(X, y, rng)


def blobs(n: int = 300, centers: int | np.ndarray = 3, std: float = 1.0, dim: int = 2,
          box: tuple[float, float] = (-10.0, 10.0), seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters: class ``k`` is ``N(center_k, std^2 I)``.

    ``centers`` is a count (centres drawn uniformly in ``box`` in each of ``dim`` coordinates) or an array of shape
    ``(k, dim)`` of given centres. Points are split evenly over the centres.
    """
    n = _check_n(n, "blobs")
    if not std >= 0:
        raise InvalidValueError(f"blobs: std must be >= 0, got {std!r}")
    rng = get_generator(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        if centers < 1:
            raise InvalidValueError(f"blobs: centers must be >= 1, got {centers}")
        mu = rng.uniform(box[0], box[1], size=(int(centers), int(dim)))
    else:
        mu = np.asarray(centers, dtype=np.float64)
        if mu.ndim != 2 or len(mu) < 1:
            raise InvalidValueError(f"blobs: centers must be a count or an array of shape (k, dim), got shape {mu.shape}")
    k = len(mu)
    y = np.repeat(np.arange(k), _split_counts(n, k))
    X = mu[y] + std * rng.standard_normal((n, mu.shape[1]))
    return _shuffled(X, y, rng)


# ---- regression ----------------------------------------------------------------------------------------------------
def regression_line(n: int = 100, slope: float = 2.0, intercept: float = 1.0, noise: float = 0.1,
                    x_range: tuple[float, float] = (-1.0, 1.0), seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Points near a line: ``x ~ U(x_range)``, ``y = slope * x + intercept + noise * N(0, 1)``; shapes (n, 1)."""
    n = _check_n(n, "regression_line")
    noise = _check_noise(noise, "regression_line")
    rng = get_generator(seed)
    x = rng.uniform(x_range[0], x_range[1], size=(n, 1))
    y = slope * x + intercept + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def regression_plane(n: int = 200, weights: tuple[float, float] = (1.0, -0.5), intercept: float = 0.0,
                     noise: float = 0.1, box: tuple[float, float] = (-1.0, 1.0),
                     seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Points near a plane over 2-D inputs: ``x ~ U(box)^2``, ``y = w1 x1 + w2 x2 + intercept + noise * N(0, 1)``.

    ``X`` has shape (n, 2), ``y`` (n, 1), both float32: the 2-D regression set of the playground, whose output
    heatmap shows the plane a network has fitted.
    """
    n = _check_n(n, "regression_plane")
    noise = _check_noise(noise, "regression_plane")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (2,):
        raise InvalidValueError(f"regression_plane: weights must be two numbers (w1, w2), got {weights!r}")
    rng = get_generator(seed)
    X = rng.uniform(box[0], box[1], size=(n, 2))
    y = X @ w + intercept + noise * rng.standard_normal(n)
    return X.astype(np.float32), y.reshape(-1, 1).astype(np.float32)


TOY_SETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "chapter1-single": chapter1_single,
    "chapter1-times-three": chapter1_times_three,
    "chapter2-sum": chapter2_sum,
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
    "line": regression_line,
    "plane": regression_plane,
}
