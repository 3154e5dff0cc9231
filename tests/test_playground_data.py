"""The playground's data: the regression plane toy set, the toy calls, the pipeline steps, CSV uploads."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import data
from nnblocks.data.toy import TOY_SETS, regression_plane
from nnblocks.errors import DataError, InvalidValueError
from nnblocks.playground.dataset import load_points, read_upload, toy_call
from nnblocks.playground.settings import DATASETS, Limits, Settings, SettingsError


def test_regression_plane_without_noise_is_the_plane():
    X, y = regression_plane(50, weights=(2.0, -3.0), intercept=0.5, noise=0.0, seed=1)
    assert X.shape == (50, 2) and y.shape == (50, 1) and X.dtype == y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], 2 * X[:, 0] - 3 * X[:, 1] + 0.5, atol=1e-6)
    assert X.min() >= -1 and X.max() <= 1


def test_regression_plane_is_seeded_and_noisy():
    X1, y1 = regression_plane(seed=3)
    X2, y2 = regression_plane(seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    residual = y1[:, 0] - (X1[:, 0] - 0.5 * X1[:, 1])
    assert 0.07 < residual.std() < 0.13  # noise 0.1
    with pytest.raises(InvalidValueError, match="weights must be two numbers"):
        regression_plane(weights=(1.0, 2.0, 3.0))


def test_plane_is_a_named_toy_set_read_as_regression():
    assert TOY_SETS["plane"] is regression_plane
    raw = data.load_dataset("plane", samples=60, seed=2)
    assert raw.task == "regression" and raw.X.shape == (60, 2) and raw.y.shape == (60, 1)


@pytest.mark.parametrize("name", [d for d in DATASETS if d != "upload"])
def test_every_toy_set_of_the_page_builds_points(name):
    settings = Settings(dataset=name, classes=3, samples=120, noise=0.3, test_share=0.25)
    points = load_points(settings, None)
    n_train, n_test = len(points.raw_train), len(points.raw_test)
    assert n_train + n_test == 120 and n_test == 30
    # scaled with the training points' mean and std only
    np.testing.assert_allclose(points.splits.train[0].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(points.scaling(points.raw_train), points.splits.train[0], atol=1e-6)
    x0, x1, y0, y1 = points.domain
    everything = np.concatenate([points.raw_train, points.raw_test])
    assert x0 < everything[:, 0].min() and everything[:, 0].max() < x1
    assert y0 < everything[:, 1].min() and everything[:, 1].max() < y1
    assert points.task == ("regression" if name == "plane" else "classification")
    if name in ("spirals", "blobs"):
        assert points.num_classes == 3


def test_noise_slider_maps_onto_each_sets_own_parameter():
    s = Settings(noise=0.4, samples=100, data_seed=7, classes=4)
    assert toy_call(s.updated({"dataset": "circles"}, Limits())) == ("circles", {"n": 100, "noise": 0.1, "seed": 7})
    assert toy_call(s.updated({"dataset": "blobs"}, Limits())) == (
        "blobs", {"n": 100, "centers": 4, "std": 2.0, "seed": 7})
    assert toy_call(s.updated({"dataset": "spirals"}, Limits())) == (
        "spirals", {"n": 100, "classes": 4, "noise": 0.4, "seed": 7})


def test_upload_needs_a_file_first():
    with pytest.raises(SettingsError, match="upload a CSV file first"):
        load_points(Settings(dataset="upload"), None)


def _csv(rows, header="a,b,label"):
    return ("\n".join([header] + rows) + "\n").encode()


def test_a_good_upload_with_text_labels():
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{y:.3f},{'yes' if x > y else 'no'}" for x, y in rng.normal(size=(40, 2))]
    upload = read_upload(_csv(rows), "dir/mine.csv", Limits())
    assert upload.name == "mine.csv" and upload.features.shape == (40, 2) and upload.feature_names == ["a", "b"]
    points = load_points(Settings(dataset="upload", test_share=0.25), upload)
    assert points.splits.classes == ["no", "yes"] and len(points.raw_test) == 10


@pytest.mark.parametrize("body, name, message", [
    (b"a,b,c\n1,2,3\n", "notes.txt", "reads .csv files"),
    (_csv(["1,2,3,0"] * 30, "a,b,c,label"), "x.csv", "exactly two feature columns.*found 3"),
    (_csv(["1,2,0"] * 5), "x.csv", "between 20 and 5000 rows.*found 5"),
    (_csv(["1,two,0"] * 30), "x.csv", "x.csv: feature columns must be numbers"),
    (_csv(["1,2"] * 10 + ["1,2,0"] * 20), "x.csv", "x.csv: rows have different numbers of columns"),
    (b"", "x.csv", "x.csv: the CSV file is empty"),
    ("é,1,0\n".encode("latin-1") * 30, "x.csv", "not a UTF-8 text file"),
    (_csv(["nan,2,0"] * 30), "x.csv", "NaN or infinite"),
])
def test_bad_uploads_get_a_message_naming_the_file(body, name, message):
    with pytest.raises(DataError, match=message):
        read_upload(body, name, Limits())
