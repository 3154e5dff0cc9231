"""default_collate and the DataLoader's PyTorch arguments (collate_fn, num_workers, sampler, batch_size=None...),
nnblocks.utils.data, per-item datasets written as the book writes them, random_split and ConcatDataset."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import nnblocks as nb
from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError
from nnblocks.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)

Point = collections.namedtuple("Point", "x y")


class RowsDataset(Dataset):
    """The book's pattern: no super().__init__(), tensors kept whole, each item a fresh (row, label) pair."""

    def __init__(self, x, y):
        x = x.float() / 255
        self.x, self.y = x.view(-1, 4), y

    def __getitem__(self, ix):
        return self.x[ix], self.y[ix]

    def __len__(self):
        return len(self.x)


def rows(n=10):
    return nb.tensor(np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)), nb.tensor(np.arange(n) % 3)


# ---- default_collate: PyTorch's rules --------------------------------------------------------------------------------
CASES = {
    "python ints -> int64": [1, 2, 3],
    "python floats -> float64": [1.0, 2.5],
    "bools -> bool": [True, False],
    "ints and a float -> default float": [1, 2.5],
    "numpy float32 scalars": [np.float32(1), np.float32(2)],
    "numpy int32 scalars": [np.int32(3), np.int32(4)],
    "float64 arrays stay float64": [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    "uint8 arrays": [np.ones((2, 2), np.uint8), np.zeros((2, 2), np.uint8)],
    "0-d arrays": [np.array(5), np.array(6)],
    "tuples -> list": [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)],
    "lists -> list": [[1, 2], [3, 4]],
    "dicts": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
    "named tuples": [Point(1, 2.0), Point(3, 4.0)],
    "strings": ["a", "b"],
    "nested": [({"img": np.ones(3, np.float32)}, [1.5, 2]), ({"img": np.zeros(3, np.float32)}, [0.5, 3])],
}


def _to_numpy(value):
    """Collated output with Tensors turned to arrays, to compare nnblocks' and PyTorch's structures."""
    if hasattr(value, "detach"):
        return value.detach().numpy()
    if isinstance(value, nb.Tensor):
        return value.data
    if isinstance(value, dict):
        return type(value).__name__, {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_to_numpy(v) for v in value]
    return value


def _assert_same(ours, theirs):
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    elif isinstance(theirs, tuple):
        assert ours[0] == theirs[0]  # the container type's name
        items = theirs[1].items() if isinstance(theirs[1], dict) else enumerate(theirs[1])
        for k, v in items:
            _assert_same(ours[1][k], v)
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", list(CASES))
def test_default_collate_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    batch = CASES[name]
    _assert_same(_to_numpy(default_collate(batch)), _to_numpy(torch.utils.data.default_collate(batch)))


def test_default_collate_by_hand_and_errors():
    x, y = default_collate([(nb.tensor([1.0, 2.0]), 0), (nb.tensor([3.0, 4.0]), 1)])
    assert isinstance(x, nb.Tensor) and x.dtype == np.float32 and x.shape == (2, 2) and y.dtype == np.int64
    assert default_collate([1.0, 2.0]).dtype == np.float64  # PyTorch's rule, not the default float32
    assert isinstance(default_collate([Point(1, 2), Point(3, 4)]), Point)
    with pytest.raises(InvalidArgumentError, match=r"sample\[1\] is a NoneType.*collate_fn"):
        default_collate([(1, None), (2, None)])
    with pytest.raises(InvalidArgumentError, match=r"a NumPy array of dtype <U3"):
        default_collate([np.array("abc"), np.array("d")])
    with pytest.raises(ShapeError, match=r"sample 0 has \(2,\), sample 1 has \(3,\)"):
        default_collate([np.ones(2), np.ones(3)])
    with pytest.raises(ShapeError, match="same number of fields"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(InvalidArgumentError, match="empty"):
        default_collate([])
    converted = default_convert((np.ones(2), 3, [np.float64(2.0)]))
    assert isinstance(converted, list) and isinstance(converted[0], nb.Tensor) and converted[1] == 3
    assert converted[2][0].dtype == np.float64


# ---- the book's per-item datasets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_book_style_dataset_batches_equal_the_whole_array_path(shuffle):
    x, y = rows(10)
    per_item = list(DataLoader(RowsDataset(x, y), batch_size=4, shuffle=shuffle, seed=3))
    whole = list(DataLoader(TensorDataset(x.float().view(-1, 4) / 255, y), batch_size=4, shuffle=shuffle, seed=3))
    assert [len(b[0]) for b in per_item] == [4, 4, 2]
    for (xa, ya), (xb, yb) in zip(per_item, whole):
        assert isinstance(xa, nb.Tensor) and xa.dtype == np.float32 and ya.dtype == np.int64
        np.testing.assert_array_equal(xa.data, xb.data)
        np.testing.assert_array_equal(ya.data, yb.data)
    batch = per_item[0]
    assert isinstance(batch, list) and len(batch) == 2  # as PyTorch: a list [x, y]
    assert not batch[0].requires_grad


def test_loader_matches_pytorch_for_a_per_item_dataset():
    torch = pytest.importorskip("torch")
    x, y = rows(7)

    class TorchRows(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = (x.float() / 255).view(-1, 4), y

        def __getitem__(self, ix):
            return self.x[ix], self.y[ix]

        def __len__(self):
            return len(self.x)

    ours = list(DataLoader(RowsDataset(x, y), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(TorchRows(torch.from_numpy(x.data), torch.from_numpy(y.data)),
                                              batch_size=3))
    assert len(ours) == len(theirs) == 3 and type(ours[0]) is type(theirs[0])
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        np.testing.assert_allclose(xa.data, xb.numpy(), rtol=1e-7)
        np.testing.assert_array_equal(ya.data, yb.numpy())


# ---- DataLoader's PyTorch arguments ----------------------------------------------------------------------------------
def test_collate_fn_sees_the_samples_even_for_a_tensor_dataset():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return sum(s[0].data.sum() for s in samples)

    totals = list(DataLoader(TensorDataset(X), batch_size=4, collate_fn=collate))
    assert calls == [4, 2] and totals == [X[:4].sum(), X[4:].sum()]


def test_num_workers_and_pin_memory_run_in_process():
    X, y = np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5)
    started = []
    loader = DataLoader(TensorDataset(X, y), batch_size=2, num_workers=4, pin_memory=True, persistent_workers=True,
                        prefetch_factor=2, timeout=5, worker_init_fn=started.append)
    for epoch in range(2):
        labels = np.concatenate([yb.data for _, yb in loader])
        assert labels.tolist() == [0, 1, 2, 3, 4]
    assert started == [0, 0]  # the single in-process "worker", once per epoch
    with pytest.raises(InvalidValueError, match="num_workers must be an int >= 0"):
        DataLoader(TensorDataset(X), num_workers=-1)
    with pytest.raises(InvalidValueError, match="persistent_workers=True needs num_workers > 0"):
        DataLoader(TensorDataset(X), persistent_workers=True)


def test_samplers_batch_sampler_and_no_batching():
    X, y = np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6)
    ds = TensorDataset(X, y)
    by_sampler = [yb.data.tolist() for _, yb in DataLoader(ds, batch_size=2, sampler=[5, 0, 3])]
    assert by_sampler == [[5, 0], [3]]
    by_batches = [yb.data.tolist() for _, yb in DataLoader(ds, batch_sampler=[[1, 2, 3], [0]])]
    assert by_batches == [[1, 2, 3], [0]]
    assert list(BatchSampler(SequentialSampler(ds), 4, drop_last=False)) == [[0, 1, 2, 3], [4, 5]]
    assert len(BatchSampler(range(6), 4, drop_last=True)) == 1
    subset = [yb.data.tolist() for _, yb in DataLoader(ds, batch_size=6, sampler=SubsetRandomSampler([1, 4], 0))]
    assert sorted(subset[0]) == [1, 4]
    drawn = list(RandomSampler(ds, replacement=True, num_samples=20, generator=1))
    assert len(drawn) == 20 and set(drawn) <= set(range(6))
    assert sorted(RandomSampler(ds, generator=np.random.default_rng(0))) == list(range(6))
    singles = list(DataLoader(ds, batch_size=None))
    assert len(singles) == 6 and singles[2][0].shape == (2,) and singles[2][1].item() == 2
    with pytest.raises(InvalidValueError, match="cannot be combined"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(InvalidValueError, match="batch_sampler= decides"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(InvalidArgumentError, match="torch.Generator has no meaning"):
        DataLoader(ds, shuffle=True, generator=object())


def test_generator_argument_is_the_seed():
    X = np.arange(20, dtype=np.float32)
    a = [b[0].data.tolist() for b in DataLoader(TensorDataset(X), batch_size=20, shuffle=True, generator=7)]
    b = [b[0].data.tolist() for b in DataLoader(TensorDataset(X), batch_size=20, shuffle=True, seed=7)]
    assert a == b == [np.random.default_rng(7).permutation(20).astype(np.float32).tolist()]


def test_iterable_dataset_is_batched_in_its_order():
    class Count(IterableDataset):
        def __iter__(self):
            return iter(float(i) for i in range(5))

    batches = list(DataLoader(Count(), batch_size=2))
    assert [b.data.tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    assert batches[0].dtype == np.float64
    assert len(list(DataLoader(Count(), batch_size=2, drop_last=True))) == 2
    with pytest.raises(InvalidValueError, match="decides its own order"):
        DataLoader(Count(), shuffle=True)


# ---- random_split, ConcatDataset, Subset -----------------------------------------------------------------------------
def test_random_split_and_concat():
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, [0.7, 0.3], generator=0)
    assert [len(p) for p in parts] == [7, 3] and all(isinstance(p, Subset) for p in parts)
    seen = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33])] == [4, 3, 3]  # remainders go to the first
    a, b = random_split(ds, [6, 4], generator=np.random.default_rng(1))
    order = np.random.default_rng(1).permutation(10)
    assert a.indices.tolist() == order[:6].tolist()
    with pytest.raises(InvalidValueError, match="add up to the dataset's 10 samples"):
        random_split(ds, [3, 3])
    with pytest.raises(InvalidValueError, match="add up to 1"):
        random_split(ds, [0.5, 0.2])
    both = ds + TensorDataset(np.arange(100, 103))
    assert isinstance(both, ConcatDataset) and len(both) == 13
    assert both[10][0].item() == 100 and both[-1][0].item() == 102 and both[9][0].item() == 9
    with pytest.raises(IndexError, match="13 samples"):
        both[13]
    assert [b[0].data.tolist() for b in DataLoader(both, batch_size=13)] == [list(range(10)) + [100, 101, 102]]


def test_utils_data_is_nnblocks_data():
    import nnblocks.data as data
    import nnblocks.utils.data as utils_data

    for name in utils_data.__all__:
        assert getattr(utils_data, name) is getattr(data, name)
