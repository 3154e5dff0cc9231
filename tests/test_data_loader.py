"""Dataset, TensorDataset, Subset and DataLoader: coverage, order, batching semantics, seeds, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks.data import DataLoader, Dataset, Subset, TensorDataset
from nnblocks.errors import ShapeError
from nnblocks.tensor import Tensor


def make(n: int = 10, d: int = 3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return X, y


def epoch_labels(loader) -> list[np.ndarray]:
    return [yb.data.copy() for _, yb in loader]


class ListDataset(Dataset):
    """A generic dataset (no get_batch): samples built one by one, as a user subclass would."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return np.full(2, i, dtype=np.float32), i


# ---- TensorDataset ---------------------------------------------------------------------------------------------------
def test_tensor_dataset_items_and_shape_error():
    X, y = make(4)
    ds = TensorDataset(X, Tensor(y))
    assert len(ds) == 4
    x2, y2 = ds[2]
    assert isinstance(x2, Tensor) and np.array_equal(x2.data, X[2]) and y2.item() == 2
    assert ds.arrays[0] is X and ds.arrays[1] is y  # no copies, Tensors unwrapped
    with pytest.raises(ShapeError) as err:
        TensorDataset(np.zeros((5, 3)), np.zeros(4))
    assert "(5, 3)" in str(err.value) and "(4,)" in str(err.value)
    with pytest.raises(ShapeError):
        TensorDataset()


# ---- order, coverage, batch sizes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n,bs", [(10, 3), (10, 5), (10, 1), (10, 10), (10, 32), (7, 2)])
def test_every_sample_once_per_epoch(shuffle, n, bs):
    X, y = make(n)
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=shuffle, seed=1)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-n // bs)
    sizes = [len(yb.data) for _, yb in batches]
    assert sizes == [bs] * (n // bs) + ([n % bs] if n % bs else [])  # only the last batch is partial
    seen = np.concatenate([yb.data for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in batches:  # rows stay paired with their labels
        np.testing.assert_array_equal(xb.data, X[yb.data])
    if not shuffle:
        assert seen.tolist() == list(range(n))


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last(shuffle):
    X, y = make(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=3, shuffle=shuffle, drop_last=True, seed=0)
    batches = epoch_labels(loader)
    assert len(loader) == len(batches) == 3
    assert all(len(b) == 3 for b in batches)
    seen = np.concatenate(batches)
    assert len(set(seen.tolist())) == 9  # 9 distinct samples, one left out
    if not shuffle:
        assert seen.tolist() == list(range(9))
    # batch larger than the dataset: nothing with drop_last, one partial batch without
    assert len(DataLoader(TensorDataset(X, y), batch_size=11, drop_last=True)) == 0
    assert list(DataLoader(TensorDataset(X, y), batch_size=11, drop_last=True)) == []
    assert [len(b) for b in epoch_labels(DataLoader(TensorDataset(X, y), batch_size=11))] == [10]


def test_no_shuffle_batches_are_views_and_keep_dtypes():
    X, y = make(8)
    xb, yb = next(iter(DataLoader(TensorDataset(X, y), batch_size=4)))
    assert np.shares_memory(xb.data, X) and np.shares_memory(yb.data, y)
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    assert not xb.requires_grad and not yb.requires_grad
    xs, ys = next(iter(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=0)))
    assert not np.shares_memory(xs.data, X)  # fancy indexing: a fresh array each batch
    assert xs.dtype == np.float32 and ys.dtype == np.int64
    x64 = X.astype(np.float64)
    assert next(iter(DataLoader(TensorDataset(x64), batch_size=2)))[0].dtype == np.float64


# ---- seeds -------------------------------------------------------------------------------------------------------------
def test_same_seed_same_order_and_epochs_differ():
    X, y = make(50)
    a = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=123)
    b = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=123)
    a1, a2, a3 = (np.concatenate(epoch_labels(a)) for _ in range(3))
    b1, b2, b3 = (np.concatenate(epoch_labels(b)) for _ in range(3))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    np.testing.assert_array_equal(a3, b3)
    assert not np.array_equal(a1, a2) and not np.array_equal(a2, a3)
    assert a1.tolist() != list(range(50))
    # The first epoch is the generator's first permutation (what a learner can reproduce by hand).
    np.testing.assert_array_equal(a1, np.random.default_rng(123).permutation(50))
    c = np.concatenate(epoch_labels(DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=124)))
    assert not np.array_equal(a1, c)


def test_generator_seed_is_used_as_given():
    X, y = make(20)
    rng = np.random.default_rng(5)
    loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True, seed=rng)
    first = epoch_labels(loader)[0]
    ref = np.random.default_rng(5)
    np.testing.assert_array_equal(first, ref.permutation(20))
    np.testing.assert_array_equal(epoch_labels(loader)[0], ref.permutation(20))


# ---- generic datasets and Subset -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_generic_dataset_is_stacked(shuffle):
    loader = DataLoader(ListDataset(7), batch_size=3, shuffle=shuffle, seed=2)
    batches = list(loader)
    assert [len(yb.data) for _, yb in batches] == [3, 3, 1]
    xb, yb = batches[0]
    assert xb.shape == (3, 2) and xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.data[:, 0], yb.data.astype(np.float32))
    seen = np.concatenate([yb.data for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(7))
    # the same seed gives the same order on the generic path as on the array path
    if shuffle:
        X, y = make(7)
        fast = np.concatenate(epoch_labels(DataLoader(TensorDataset(X, y), batch_size=3, shuffle=True, seed=2)))
        np.testing.assert_array_equal(seen, fast)


def test_subset_uses_fast_path_and_indices():
    X, y = make(10)
    sub = Subset(TensorDataset(X, y), [9, 2, 4])
    assert len(sub) == 3 and sub[0][1].item() == 9
    assert hasattr(sub, "get_batch")
    assert not hasattr(Subset(ListDataset(3), [0]), "get_batch")
    labels = np.concatenate(epoch_labels(DataLoader(sub, batch_size=2)))
    assert labels.tolist() == [9, 2, 4]
    with pytest.raises(IndexError):
        Subset(TensorDataset(X, y), [10])


def test_loader_argument_errors():
    X, y = make(4)
    for bad in (0, -1, 2.5, True):  # (None is PyTorch's "no batching": tests/test_data_collate.py)
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(TensorDataset(X, y), batch_size=bad)
    with pytest.raises(TypeError, match="seed"):
        DataLoader(TensorDataset(X, y), shuffle=True, seed="abc")


@pytest.mark.parametrize("drop_last", [False, True])
def test_matches_torch_dataloader_without_shuffle(drop_last):
    torch = pytest.importorskip("torch")
    X, y = make(10)
    ours = list(DataLoader(TensorDataset(X, y), batch_size=4, drop_last=drop_last))
    ref = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                                           batch_size=4, drop_last=drop_last))
    assert len(ours) == len(ref)
    for (xb, yb), (xt, yt) in zip(ours, ref):
        np.testing.assert_array_equal(xb.data, xt.numpy())
        np.testing.assert_array_equal(yb.data, yt.numpy())
        assert xb.dtype == xt.numpy().dtype and yb.dtype == yt.numpy().dtype
