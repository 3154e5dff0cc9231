"""Toy sets: the chapter's exact examples, shapes and dtypes, seed determinism, and one geometric property each."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks.data import (
    TOY_SETS,
    blobs,
    chapter1_single,
    chapter1_times_three,
    chapter2_sum,
    circles,
    moons,
    regression_line,
    spirals,
    xor,
)

RANDOM_SETS = {"xor": lambda seed: xor(40, noise=0.1, seed=seed), "moons": moons, "circles": circles,
               "spirals": spirals, "blobs": blobs, "line": regression_line}


def test_chapter_examples_exact():
    x, y = chapter1_single()
    assert x.tolist() == [[1, 1]] and y.tolist() == [[0]]
    x, y = chapter1_times_three()
    assert x.tolist() == [[1], [2], [3], [4]] and y.tolist() == [[3], [6], [9], [12]]
    x, y = chapter2_sum()
    assert x.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]] and y.tolist() == [[3], [7], [11], [15]]
    for f in (chapter1_single, chapter1_times_three, chapter2_sum):
        assert f()[0].dtype == np.float32 and f()[1].dtype == np.float32


def test_xor_four_points():
    X, y = xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    assert X.dtype == np.float32 and y.dtype == np.int64


def test_registry_covers_every_set():
    assert set(TOY_SETS) >= {"xor", "moons", "circles", "spirals", "blobs", "line", "chapter1-single",
                             "chapter1-times-three", "chapter2-sum"}
    for f in TOY_SETS.values():
        assert f.__doc__


@pytest.mark.parametrize("name", sorted(RANDOM_SETS))
def test_shapes_dtypes_and_determinism(name):
    make = RANDOM_SETS[name]
    X1, y1 = make(seed=7)
    X2, y2 = make(seed=7)
    X3, _ = make(seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.dtype == np.float32 and X1.ndim == 2 and len(X1) == len(y1)
    if name == "line":
        assert y1.dtype == np.float32 and y1.shape == (len(X1), 1)
    else:
        assert y1.dtype == np.int64 and y1.shape == (len(X1),)
    # a Generator works as a seed too
    X4, _ = make(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X4)


def test_noisy_xor_labels_follow_nearest_corner():
    X, y = xor(200, noise=0.05, seed=0)
    assert X.shape == (200, 2)
    corner = np.round(X).astype(int)  # noise 0.05 never moves a point half-way to another corner
    np.testing.assert_array_equal(y, corner[:, 0] ^ corner[:, 1])
    assert 0 < y.mean() < 1


def test_moons_noise_free_on_half_circles():
    X, y = moons(101, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [51, 50]
    r0 = np.hypot(X[y == 0, 0], X[y == 0, 1])
    r1 = np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5)
    np.testing.assert_allclose(r0, 1, atol=1e-6)
    np.testing.assert_allclose(r1, 1, atol=1e-6)
    assert (X[y == 0, 1] >= -1e-6).all() and (X[y == 1, 1] <= 0.5 + 1e-6).all()


def test_circles_radii_separate_by_factor():
    X, y = circles(200, noise=0.0, factor=0.3, seed=0)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    Xn, yn = circles(400, noise=0.05, factor=0.5, seed=1)
    rn = np.linalg.norm(Xn, axis=1)
    assert abs(rn[yn == 0].mean() - 1.0) < 0.02 and abs(rn[yn == 1].mean() - 0.5) < 0.02
    with pytest.raises(ValueError, match="factor"):
        circles(factor=1.5)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_spirals_class_count_and_radius(k):
    X, y = spirals(10 * k + 1, classes=k, noise=0.0, seed=0)
    counts = np.bincount(y)
    assert len(counts) == k and counts.sum() == 10 * k + 1 and counts.max() - counts.min() <= 1
    r = np.linalg.norm(X, axis=1)
    assert r.min() < 1e-6 and abs(r.max() - 1) < 1e-6  # each arm runs from the centre to radius 1
    with pytest.raises(ValueError, match="classes"):
        spirals(10, classes=1)


def test_spirals_arms_are_rotations():
    # Noise-free arms of two classes are each other rotated by pi: x_1 = -x_0 at the same radius.
    X, y = spirals(40, classes=2, noise=0.0, seed=0)
    a0 = X[y == 0][np.argsort(np.linalg.norm(X[y == 0], axis=1))]
    a1 = X[y == 1][np.argsort(np.linalg.norm(X[y == 1], axis=1))]
    np.testing.assert_allclose(a1, -a0, atol=1e-6)


def test_blobs_centres_and_spread():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X, y = blobs(3000, centers=centers, std=0.5, seed=0)
    assert np.bincount(y).tolist() == [1000, 1000, 1000]
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(0), centers[k], atol=0.05)
        np.testing.assert_allclose(X[y == k].std(0), 0.5, atol=0.05)
    X5, y5 = blobs(50, centers=4, dim=5, seed=0)
    assert X5.shape == (50, 5) and set(y5.tolist()) == {0, 1, 2, 3}


def test_regression_line_fits_its_slope():
    X, y = regression_line(500, slope=-3.0, intercept=0.5, noise=0.01, seed=0)
    slope, intercept = np.polyfit(X[:, 0].astype(np.float64), y[:, 0].astype(np.float64), 1)
    assert abs(slope + 3.0) < 0.01 and abs(intercept - 0.5) < 0.01
    X0, y0 = regression_line(10, slope=2.0, intercept=1.0, noise=0.0, seed=0)
    np.testing.assert_allclose(y0, 2 * X0 + 1, atol=1e-6)


def test_argument_errors():
    with pytest.raises(ValueError, match="n must be"):
        moons(0)
    with pytest.raises(ValueError, match="noise"):
        moons(10, noise=-1)
    with pytest.raises(ValueError, match="std"):
        blobs(10, std=-1)
