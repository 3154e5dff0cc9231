"""nnblocks.save / nnblocks.load: round trips of every supported type, the book's state-dict idiom, training
checkpoints read as plain data, refusals with the way out, and foreign or corrupt files (never unpickled)."""
from __future__ import annotations

import io
import math
import pathlib
from collections import OrderedDict

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.errors import CheckpointError, InvalidArgumentError, InvalidValueError


def toy_model(seed=0):
    return nn.Sequential(nn.Linear(2, 8, seed=seed), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 1, seed=seed + 1))


# ---- round trips -----------------------------------------------------------------------------------------------------
def test_nested_structures_round_trip_with_their_types(tmp_path):
    t = nb.tensor([[1.5, -2.0]], requires_grad=True)
    obj = {
        "state": OrderedDict([("w", np.arange(6, dtype=np.float32).reshape(2, 3)), ("n", np.array(3, np.int64))]),
        "tensor": t, "labels": nb.tensor([1, 2, 3]), "u8": np.array([[0, 255]], np.uint8),
        "scalar": np.float64(0.25), "numbers": [1, -2**70, 2.5, math.inf, True, None], "name": "model",
        "raw": b"\x00\x01", "pair": (1, (2.0, "x")), 3: "an int key", "nested": [[{"deep": np.ones(2)}]],
    }
    path = tmp_path / "things.pth"
    assert nb.save(obj, path) is None
    back = nb.load(path)
    assert list(back) == list(obj)  # key order kept
    assert isinstance(back["state"], OrderedDict) and list(back["state"]) == ["w", "n"]
    np.testing.assert_array_equal(back["state"]["w"], obj["state"]["w"])
    assert back["state"]["w"].dtype == np.float32 and back["state"]["n"].dtype == np.int64
    assert isinstance(back["tensor"], nb.Tensor) and back["tensor"].requires_grad
    np.testing.assert_array_equal(back["tensor"].data, t.data)
    assert back["labels"].dtype == np.int64 and not back["labels"].requires_grad
    assert back["u8"].dtype == np.uint8 and back["u8"].tolist() == [[0, 255]]
    assert isinstance(back["scalar"], np.float64) and back["scalar"] == 0.25
    assert back["numbers"] == [1, -2**70, 2.5, math.inf, True, None] and back["numbers"][4] is True
    assert back["name"] == "model" and back["raw"] == b"\x00\x01" and back["pair"] == (1, (2.0, "x"))
    assert back[3] == "an int key" and isinstance(back, dict) and not isinstance(back, OrderedDict)
    np.testing.assert_array_equal(back["nested"][0][0]["deep"], np.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["things.pth"]  # the exact name, no temporary left behind
    for single in (nb.tensor(2.0), np.arange(3), 7, "text", None, [1, 2]):
        buffer = io.BytesIO()
        nb.save(single, buffer)
        buffer.seek(0)
        again = nb.load(buffer)
        if isinstance(single, nb.Tensor):
            assert again.item() == 2.0
        elif isinstance(single, np.ndarray):
            assert again.tolist() == [0, 1, 2]
        else:
            assert again == single


def test_the_books_state_dict_idiom(tmp_path, capsys):
    model = toy_model()
    model.train()
    model(nb.tensor(np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)))  # move running stats
    path = tmp_path / "mymodel.pth"
    nb.save(model.state_dict(), path)
    other = toy_model(seed=7)
    print(other.load_state_dict(nb.load(path)))
    assert capsys.readouterr().out == "<All keys matched successfully>\n"
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key], value)
    x = nb.tensor([[0.5, -1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(model.eval()(x).data, other.eval()(x).data)
    loaded = nb.load(path, map_location="cpu", weights_only=True)
    assert list(loaded) == list(model.state_dict()) and isinstance(loaded, OrderedDict)
    nb.load(path, map_location=lambda storage, loc: storage, weights_only=False)  # the old CPU idiom
    nb.load(path, map_location={"cuda:0": "cpu"})


def test_optimizer_state_round_trips(tmp_path):
    model = toy_model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(nb.ones(4, 2)).sum().backward()
        opt.step()
    nb.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}, tmp_path / "run.pt")
    saved = nb.load(tmp_path / "run.pt")
    fresh = toy_model(seed=3)
    fresh_opt = optim.Adam(fresh.parameters(), lr=1e-2)
    fresh.load_state_dict(saved["model"])
    fresh_opt.load_state_dict(saved["optimizer"])
    for opt_ in (opt, fresh_opt):
        opt_.zero_grad()
    model(nb.ones(4, 2)).sum().backward()
    fresh(nb.ones(4, 2)).sum().backward()
    opt.step()
    fresh_opt.step()
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.data, b.data)  # the third step continues the same moments
    assert saved["epoch"] == 2


def test_a_training_checkpoint_loads_as_plain_parts(tmp_path):
    from nnblocks.train import save_checkpoint

    model = toy_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = save_checkpoint(tmp_path / "model.npz", model, opt, epoch=4, config={"hidden": [8]},
                           extra={"scaler": {"kind": "standard", "mean": np.zeros(2, np.float32)}})
    parts = nb.load(path)
    assert parts["epoch"] == 4 and parts["config"] == {"hidden": [8]} and parts["model_class"] == "Sequential"
    assert list(parts["model"]) == list(model.state_dict())
    assert parts["optimizer_class"] == "SGD" and parts["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert parts["extra"]["scaler"]["mean"].dtype == np.float32
    assert repr(toy_model(seed=9).load_state_dict(parts["model"])) == "<All keys matched successfully>"


# ---- refusals --------------------------------------------------------------------------------------------------------
def test_objects_only_pickle_could_store_are_refused_with_the_way_out(tmp_path):
    model = toy_model()
    path = tmp_path / "keep.pth"
    nb.save({"kept": 1}, path)
    with pytest.raises(InvalidArgumentError, match=r"the object is a whole nn.Module \(Sequential\).*state_dict\(\)"):
        nb.save(model, path)
    with pytest.raises(InvalidArgumentError, match=r"a whole optimizer \(SGD\)"):
        nb.save({"opt": optim.SGD(model.parameters(), lr=0.1)}, path)
    with pytest.raises(InvalidArgumentError, match=r"the object\['f'\] is a function, which only pickle"):
        nb.save({"f": lambda: 0}, path)
    with pytest.raises(InvalidArgumentError, match="dtype object"):
        nb.save([np.array([None, 1])], path)
    with pytest.raises(InvalidArgumentError, match="never pickles"):
        nb.save({}, path, pickle_module=object())
    assert nb.load(path) == {"kept": 1}  # refused before anything was written
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pth"]


def test_map_location_on_a_gpu_is_a_clear_error(tmp_path):
    nb.save([1], tmp_path / "a.pth")
    with pytest.raises(InvalidValueError, match="map_location='cuda:0'.*CPU"):
        nb.load(tmp_path / "a.pth", map_location="cuda:0")


# ---- foreign and corrupt files ---------------------------------------------------------------------------------------
def test_foreign_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        nb.load(tmp_path / "missing.pth")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes.txt: not a file nnblocks.save wrote .* b'hello'"):
        nb.load(text)
    good = tmp_path / "good.pth"
    nb.save({"w": np.ones((50, 50))}, good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match="cut.pth: cannot read it: truncated or corrupt"):
        nb.load(cut)
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.eye(2))
    plain = nb.load(tmp_path / "plain.npz")
    assert sorted(plain) == ["a", "b"] and plain["a"].tolist() == [0, 1, 2]
    np.save(tmp_path / "one.npy", np.arange(4.0))
    assert nb.load(tmp_path / "one.npy").tolist() == [0.0, 1.0, 2.0, 3.0]


class _Trap:
    """Unpickling this would create the marker file: the proof that nothing is unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_inside_a_file_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        np.savez(f, __nnblocks__=np.array('{"format": "nnblocks-save", "version": 1, "object": {"__array__": "x"}}'),
                 x=np.array([_Trap(marker)], dtype=object))
    with pytest.raises(CheckpointError, match="evil.pth: cannot read it"):
        nb.load(evil, weights_only=False)
    import pickle

    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(CheckpointError, match=r"legacy.pt: this is a Python pickle.*nnblocks.save\(torch.load"):
        nb.load(legacy)
    assert not marker.exists()


def test_pytorch_files_are_refused_with_the_conversion_that_works(tmp_path):
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8),
                                 torch.nn.Linear(8, 1))
    pth = tmp_path / "torch_model.pth"
    torch.save(tmodel.state_dict(), pth)
    with pytest.raises(CheckpointError, match=r"torch_model.pth: this is a PyTorch file \(torch.save's zip"):
        nb.load(pth)
    nb.save(torch.load(pth), tmp_path / "weights.npz")  # the conversion the message gives
    ours = toy_model()
    print(ours.load_state_dict(nb.load(tmp_path / "weights.npz")))
    x = np.random.default_rng(1).standard_normal((3, 2)).astype(np.float32)
    expected = tmodel.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours.eval()(nb.tensor(x)).data, expected, rtol=1e-6, atol=1e-6)
    nb.load(tmp_path / "weights.npz", map_location=torch.device("cpu"))
