"""ModuleList, ModuleDict, forward hooks, load_state_dict's result, nn.functional and custom modules, as PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn
from nnblocks.errors import DTypeError, InvalidArgumentError, InvalidValueError
from nnblocks.nn import functional as F


class Stack(nn.Module):
    """A model that keeps its layers in a ModuleList and its heads in a ModuleDict, and returns a tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4)])
        self.heads = nn.ModuleDict({"score": nn.Linear(4, 1), "klass": nn.Linear(4, 2)})

    def forward(self, x, scale=1.0):
        for layer in self.layers:
            x = layer(x)
        return self.heads["score"](x) * scale, self.heads["klass"](x)


# ---- ModuleList ------------------------------------------------------------------------------------------------------
def test_module_list_registers_indexes_and_renumbers():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)
    layers = nn.ModuleList([a, b])
    assert len(layers) == 2 and layers[0] is a and layers[-1] is b and list(layers) == [a, b]
    assert layers.append(c) is layers and layers[2] is c
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    sliced = layers[1:]
    assert isinstance(sliced, nn.ModuleList) and list(sliced) == [b, c] and list(sliced._modules) == ["0", "1"]
    del layers[0]
    assert list(layers) == [b, c] and list(layers._modules) == ["0", "1"]  # renumbered, as PyTorch
    layers.insert(0, a)
    assert list(layers) == [a, b, c] and list(layers._modules) == ["0", "1", "2"]
    assert layers.pop(1) is b and list(layers) == [a, c]
    layers[1] = b
    assert list(layers) == [a, b]
    layers += [c]
    assert list(layers) == [a, b, c] and list((layers + nn.ModuleList([a]))) == [a, b, c, a]
    assert layers.extend(nn.Sequential(nn.Tanh())) is layers and len(layers) == 4
    assert sum(p.numel() for p in layers.parameters()) == 6 + 3


def test_module_list_errors_are_clear():
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index 3 is out of range for a list of 1"):
        layers[3]
    with pytest.raises(InvalidArgumentError, match="integers or slices, not str"):
        layers["0"]
    with pytest.raises(InvalidArgumentError, match="only hold nn.Module objects, got a int"):
        layers.append(3)
    with pytest.raises(InvalidArgumentError, match="use append"):
        layers.extend(nn.Linear(2, 2))
    with pytest.raises(NotImplementedError, match=r"ModuleList has no forward\(\).*for layer in self.layers"):
        layers(nb.ones(1))


# ---- ModuleDict ------------------------------------------------------------------------------------------------------
def test_module_dict_keeps_order_and_behaves_as_a_dict():
    relu, tanh, sig = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    d = nn.ModuleDict({"b": relu, "a": tanh})
    assert list(d) == ["b", "a"] and list(d.keys()) == ["b", "a"] and list(d.values()) == [relu, tanh]
    assert d["a"] is tanh and "a" in d and "z" not in d and len(d) == 2 and d.a is tanh
    d.update([("c", sig)])
    d["b"] = nn.Linear(1, 1)
    assert list(d) == ["b", "a", "c"] and list(d.state_dict()) == ["b.weight", "b.bias"]
    assert d.pop("a") is tanh and list(d) == ["b", "c"]
    del d["c"]
    assert list(d) == ["b"]
    d.clear()
    assert len(d) == 0 and list(nn.ModuleDict([("x", relu)]).items()) == [("x", relu)]


def test_module_dict_errors_are_clear():
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(KeyError, match=r"no module 'z'; its keys are \['a'\]"):
        d["z"]
    with pytest.raises(InvalidArgumentError, match="keys must be strings"):
        d[3] = nn.ReLU()
    with pytest.raises(InvalidValueError, match="cannot be empty or contain '.'"):
        d["a.b"] = nn.ReLU()
    with pytest.raises(InvalidArgumentError, match="got a str"):
        d["x"] = "relu"


# ---- a custom module with containers, a tuple output and keyword arguments ------------------------------------------
def test_custom_module_state_dict_tuple_output_and_keyword_call():
    model = Stack()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                     "heads.score.weight", "heads.score.bias", "heads.klass.weight", "heads.klass.bias"]
    x = nb.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    score, klass = model(x)
    assert score.shape == (2, 1) and klass.shape == (2, 2)
    doubled, _ = model(x, scale=2.0)
    np.testing.assert_allclose(doubled.data, 2 * score.data, rtol=1e-6)
    (score.sum() + klass.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())
    result = model.load_state_dict(model.state_dict())
    assert repr(result) == str(result) == "<All keys matched successfully>"
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    partial = model.load_state_dict({"layers.0.bias": np.zeros(4), "extra": np.zeros(1)}, strict=False)
    missing, unexpected = partial
    assert unexpected == ["extra"] and len(missing) == 7 and "layers.0.weight" in missing
    assert repr(partial).startswith("IncompatibleKeys(missing_keys=['layers.0.weight'")
    assert not np.any(model.layers[0].bias.data)


def test_state_dict_keys_and_outputs_match_pytorch():
    torch = pytest.importorskip("torch")

    class TorchStack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4)])
            self.heads = torch.nn.ModuleDict({"score": torch.nn.Linear(4, 1), "klass": torch.nn.Linear(4, 2)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.heads["score"](x), self.heads["klass"](x)

    ours, theirs = Stack(), TorchStack()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    print(theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()}))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for a, b in zip(ours(nb.tensor(x)), theirs(torch.from_numpy(x))):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert repr(ours.load_state_dict(ours.state_dict())) == repr(theirs.load_state_dict(theirs.state_dict()))


# ---- forward hooks ---------------------------------------------------------------------------------------------------
def test_forward_hook_sees_inputs_and_output_and_its_handle_removes_it():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    seen = []
    handle = model[1].register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = nb.tensor([[1.0, -2.0]])
    model(x)
    module, inputs, out = seen[0]
    assert module is model[1] and isinstance(inputs, tuple) and len(inputs) == 1
    np.testing.assert_array_equal(out.data, np.maximum(inputs[0].data, 0))
    handle.remove()
    handle.remove()  # twice is harmless
    model(x)
    assert len(seen) == 1
    with model[0].register_forward_hook(lambda m, i, o: o * 0):  # a hook's return value replaces the output
        np.testing.assert_array_equal(model[0](x).data, np.zeros((1, 3)))
    assert np.any(model[0](x).data)  # the with block removed it


# ---- nn.functional against PyTorch -----------------------------------------------------------------------------------
def _pairs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    probs = 1 / (1 + np.exp(-rng.standard_normal((4, 5))))
    targets01 = (rng.random((4, 5)) > 0.5).astype(np.float64)
    classes = np.array([0, 4, 2, 2])
    w, b = rng.standard_normal((3, 5)), rng.standard_normal(3)
    return [
        ("relu", (x,), {}), ("sigmoid", (x,), {}), ("tanh", (x,), {}), ("leaky_relu", (x,), {"negative_slope": 0.2}),
        ("softmax", (x,), {"dim": 1}), ("softmax", (x,), {"dim": 0}), ("log_softmax", (x,), {"dim": 1}),
        ("linear", (x, w, b), {}), ("linear", (x, w), {}),
        ("mse_loss", (x, probs), {}), ("l1_loss", (x, probs), {"reduction": "sum"}),
        ("binary_cross_entropy", (probs, targets01), {}),
        ("binary_cross_entropy_with_logits", (x, targets01), {"reduction": "none"}),
        ("cross_entropy", (x, classes), {}), ("nll_loss", (x, classes), {}),
        ("dropout", (x,), {"p": 0.5, "training": False}),
    ]


@pytest.mark.parametrize("name,args,kwargs", _pairs(), ids=[p[0] + str(i) for i, p in enumerate(_pairs())])
def test_functional_matches_pytorch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(F, name)(*[nb.tensor(a) for a in args], **kwargs)
    theirs = getattr(torch.nn.functional, name)(*[torch.from_numpy(a) for a in args], **kwargs)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_dropout_functional_scales_survivors_and_one_hot():
    x = nb.ones(1000, dtype=np.float64)
    out = F.dropout(x, p=0.25, training=True, seed=0).data
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert 0.2 < np.mean(out == 0) < 0.3
    assert F.dropout(x, 0.25, training=False) is x
    hot = F.one_hot(nb.tensor([0, 2, 1]))
    np.testing.assert_array_equal(hot.data, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert hot.dtype == np.int64 and F.one_hot(nb.tensor([1]), 4).shape == (1, 4)
    with pytest.raises(DTypeError, match="integers"):
        F.one_hot(nb.tensor([0.5]))
    with pytest.raises(InvalidValueError, match=r"\[0, 2\)"):
        F.one_hot(nb.tensor([3]), 2)


# ---- summary (the torchsummary stand-in) -----------------------------------------------------------------------------
def test_summary_table_counts_and_leaves_the_model_as_it_was(capsys):
    from nnblocks.utils import summary

    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 1), nn.BatchNorm1d(1)))
    before = model.state_dict()
    result = summary(model, nb.zeros(1, 2))
    printed = capsys.readouterr().out
    assert printed.strip() == str(result)
    rows = [line.split() for line in printed.splitlines()]
    assert ["├─Linear:", "1-1", "[-1,", "8]", "24"] in rows
    assert ["├─ReLU:", "1-2", "[-1,", "8]", "--"] in rows
    assert ["|", "├─BatchNorm1d:", "2-2", "[-1,", "1]", "2"] in rows
    assert "Total params: 35" in printed and "Non-trainable params: 0" in printed
    assert result.total_params == 35 == 2 * 8 + 8 + 8 + 1 + 2
    assert model.training and model[2][1].training  # modes restored, running statistics untouched
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert summary(model, (2,), print_table=False).trainable_params == 35
    assert capsys.readouterr().out == ""
