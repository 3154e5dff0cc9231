"""Devices and dtypes under PyTorch's names: nnblocks computes on the CPU, says so clearly when asked for CUDA, and
its dtype objects print as PyTorch's while equalling NumPy's. PyTorch 2.13's answers, where it has them, are checked
in test_torch_api.py; this file needs no torch."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn
from nnblocks.errors import DeviceError, DTypeError, InvalidArgumentError, NotSupportedError


# ---- devices ---------------------------------------------------------------------------------------------------------
def test_device_objects_parse_compare_and_print_like_pytorch():
    cpu, cuda0 = nb.device("cpu"), nb.device("cuda:0")
    assert (cpu.type, cpu.index, str(cpu), repr(cpu)) == ("cpu", None, "cpu", "device(type='cpu')")
    assert (cuda0.type, cuda0.index, str(cuda0), repr(cuda0)) == ("cuda", 0, "cuda:0", "device(type='cuda', index=0)")
    assert nb.device("cuda", 1) == nb.device("cuda:1") and nb.device(type="cpu") == cpu == nb.device(cpu)
    assert cpu != nb.device("cpu:0") and cpu != "cpu"  # as PyTorch: no equality with strings, index matters
    assert len({cpu, nb.device("cpu"), cuda0}) == 2
    for bad, words in [("gpu", "names no device"), ("CPU", "names no device"), ("cuda:x", "invalid device string"),
                       ("cuda:01", "invalid device string"), (0, "nnblocks has none"), (None, "expected a string")]:
        with pytest.raises(DeviceError, match=words):
            nb.device(bad)
    with pytest.raises(DeviceError, match="already has an index"):
        nb.device("cuda:0", 1)


def test_cuda_reports_no_gpu_and_the_book_idiom_picks_cpu():
    assert nb.cuda.is_available() is False and nb.cuda.device_count() == 0 and not nb.cuda.is_initialized()
    assert nb.cuda.manual_seed(0) is None and nb.cuda.manual_seed_all(0) is None and nb.cuda.empty_cache() is None
    with pytest.raises(DeviceError, match="there is no GPU"):
        nb.cuda.current_device()
    device = "cuda" if nb.cuda.is_available() else "cpu"
    x = nb.tensor([[1, 2]]).float()
    assert x.to(device) is x and x.cpu() is x and x.to(nb.device(device)) is x
    assert x.device == nb.device("cpu") and not x.is_cuda and x.get_device() == -1


@pytest.mark.parametrize("ask", [
    lambda: nb.ones(2).to("cuda"), lambda: nb.ones(2).to(nb.device("cuda:0")), lambda: nb.ones(2).cuda(),
    lambda: nb.ones(2).to("mps"), lambda: nb.zeros(2, device="cuda"), lambda: nb.tensor([1.0], device="cuda"),
    lambda: nb.randn(2, device="cuda:1"), lambda: nn.Linear(2, 1).to("cuda"), lambda: nn.Linear(2, 1).cuda(),
    lambda: nb.ones(2).to("cuda", nb.float64),
], ids=["to-str", "to-device", "cuda()", "mps", "zeros", "tensor", "randn", "module.to", "module.cuda", "to-both"])
def test_asking_for_a_gpu_is_a_clear_device_error(ask):
    with pytest.raises(DeviceError) as info:
        ask()
    message = str(info.value)
    assert "nnblocks computes on the CPU with NumPy" in message and "'cpu'" in message
    assert isinstance(info.value, RuntimeError) and "not understood" not in message


def test_to_parses_pytorchs_forms_and_returns_self_when_nothing_changes():
    x = nb.tensor([1.5, -2.5], requires_grad=True)
    assert x.to("cpu") is x and x.to(nb.float32) is x and x.to("cpu", nb.float32, non_blocking=True) is x
    assert x.to(x.detach()) is x and x.to(device="cpu", dtype=nb.float32) is x
    copied = x.to(nb.float32, copy=True)
    assert copied is not x and not np.shares_memory(copied.data, x.data) and copied.grad_fn is not None
    y = x.to("cpu", nb.float64)
    assert y.dtype == nb.float64 and y.grad_fn is not None  # a float conversion keeps the graph
    y.sum().backward()
    assert x.grad.dtype == nb.float32 and x.grad.tolist() == [1.0, 1.0]
    assert x.to(nb.tensor([1], dtype=nb.int32)).dtype == nb.int32  # another tensor's dtype
    assert x.to(np.float64).dtype == np.float64  # NumPy dtypes too (PyTorch refuses them)
    with pytest.raises(DeviceError, match="'float32' names no device"):
        x.to("float32")  # a string is a device, as in PyTorch
    with pytest.raises(InvalidArgumentError, match="unexpected keyword"):
        x.to(dtype=nb.float64, device="cpu", blocking=True)
    with pytest.raises(NotSupportedError, match="memory_format"):
        x.to(memory_format="channels_last")


def test_conversions_and_type():
    x = nb.tensor([1.7, -1.7, 0.0])
    assert x.float() is x and x.double().dtype == nb.float64 and x.half().dtype == nb.float16
    assert x.int().tolist() == [1, -1, 0] and x.int().dtype == nb.int32
    assert x.long().dtype == nb.int64 and x.bool().tolist() == [True, True, False]
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(nb.float64).dtype == nb.float64 and x.type("torch.DoubleTensor").dtype == nb.float64
    assert x.type(nb.float32) is x and x.contiguous() is x
    with pytest.raises(DTypeError, match="is not a dtype"):
        x.type("torch.Nonsense")


def test_module_to_cpu_and_dtype_return_self():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 1))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model and model.to(nb.device("cpu")) is model
    assert model.to(nb.float64) is model and weight.dtype == nb.float64 and model[0].weight is weight
    assert model[1].running_mean.dtype == np.float64
    assert model.to("cpu", nb.float32) is model and weight.dtype == nb.float32
    assert model.double() is model and model.float() is model and weight.dtype == nb.float32
    with pytest.raises(DTypeError, match="floating-point"):
        model.to(nb.int64)


# ---- dtypes ----------------------------------------------------------------------------------------------------------
def test_dtype_names_print_like_pytorch_and_equal_numpy():
    assert nb.float is nb.float32 and nb.double is nb.float64 and nb.half is nb.float16
    assert nb.long is nb.int64 and nb.int is nb.int32 and nb.short is nb.int16
    assert repr(nb.float32) == str(nb.float) == "torch.float32" and repr(nb.bool) == "torch.bool"
    assert nb.float32 == np.float32 and np.float32 == nb.float32 and nb.float32 == "float32" != nb.float64
    assert nb.float32.is_floating_point and not nb.int64.is_floating_point and nb.int64.is_signed
    assert nb.uint8.itemsize == 1 and nb.float32.kind == "f" and isinstance(nb.float32, nb.dtype)
    assert np.zeros(2, dtype=nb.float64).dtype == np.float64 and np.dtype(nb.int32) == np.int32
    assert {np.dtype(np.float32): "f"}[nb.float32] == "f"  # hashes as the NumPy dtype
    assert copy.deepcopy(nb.float32) is nb.float32 and pickle.loads(pickle.dumps(nb.int64)) is nb.int64
    x = nb.tensor([[1, 2]])
    assert x.dtype == nb.int64 and x.dtype == np.int64 and str(x.dtype) == "torch.int64"


def test_default_dtype_is_a_dtype_object_and_only_float32_or_float64():
    assert nb.get_default_dtype() is nb.float32
    with nb.default_dtype(nb.float64):
        assert nb.get_default_dtype() is nb.float64 and nb.tensor([1.0]).dtype == nb.float64
    with pytest.raises(DTypeError, match="only float32 and float64"):
        nb.set_default_dtype(nb.int64)
    with pytest.raises(DTypeError, match="is not a dtype"):
        nb.set_default_dtype("floaty")
    assert nb.get_default_dtype() is nb.float32
