"""Your own data file: every value that cannot be trained on is refused when loading, naming the lines and columns."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import data
from nnblocks.errors import DataError, InvalidValueError


def write(path, lines, encoding="utf-8"):
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return str(path)


@pytest.mark.parametrize("cell", ["nan", "NaN", "", " "])
def test_a_missing_label_is_an_error_naming_its_line(tmp_path, cell):
    # Before: one NaN among 0/1 labels made the column real-valued: a 3-128-1 regression, "test mse loss nan", exit 0
    path = write(tmp_path / "d.csv", ["a,b,label", "1,2,0", "3,4,1", f"5,6,{cell}", "7,8,1"])
    with pytest.raises(DataError, match=r"d.csv: 1 of 4 samples have no label in the label column 'label' \(an empty "
                                        r"cell or NaN\): line 4; remove those rows or fill in their labels"):
        data.read_csv(path)


def test_text_among_numeric_labels_is_named_not_read_as_classes(tmp_path):
    # Before: "NA" made every label text, so 0.5 / 1.25 / NA became three classes of a classifier
    path = write(tmp_path / "d.csv", ["1,2,0.5", "3,4,1.25", "5,6,NA", "7,8,2.0", "9,9,n/a"])
    with pytest.raises(DataError, match=r"the labels in the label column 2 are numbers except for 2 text: 'NA' at "
                                        r"line 3, 'n/a' at line 5; a label column holds either numbers"):
        data.read_csv(path)
    path = write(tmp_path / "e.csv", ["1,2,cat", "3,4,dog", "5,6,7"])
    with pytest.raises(DataError, match=r"are class names except for 1 numbers: '7' at line 3"):
        data.read_csv(path)
    path = write(tmp_path / "f.csv", ["1,2,0.5", "3,4,inf"])
    with pytest.raises(DataError, match=r"1 of 2 labels in the label column 2 are NaN or infinite .*: line 2"):
        data.read_csv(path)


def test_nan_and_inf_features_are_named_by_line_and_column(tmp_path):
    lines = ["a,b,c,y"] + [f"{i},{i % 3},{i % 5},{i % 2}" for i in range(12)]
    lines[4], lines[8] = "3,nan,inf,1", "7,-inf,1e39,1"  # 1e39 does not fit in float32
    with pytest.raises(DataError) as info:
        data.read_csv(write(tmp_path / "d.csv", lines))
    message = str(info.value)
    assert "d.csv: features must be finite numbers (within float32's range, +-3.4e38), but 4 value(s) in 2 sample(s) " \
           "are NaN or infinite: 'nan' at line 5 (column 'b'), 'inf' at line 5 (column 'c'), '-inf' at line 9 " \
           "(column 'b'), '1e39' at line 9 (column 'c'); remove those rows or fill in the values" in message


def test_text_features_are_named_with_their_cells(tmp_path):
    lines = ["x1,x2,y"] + [f"{i},{i},0" for i in range(8)]
    lines[3] = "2,two,1"
    lines[6] = ",5,1"
    with pytest.raises(DataError, match=r"found 2 cell\(s\) that do not: 'two' at line 4 \(column 'x2'\), an empty cell "
                                        r"at line 7 \(column 'x1'\)"):
        data.read_csv(write(tmp_path / "d.csv", lines))


def test_file_level_problems_name_the_file_and_lines(tmp_path):
    with pytest.raises(DataError, match=r"rows have different numbers of columns: \[2, 3\] \(most rows have 3; line 3 "
                                        r"has 2\)"):
        data.read_csv(write(tmp_path / "ragged.csv", ["1,2,0", "3,4,1", "5,1", "6,7,0"]))
    with pytest.raises(DataError, match=r"found 1 column\(s\); its values look separated by ';', not commas"):
        data.read_csv(write(tmp_path / "semi.csv", ["a;b;y", "1;2;0", "3;4;1"]))
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match=r"bin.csv: not UTF-8 text, so not a CSV file nnblocks can read"):
        data.read_csv(tmp_path / "bin.csv")
    (tmp_path / "big.csv").write_text("a" * 200_000 + ",b\n1,2\n")
    with pytest.raises(DataError, match=r"big.csv: line 1: unreadable CSV \(field larger than field limit"):
        data.read_csv(tmp_path / "big.csv")


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    path = write(tmp_path / "excel.csv", ["label,a", "0,1.5", "1,2.5"], encoding="utf-8-sig")
    X, labels, names = data.read_csv(path, "label")
    assert list(labels) == ["0", "1"] and names == ["a"] and X[:, 0].tolist() == [1.5, 2.5]


def test_one_class_is_refused_when_loading(tmp_path):
    # Before: a 1-output "classifier" trained ("accuracy 12.86%"), then confusion_matrix raised a traceback
    path = write(tmp_path / "one.csv", [f"{i},{i * 2},yes" for i in range(30)])
    with pytest.raises(DataError, match=r"one.csv: the labels hold the one class 'yes' in all 30 samples; a classifier "
                                        r"needs at least two classes"):
        data.load_dataset(path)
    np.savez(tmp_path / "one.npz", X=np.ones((5, 2)), y=np.zeros(5, dtype=np.int64))
    with pytest.raises(DataError, match="one.npz: the labels hold the one class '0'"):
        data.load_dataset(str(tmp_path / "one.npz"))


@pytest.mark.parametrize("X, y, message", [
    (np.array([["1", "2"], ["3", "4"]]), np.array([0, 1]), r"X must hold numbers \(bool, int or float\), got dtype <U1"),
    (np.ones((2, 2), np.complex64), np.array([0, 1]), "X must hold numbers.*complex64"),
    (np.ones((2, 0)), np.array([0, 1]), r"at least one sample and one feature; got X \(2, 0\)"),
    (np.ones((0, 3)), np.zeros(0), r"at least one sample and one feature; got X \(0, 3\)"),
    (np.ones(4), np.ones(4), r"X must be \(samples, features...\)"),
    (np.array([[1.0, np.nan], [2.0, 3.0], [np.inf, 1.0]]), np.array([0, 1, 1]),
     r"2 value\(s\) in 2 sample\(s\) are NaN or infinite: nan at X\[0, 1\], inf at X\[2, 0\]"),
    (np.array([[[1.0, 2.0]], [[1e39, 0.0]]]), np.array([0, 1]), r"1e\+39 at X\[1, 0, 0\]"),
    (np.ones((3, 2)), np.array([0.0, np.nan, 1.0]), r"1 of 3 labels in y are NaN or infinite .*: y\[1\]"),
    (np.ones((3, 2)), np.array([0.5, 1e39, 1.0]), r"1 of 3 labels in y are .* beyond float32's range.*: y\[1\]"),
    (np.ones((3, 2)), np.array(["a", "", "b"]), r"1 of 3 samples have no label in y.*: y\[1\]"),
    (np.ones((2, 2)), np.array([[1, 2], [3, 4]], dtype="datetime64[s]"), "y must hold numbers or"),
])
def test_npz_contents_are_checked(tmp_path, X, y, message):
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises(DataError, match=message) as info:
        data.read_npz(tmp_path / "d.npz")
    assert str(tmp_path / "d.npz") in str(info.value)


def test_an_npz_holding_objects_is_refused_without_suggesting_pickle(tmp_path):
    np.savez(tmp_path / "o.npz", X=np.array([[1, None]], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="a Python object array") as info:
        data.read_npz(tmp_path / "o.npz")
    assert "allow_pickle" not in str(info.value)
    np.save(tmp_path / "single.npy", np.ones(3))
    (tmp_path / "single.npz").write_bytes((tmp_path / "single.npy").read_bytes())
    with pytest.raises(DataError, match=r"single.npz: cannot read the data file: a single .npy array"):
        data.read_npz(tmp_path / "single.npz")


def test_large_whole_numbers_all_different_are_a_quantity_not_a_class_per_sample():
    # Before: 100 targets of ~1e25 (whole numbers as floats) became 100 classes, and the split failed
    rng = np.random.default_rng(0)
    prices = np.round(rng.uniform(1, 3, 100) * 1e25)
    assert data.labels_to_task(prices).task == "regression"
    assert data.labels_to_task(np.round(rng.uniform(0, 20, 100))).task == "classification"  # 21 codes, ~5 each
    assert data.labels_to_task(np.array(["2", "0", "1"])).task == "classification"  # too few samples to tell


def test_labels_to_task_refuses_nan_instead_of_making_it_regression():
    with pytest.raises(InvalidValueError, match=r"labels must be finite: 1 of 3 are NaN or infinite \(at 1\)"):
        data.labels_to_task(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(InvalidValueError, match="labels must be numbers or class names, got dtype datetime64"):
        data.labels_to_task(np.array(["2020-01-01"], dtype="datetime64[D]"))
