"""The embedded digits set, seeded splits, and scaling (scale_255, Standardizer)."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks.data import Standardizer, digits, scale_255, split_indices, train_val_split, train_val_test_split
from nnblocks.errors import ShapeError


# ---- digits ------------------------------------------------------------------------------------------------------------
def test_digits_shape_counts_range():
    X, y = digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    Xs, ys = digits(scale=16)
    np.testing.assert_array_equal(Xs, X / np.float32(16))
    assert Xs.dtype == np.float32 and Xs.max() == 1.0
    with pytest.raises(ValueError, match="scale"):
        digits(scale=0)


def test_digits_match_sklearn():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    X, y = digits()
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)


def test_digits_file_has_no_pickles():
    from nnblocks.data.digits import DIGITS_PATH

    with np.load(DIGITS_PATH, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["images", "labels"]
        assert archive["images"].dtype == np.uint8 and archive["labels"].dtype == np.uint8


# ---- splits ------------------------------------------------------------------------------------------------------------
def test_train_val_split_partitions_and_is_seeded():
    X = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50)
    Xt, Xv, yt, yv = train_val_split(X, y, 0.2, seed=3)
    assert len(yv) == 10 and len(yt) == 40
    assert sorted(np.concatenate([yt, yv]).tolist()) == list(range(50))
    np.testing.assert_array_equal(Xt[:, 0], 2 * yt)  # rows stay with their labels
    assert Xt.dtype == np.float32
    again = train_val_split(X, y, 0.2, seed=3)
    np.testing.assert_array_equal(again[3], yv)
    assert not np.array_equal(train_val_split(X, y, 0.2, seed=4)[3], yv)


def test_stratified_split_keeps_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)[:, None]
    _, _, yt, yv = train_val_split(X, y, 0.2, seed=0, stratify=True)
    assert np.bincount(yv).tolist() == [12, 6, 2]
    assert np.bincount(yt).tolist() == [48, 24, 8]
    Xt, Xv, Xs, yt, yv, ys = train_val_test_split(X, y, 0.1, 0.2, seed=0, stratify=True)
    assert np.bincount(yv).tolist() == [6, 3, 1] and np.bincount(ys).tolist() == [12, 6, 2]
    assert sorted(np.concatenate([Xt, Xv, Xs])[:, 0].tolist()) == list(range(100))


def test_split_errors():
    with pytest.raises(ShapeError, match=r"\(5, 2\).*\(4,\)"):
        train_val_split(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="fractions"):
        train_val_split(np.zeros((5, 2)), np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="empty"):
        split_indices(3, (0.1,), seed=0)  # round(0.3) = 0 validation samples


# ---- scaling -----------------------------------------------------------------------------------------------------------
def test_scale_255():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    out = scale_255(pixels)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0, 51, 255]], dtype=np.float32) / np.float32(255))
    assert out.tolist() == [[0.0, np.float32(0.2), 1.0]]


def test_standardizer_fits_on_train_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, size=(1000, 3)).astype(np.float32)
    train[:, 2] = 7.0  # a constant feature: std guarded to 1
    test = rng.normal(5, 3, size=(10, 3)).astype(np.float32)
    s = Standardizer().fit(train)
    z = s.transform(train)
    assert z.dtype == np.float32 and s.mean.dtype == np.float32
    np.testing.assert_allclose(z[:, :2].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(0), 1, atol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0)
    assert s.std[2] == 1.0 and np.isfinite(z).all()
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) / np.where(train.std(0) > 0, train.std(0), 1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(s.transform(test)), test, rtol=1e-5, atol=1e-4)
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        s.transform(np.zeros((2, 4), np.float32))
    with pytest.raises(RuntimeError, match="before fit"):
        Standardizer().transform(test)
    assert Standardizer().fit_transform(np.arange(6, dtype=np.uint8).reshape(3, 2)).dtype == np.float32
