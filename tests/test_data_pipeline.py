"""The data half of the recipe: reading files, labels -> task, named data sets, split plans, subsets, scaling."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnblocks import data
from nnblocks.errors import DataError, InvalidValueError


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- reading files ---------------------------------------------------------------------------------------------------
def test_read_csv_label_column_by_name_index_negative_index_and_default(tmp_path):
    path = write(tmp_path / "t.csv", ["a,b,kind", "1,2.5,x", "", "3,4,y"])  # the blank line is skipped
    for column in ("kind", "2", 2, "-1", None):
        X, labels, names = data.read_csv(path, column)
        np.testing.assert_array_equal(X, np.array([[1, 2.5], [3, 4]], np.float32))
        assert X.dtype == np.float32 and list(labels) == ["x", "y"] and names == ["a", "b"]
    X, labels, names = data.read_csv(write(tmp_path / "n.csv", ["a,b,y", "1,2.5,0", "3,4,1"]), "a")
    np.testing.assert_array_equal(X, np.array([[2.5, 0], [4, 1]], np.float32))
    assert list(labels) == ["1", "3"] and names == ["b", "y"]


@pytest.mark.parametrize("lines, column, message", [
    ([], None, "the CSV file is empty"),
    (["a,b,y"], None, "has a header row but no data"),
    (["1,2", "3"], None, r"different numbers of columns: \[1, 2\]"),
    (["1", "2"], None, "found 1 column"),
    (["a,y", "1,2"], "z", r"no column named 'z'; columns: \['a', 'y'\]"),
    (["1,2", "3,4"], "z", r"no column named 'z' \(the file has no header row\)"),
    (["1,2", "3,4"], "5", "label column 5 out of range for 2 columns"),
    (["1,x,0", "2,y,1"], None, r"feature columns must hold numbers, found 2 cell\(s\) that do not: 'x' at line 1 "
                               r"\(column 1\), 'y' at line 2 \(column 1\)"),
])
def test_read_csv_errors_name_the_file(tmp_path, lines, column, message):
    path = write(tmp_path / "bad.csv", lines)
    with pytest.raises(DataError, match=message) as info:
        data.read_csv(path, column)
    assert str(path) in str(info.value)


def test_read_npz_flattens_samples_and_checks_the_arrays(tmp_path):
    X = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0]))
    table = data.read_table(tmp_path / "d.npz")
    assert table.features.shape == (3, 8) and table.features.dtype == np.float32
    np.testing.assert_array_equal(table.features[1], np.arange(8, 16))
    np.testing.assert_array_equal(table.labels, [0, 1, 0])
    np.savez(tmp_path / "no_y.npz", X=X)
    with pytest.raises(DataError, match=r"needs arrays 'X' and 'y'; it holds \['X'\]"):
        data.read_npz(tmp_path / "no_y.npz")
    np.savez(tmp_path / "short.npz", X=X, y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"one entry per sample.*; got X \(3, 2, 4\), y \(2,\)"):
        data.read_npz(tmp_path / "short.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match=r"cannot read the data file: not an .npz \(zip\) archive"):
        data.read_npz(tmp_path / "junk.npz")
    assert data.is_data_file("A.CSV") and data.is_data_file("b.npz") and not data.is_data_file("moons")


# ---- labels -> task --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels, y, task, classes", [
    (np.array(["no", "yes", "no"]), [0, 1, 0], "classification", ["no", "yes"]),
    (np.array(["2", "0", "1"]), [2, 0, 1], "classification", ["0.0", "1.0", "2.0"]),  # numbers read as text
    (np.array([3, 7, 3]), [0, 1, 0], "classification", ["3", "7"]),
    (np.array([0, 2, 1], np.uint8), [0, 2, 1], "classification", None),
    (np.array([1.0, 0.0, 1.0]), [1, 0, 1], "classification", ["0.0", "1.0"]),
    (np.array([True, False]), [1, 0], "classification", ["False", "True"]),
])
def test_labels_that_are_classes(labels, y, task, classes):
    targets = data.labels_to_task(labels)
    assert targets.task == task and targets.classes == classes
    assert targets.y.dtype == np.int64 and targets.y.tolist() == y


def test_labels_that_are_regression_targets():
    targets = data.labels_to_task(np.array(["0.5", "1.25"]))
    assert targets.task == "regression" and targets.classes is None
    assert targets.y.dtype == np.float32 and targets.y.tolist() == [[0.5], [1.25]]
    # whole numbers, but more distinct values than any class set: a quantity
    many = data.labels_to_task(np.arange(data.tasks.MAX_CLASSES + 1, dtype=np.float64))
    assert many.task == "regression" and many.y.shape == (data.tasks.MAX_CLASSES + 1, 1)
    two_columns = data.labels_to_task(np.array([[1, 2], [3, 4]]))
    assert two_columns.task == "regression" and two_columns.y.shape == (2, 2)


# ---- named data sets -------------------------------------------------------------------------------------------------
def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n = len(images)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(
        np.array([2051, n, 28, 28], ">i4").tobytes() + images.astype(np.uint8).tobytes()))
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
        np.array([2049, n], ">i4").tobytes() + labels.astype(np.uint8).tobytes()))


@pytest.fixture
def idx_dir(tmp_path):
    """60 training images (class = index % 10, pixel value = index) and 12 test images (value 200 + index)."""
    train = np.repeat(np.arange(60), 784).reshape(60, 28, 28)
    test = np.repeat(200 + np.arange(12), 784).reshape(12, 28, 28)
    write_idx(tmp_path, "train", train, np.arange(60) % 10)
    write_idx(tmp_path, "t10k", test, np.arange(12) % 10)
    return tmp_path


def test_load_dataset_knows_every_source(tmp_path, idx_dir):
    digits = data.load_dataset("digits")
    assert digits.X.shape == (1797, 64) and digits.pixel_max == 16 and digits.X_test is None
    fashion = data.load_dataset("fashion-mnist", data_dir=str(idx_dir))
    assert fashion.X.shape == (60, 784) and fashion.X.dtype == np.uint8 and fashion.pixel_max == 255
    assert fashion.X_test[:, 0].tolist() == list(range(200, 212)) and fashion.classes[0] == "T-shirt/top"
    assert data.load_dataset("mnist", data_dir=str(idx_dir)).classes is None
    moons = data.load_dataset("moons", samples=50, seed=3)
    X, y = data.moons(50, seed=3)
    np.testing.assert_array_equal(moons.X, X)
    np.testing.assert_array_equal(moons.y, y)
    line = data.load_dataset("line", samples=7)
    assert line.task == "regression" and line.y.shape == (7, 1)
    assert data.load_dataset("chapter2-sum", samples=99).X.shape == (4, 2)  # a fixed example: samples is ignored
    csv = data.load_dataset(str(write(tmp_path / "c.csv", ["1,a", "2,b", "3,a"])))
    assert csv.y.tolist() == [0, 1, 0] and csv.classes == ["a", "b"]
    with pytest.raises(InvalidValueError, match="unknown data set 'nope'; choose from digits, mnist"):
        data.load_dataset("nope")
    assert data.short_name("some/where/mine.csv") == "mine" and data.short_name("moons") == "moons"


# ---- splits ----------------------------------------------------------------------------------------------------------
def two_classes(n_per_class: int) -> data.RawData:
    X = np.arange(2 * n_per_class, dtype=np.float32).reshape(-1, 1)
    return data.RawData("two", X, (np.arange(2 * n_per_class) % 2).astype(np.int64), "classification")


def test_evaluation_split_counts_per_class_and_matches_train_val_test_split():
    raw = two_classes(20)  # per class: round(0.1 * 20) = 2 validation, round(0.2 * 20) = 4 test, 14 train
    splits = data.split_dataset(raw, data.SplitPlan(0.1, 0.2), seed=4)
    assert [np.bincount(y).tolist() for _, y in splits.parts()] == [[14, 14], [2, 2], [4, 4]]
    rows = np.concatenate([X[:, 0] for X, _ in splits.parts()])
    assert sorted(rows.tolist()) == list(range(40))  # every sample in exactly one part
    expected = data.train_val_test_split(raw.X, raw.y, 0.1, 0.2, seed=4, stratify=True)
    for got, want in zip([a for part in splits.parts() for a in part], [expected[i] for i in (0, 3, 1, 4, 2, 5)]):
        np.testing.assert_array_equal(got, want)
    assert splits.num_classes == splits.out_features == 2 and splits.in_features == 1


def test_book_split_is_80_20_without_a_test_part():
    raw = two_classes(10)
    splits = data.split_dataset(raw, data.BOOK_SPLIT, seed=1)
    assert splits.test is None and [len(y) for _, y in splits.parts()] == [16, 4]
    X_train, X_val, y_train, y_val = data.train_val_split(raw.X, raw.y, 0.2, seed=1, stratify=True)
    np.testing.assert_array_equal(splits.train[0], X_train)
    np.testing.assert_array_equal(splits.val[1], y_val)


def test_an_official_test_set_is_the_test_part_or_the_validation_part(idx_dir):
    raw = data.load_dataset("mnist", data_dir=str(idx_dir))
    evaluation = data.split_dataset(raw, data.SplitPlan(val_fraction=0.1, test_fraction=0.2), seed=0)
    # 6 images per class; round(0.1 * 6) = 1 of each class is carved out for validation
    assert [len(y) for _, y in evaluation.parts()] == [50, 10, 12]
    assert sorted(evaluation.val[1].tolist()) == list(range(10))
    assert evaluation.test[0][:, 0].tolist() == list(range(200, 212))
    book = data.split_dataset(raw, data.BOOK_SPLIT, seed=0)
    assert book.test is None and book.val[0][:, 0].tolist() == list(range(200, 212))
    np.testing.assert_array_equal(book.train[0], raw.X)


def test_too_few_samples_to_split_use_the_whole_set_everywhere():
    raw = data.load_dataset("chapter2-sum")
    splits = data.split_dataset(raw, data.SplitPlan(), seed=0)
    for X, y in splits.parts():
        np.testing.assert_array_equal(X, raw.X)
    assert splits.task == "regression" and splits.num_classes == 0 and splits.out_features == 1
    assert data.split_dataset(raw, data.BOOK_SPLIT).test is None


def test_subsample_keeps_the_original_order():
    splits = data.split_dataset(two_classes(50), data.BOOK_SPLIT, seed=0)
    small = data.subsample(splits, 12, seed=3)
    assert len(small.train[1]) == 12 and len(small.val[1]) == 2  # 12 // 6
    position = {v: i for i, v in enumerate(splits.train[0][:, 0])}
    assert [position[v] for v in small.train[0][:, 0]] == sorted(position[v] for v in small.train[0][:, 0])
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(small.train[0], splits.train[0][np.sort(rng.permutation(80)[:12])])
    assert len(data.subsample(splits, 1).val[1]) == 1
    with pytest.raises(InvalidValueError, match="positive number"):
        data.subsample(splits, 0)


# ---- scaling ---------------------------------------------------------------------------------------------------------
def test_standard_scaling_is_fitted_on_the_training_part_only():
    splits = data.Splits(train=(np.array([[0.0, 10.0], [2.0, 10.0]], np.float32), np.array([0, 1])),
                         val=(np.array([[4.0, 13.0]], np.float32), np.array([1])), test=None, task="classification")
    scaled = data.scale_splits(splits, "standard")
    # mean (1, 10); std (1, 0 -> 1: a constant feature maps to 0 instead of dividing by zero)
    np.testing.assert_array_equal(scaled.train[0], [[-1, 0], [1, 0]])
    np.testing.assert_array_equal(scaled.val[0], [[3, 3]])
    assert scaled.scaling["kind"] == "standard" and scaled.scaling["mean"].tolist() == [1, 10]
    # a stored state is used as it is, not refitted to the new training data
    refit = data.scale_splits(data.Splits((np.zeros((2, 2), np.float32), np.array([0, 1])), splits.val, None,
                                          "classification"), "standard", state=scaled.scaling)
    np.testing.assert_array_equal(refit.val[0], [[3, 3]])


def test_255_none_and_auto():
    pixels = np.array([[255, 51]], np.uint8)
    assert data.Scaling("255")(pixels).tolist() == [[1.0, np.float32(0.2)]]
    assert data.Scaling("255").state_dict() == {"kind": "255"}
    raw = data.Scaling("none")(pixels)
    assert raw.dtype == np.float32 and raw.tolist() == [[255, 51]]
    assert data.resolve_scaling("auto", "fashion-mnist") == "255"
    assert data.resolve_scaling("auto", "digits") == data.resolve_scaling("auto", "x.csv") == "standard"
    with pytest.raises(InvalidValueError, match="unknown scaling 'minmax'"):
        data.resolve_scaling("minmax", "digits")


# ---- prepare: the two protocols --------------------------------------------------------------------------------------
def test_prepare_for_the_command_line_and_for_the_book():
    X, y = data.digits()
    cli = data.prepare("digits", split=data.SplitPlan(0.1, 0.2), scale="auto", seed=0)
    Xtr, Xva, Xte, ytr, yva, yte = data.train_val_test_split(X, y, 0.1, 0.2, seed=0, stratify=True)
    standardizer = data.Standardizer().fit(Xtr)
    np.testing.assert_array_equal(cli.test[0], standardizer.transform(Xte))
    np.testing.assert_array_equal(cli.train[1], ytr)
    book = data.prepare("digits", split=data.BOOK_SPLIT, scale="none", seed=5, subset=120)
    assert [len(y) for _, y in book.parts()] == [120, 20] and book.pixel_max == 16
    assert book.train[0].max() == 16 and book.train[0].dtype == np.float32  # raw pixels
