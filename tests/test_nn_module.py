"""Tests of nnblocks.nn.Module: the parameter/module tree, modes, gradients, hooks, state dicts, summary, dtypes."""
from __future__ import annotations

import re

import numpy as np
import pytest

from nnblocks import CheckpointError, ShapeError, Tensor
from nnblocks import nn


def mlp(seed: int = 0, dtype=np.float32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 3, seed=seed, dtype=dtype), nn.ReLU(), nn.Linear(3, 2, seed=seed + 1, dtype=dtype))


class TwoBranch(nn.Module):
    """A custom module: sub-modules, a direct Parameter, a buffer and plain attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = 2.5  # plain attribute: not a parameter
        self.encoder = nn.Sequential(nn.Linear(3, 4, seed=1), nn.Tanh())
        self.head = nn.Linear(4, 2, seed=2)
        self.offset = nn.Parameter(np.array([0.5, -0.5], dtype=np.float32))
        self.register_buffer("count", np.zeros(1, dtype=np.int64))
        self.name = "two-branch"

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale + self.offset


# ---- the tree ------------------------------------------------------------------------------------------------------
def test_named_parameters_use_pytorch_dotted_names():
    model = mlp()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(3, 4), (3,), (2, 3), (2,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert model.num_parameters() == 3 * 4 + 3 + 2 * 3 + 2


def test_custom_module_registers_parameters_modules_buffers_not_plain_attributes():
    m = TwoBranch()
    assert [n for n, _ in m.named_parameters()] == [
        "offset", "encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias"]
    assert [n for n, _ in m.named_children()] == ["encoder", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "encoder", "encoder.0", "encoder.1", "head"]
    assert [type(c).__name__ for c in m.children()] == ["Sequential", "Linear"]
    assert len(list(m.modules())) == 5
    assert m.scale == 2.5 and m.name == "two-branch"
    assert [n for n, _ in m.named_buffers()] == ["count"]
    # PyTorch's order: a module's own parameters, then its own buffers, then its children's
    assert list(m.state_dict()) == ["offset", "count", "encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias"]
    # recurse=False: only the module's own parameters
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["offset"]
    out = m(Tensor(np.ones((5, 3), dtype=np.float32)))
    assert out.shape == (5, 2)


def test_reassigning_an_attribute_moves_it_between_kinds():
    m = TwoBranch()
    m.head = nn.Linear(4, 2, seed=3)  # replace a sub-module
    assert np.array_equal(m.state_dict()["head.weight"], m.head.weight.data)
    m.offset = 1.0  # a plain number replaces the parameter
    assert "offset" not in dict(m.named_parameters())
    assert m.offset == 1.0
    del m.head
    assert "head" not in dict(m.named_children())


def test_assigning_an_array_to_a_buffer_name_keeps_it_a_buffer():
    bn = nn.BatchNorm1d(3)
    bn.running_mean = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert np.array_equal(bn.state_dict()["running_mean"], [1, 2, 3])


def test_shared_parameter_listed_once():
    lin = nn.Linear(3, 3, seed=0)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3
    # but state_dict saves it under every name, as PyTorch does, and loading fills the one shared layer
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model.load_state_dict({k: np.full_like(v, 0.5) for k, v in state.items()})
    assert np.all(lin.weight.data == 0.5)


def test_module_without_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Broken()


def test_sequential_indexing_len_iter_and_ordered_dict_names():
    from collections import OrderedDict

    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3, seed=0)), ("act", nn.Sigmoid()),
                                       ("out", nn.Linear(3, 1, seed=1))]))
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert len(model) == 3
    assert isinstance(model[1], nn.Sigmoid) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid", "Linear"]
    assert len(model[:2]) == 2


# ---- modes and gradients -------------------------------------------------------------------------------------------
def test_train_and_eval_propagate_to_every_submodule():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.train(False)
    assert not any(x.training for x in m.modules())


def test_zero_grad_set_to_none_and_to_zeros():
    model = mlp()
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in model.parameters())
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=False)  # in place, as PyTorch: the same gradient tensors, zeroed
    assert all(p.grad is g and p.grad.shape == p.shape and not p.grad.any() for p, g in zip(model.parameters(), grads))
    model.zero_grad()  # default: set_to_none=True, as PyTorch 2
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zero_grad():
    model = mlp()
    x = Tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    model(x).sum().backward()
    first = model[0].weight.grad.clone()
    model(x).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad, 2 * first, rtol=1e-6)


# ---- hooks ---------------------------------------------------------------------------------------------------------
def test_forward_hook_reads_an_intermediate_output_and_can_be_removed():
    model = mlp()
    seen = []
    handle = model[1].register_forward_hook(lambda module, inputs, output: seen.append(output.data.copy()))
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    model(Tensor(x))
    assert len(seen) == 1
    expected_hidden = np.maximum(x @ model[0].weight.data.T + model[0].bias.data, 0)
    np.testing.assert_allclose(seen[0], expected_hidden, rtol=1e-6)
    handle.remove()
    model(Tensor(x))
    assert len(seen) == 1
    handle.remove()  # removing twice is harmless and does not remove a later hook
    later = model[1].register_forward_hook(lambda m, i, o: seen.append(o))
    handle.remove()
    model(Tensor(x))
    assert len(seen) == 2
    later.remove()


def test_forward_hook_can_replace_the_output():
    lin = nn.Linear(2, 2, seed=0)
    lin.register_forward_hook(lambda m, i, o: o * 0.0)
    assert not lin(Tensor(np.ones((1, 2), dtype=np.float32))).data.any()


# ---- state dicts ---------------------------------------------------------------------------------------------------
def test_state_dict_round_trip_gives_identical_outputs():
    a, b = mlp(seed=0), mlp(seed=10)
    x = Tensor(np.random.default_rng(3).standard_normal((7, 4)).astype(np.float32))
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    missing, unexpected = b.load_state_dict(state)
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    # state_dict holds copies: changing the model later does not change a saved state
    a[0].weight.data[...] = 0
    assert state["0.weight"].any()


def test_load_state_dict_missing_and_unexpected_keys_are_named():
    model = mlp()
    state = model.state_dict()
    del state["2.bias"]
    state["3.weight"] = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(CheckpointError) as info:
        model.load_state_dict(state)
    assert "'2.bias'" in str(info.value) and "'3.weight'" in str(info.value)
    assert isinstance(info.value, ValueError)
    # non-strict: loads what matches, reports the rest
    before = model[2].bias.data.copy()
    state["0.weight"] = np.full((3, 4), 0.25, dtype=np.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["2.bias"] and unexpected == ["3.weight"]
    assert np.all(model[0].weight.data == 0.25)
    np.testing.assert_array_equal(model[2].bias.data, before)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes_and_changes_nothing():
    model = mlp()
    before = model.state_dict()
    state = model.state_dict()
    state["0.weight"] = np.zeros((3, 4), dtype=np.float32)  # fine, but must not be loaded: a later key is wrong
    state["2.weight"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ShapeError) as info:
        model.load_state_dict(state)
    msg = str(info.value)
    assert "2.weight" in msg and "(3, 2)" in msg and "(2, 3)" in msg
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # non-strict loading still checks shapes
    with pytest.raises(ShapeError, match="2.weight"):
        model.load_state_dict(state, strict=False)


def test_check_state_dict_names_every_problem_at_once_and_changes_nothing():
    model = mlp()
    before = model.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    del state["2.bias"]
    state["0.weight"] = np.zeros((4, 3), dtype=np.float32)
    state["2.weight"] = np.zeros((3, 2), dtype=np.float32)
    state["9.weight"] = np.zeros(1, dtype=np.float32)
    with pytest.raises(CheckpointError) as info:
        model.check_state_dict(state)
    assert str(info.value) == (
        "Sequential.load_state_dict: the state does not fit this model (saved from another architecture?): missing "
        "keys ['2.bias'], unexpected keys ['9.weight'], shape mismatches: 0.weight (4, 3) in the state dict vs (3, 4) "
        "in the model; 2.weight (3, 2) in the state dict vs (2, 3) in the model")
    with pytest.raises(ShapeError, match=r"shape mismatches: 0.weight .*; 2.weight "):  # keys may differ, shapes not
        model.check_state_dict(state, strict=False)
    del state["0.weight"], state["2.weight"]
    model.check_state_dict(state, strict=False)  # what load_state_dict(strict=False) would accept passes
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])

def test_state_dict_saves_batchnorm_buffers():
    rng = np.random.default_rng(4)
    a = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    for _ in range(3):
        a(Tensor(rng.standard_normal((8, 3)).astype(np.float32)))
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                           "1.num_batches_tracked"]
    assert int(state["1.num_batches_tracked"]) == 3
    assert state["1.num_batches_tracked"].dtype == np.int64
    assert not np.allclose(state["1.running_mean"], 0)
    b = nn.Sequential(nn.Linear(3, 4, seed=1), nn.BatchNorm1d(4))
    b.load_state_dict(state)
    x = Tensor(rng.standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)
    np.testing.assert_array_equal(b[1].running_var, a[1].running_var)
    with pytest.raises(ShapeError, match="1.running_mean"):
        b.load_state_dict({**state, "1.running_mean": np.zeros(5, dtype=np.float32)})


def test_load_state_dict_converts_dtype_and_accepts_tensors():
    model = mlp()
    state = {k: Tensor(v.astype(np.float64)) for k, v in mlp(seed=5).state_dict().items()}
    model.load_state_dict(state)
    assert all(p.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(model[2].weight.data, state["2.weight"].data, rtol=1e-7)


# ---- printing ------------------------------------------------------------------------------------------------------
def test_summary_of_the_784_1000_10_network():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 1000, seed=0), nn.ReLU(), nn.Linear(1000, 10, seed=1))
    assert model.num_parameters() == 795_010
    text = model.summary()
    assert "795,010" in text
    assert "785,000" in text and "10,010" in text  # per layer: 784*1000+1000 and 1000*10+10
    for name in ("Flatten", "Linear", "ReLU"):
        assert name in text
    assert "(batch," not in text  # no input shape, no output shapes
    model.train()
    text = model.summary(input_shape=(28, 28))
    assert "(batch, 784)" in text and "(batch, 1000)" in text and "(batch, 10)" in text
    assert all(m.training for m in model.modules())  # summary ran in eval mode and restored the mode


def test_summary_restores_mixed_modes_and_lists_each_layer_row():
    model = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Dropout(0.5), nn.Linear(3, 1, seed=1))
    model[1].eval()
    text = model.summary(input_shape=(2,))
    assert model.training and model[0].training and not model[1].training
    rows = [line for line in text.splitlines() if re.match(r"^\d+\s", line)]
    assert len(rows) == 3
    assert rows[0].split()[-1] == "9" and rows[1].split()[-1] == "0" and rows[2].split()[-1] == "4"


def test_repr_matches_pytorch_layout():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sigmoid()\n"
        "  (2): Linear(in_features=3, out_features=1, bias=False)\n"
        ")"
    )
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert "Parameter containing" in repr(model[0].weight)


# ---- dtypes --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(np.float64)])
def test_double_converts_parameters_and_float_buffers_in_place(convert):
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    w32 = model[0].weight.data.copy()
    x = np.random.default_rng(6).standard_normal((5, 3))
    model(Tensor(x.astype(np.float32))).sum().backward()
    assert convert(model) is model
    assert all(p.dtype == np.float64 and p.grad is None for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64 and model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffer untouched
    np.testing.assert_array_equal(model[0].weight.data, w32.astype(np.float64))
    out = model(Tensor(x))
    assert out.dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_requires_grad_false_freezes_parameters():
    model = mlp()
    model.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 0
    assert model.num_parameters() == 23


def test_class_weight_of_a_loss_is_a_buffer_like_pytorch():
    import numpy as np

    from nnblocks import nn

    loss = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 3.0]))
    assert list(loss.state_dict()) == ["weight"]  # PyTorch's CrossEntropyLoss registers weight as a buffer too
    np.testing.assert_array_equal(loss.state_dict()["weight"], [1.0, 2.0, 3.0])
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert not isinstance(nn.NLLLoss(), nn.CrossEntropyLoss)
