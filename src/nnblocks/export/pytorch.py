"""``to_torch(model)`` and ``from_torch(module)``: the same network, layer for layer, in PyTorch or in nnblocks.

Both walk the module tree and rebuild each module with the other library's class of the same name, options and
dtype, then copy every parameter and buffer (weights, biases, batch norm's running statistics and batch count), each
parameter's ``requires_grad`` and each module's train/eval mode. So both give the same outputs: measured, at most
~1e-15 apart in float64 and ~1e-7 in float32 (the test's bounds are 1e-12 and 1e-6), in train and eval mode.

Converted: ``Sequential`` (and ``MLP``, which is one), ``ModuleList``, ``ModuleDict``, ``Linear``, ``BatchNorm1d``,
``Dropout``, ``Flatten``, ``Identity``, the chapter-4 layers (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d``, ``BatchNorm2d``, ``Dropout2d``, ``Unflatten``), every activation module (``ReLU``,
``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax``... by name, with their options) and the loss
modules. ``CNN`` becomes the ``torch.nn.Sequential`` of its layers, with the same keys: the book's model, which takes
images (N, C, H, W) as PyTorch's ``Conv2d`` does (``CNN`` also views flat rows (N, C*H*W) as images, an nnblocks
convenience: in PyTorch, ``x.view(-1, *cnn.input_shape)`` first); ``from_torch`` gives that Sequential back as a
``Sequential``. Not convertible, with an error that says what to do instead: a class of your own with its own
``forward()`` (Python code: write the same class in the other library and copy the weights with
``load_state_dict``), PyTorch layers nnblocks does not have, float16 weights, batch norm with ``momentum=None``.
Train-mode dropout draws its masks from each library's own generator, so only the expected value of a dropout
layer's output agrees in training.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from nnblocks.errors import InvalidArgumentError, InvalidValueError
from nnblocks.nn import containers, layers, loss, pooling
from nnblocks.nn.cnn import CNN
from nnblocks.nn.conv import Conv2d
from nnblocks.nn.module import Module

_CONTAINERS = (layers.Sequential, containers.ModuleList, containers.ModuleDict)
# Layers without weights whose constructor arguments are attributes of the same names in both libraries.
_SIMPLE = {layers.Dropout: ("p",), layers.Flatten: ("start_dim", "end_dim"), layers.Identity: (),
           layers.Dropout2d: ("p",), layers.Unflatten: ("dim", "unflattened_size"),
           pooling.MaxPool2d: ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
           pooling.AvgPool2d: ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                               "divisor_override"),
           pooling.AdaptiveAvgPool2d: ("output_size",)}
_BATCH_NORMS = (layers.BatchNorm1d, layers.BatchNorm2d)
_CONV_OPTIONS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode")
_LOSSES = (loss.MSELoss, loss.L1Loss, loss.BCELoss, loss.BCEWithLogitsLoss, loss.CrossEntropyLoss, loss.NLLLoss)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("nnblocks.export needs PyTorch for to_torch/from_torch: pip install torch") from exc
    return torch


def _same_forward(module: Any, base: type) -> bool:
    """``module`` is ``base`` or a subclass that keeps base's forward (``MLP`` is a Sequential; ``MyNet`` with
    its own forward is not convertible as one)."""
    return isinstance(module, base) and type(module).forward is base.forward


# ---- nnblocks -> PyTorch ---------------------------------------------------------------------------------------------
def to_torch(model: Module) -> Any:
    """The ``torch.nn.Module`` equivalent of ``model``: same structure, names, weights, buffers and modes."""
    torch = _import_torch()
    if not isinstance(model, Module):
        raise InvalidArgumentError(f"to_torch: expected an nnblocks nn.Module, got a {type(model).__name__}")
    out = _to_torch(model, torch, "model")
    _copy_modes(model, out)
    return out


def _copy_modes(source: Any, target: Any) -> None:
    """Each module's train/eval flag, one by one (a model may be half in eval mode, as the book's BN model is)."""
    flags = {name: m.training for name, m in source.named_modules()}
    for name, m in target.named_modules():
        m.training = flags.get(name, m.training)


def _to_torch(m: Module, torch: Any, where: str) -> Any:
    tnn = torch.nn
    children = [(name, _to_torch(child, torch, f"{where}.{name}")) for name, child in m.named_children()]
    if _same_forward(m, layers.Sequential) or _same_forward(m, CNN):  # CNN: its layers, as the book writes them
        return tnn.Sequential(OrderedDict(children))
    if _same_forward(m, containers.ModuleList):
        return tnn.ModuleList([c for _, c in children])
    if _same_forward(m, containers.ModuleDict):
        return tnn.ModuleDict(OrderedDict(children))
    return _leaf_to_torch(m, torch, where)


def _torch_dtype(m: Module, torch: Any, where: str) -> Any:
    """The torch dtype of ``m``'s weights (or float buffers: BatchNorm1d(affine=False) has only those)."""
    arrays = [p.data for p in m.parameters()] + [b for _, b in m.named_buffers() if b.dtype.kind == "f"]
    if not arrays:
        return torch.get_default_dtype()
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64):
        raise InvalidValueError(f"to_torch: {where} holds {dtype} weights; convert the model with .float() or "
                                ".double() first")
    return torch.float32 if dtype == np.float32 else torch.float64


def _leaf_to_torch(m: Module, torch: Any, where: str) -> Any:
    tnn, kind = torch.nn, type(m).__name__
    if _same_forward(m, layers.Linear):
        out = tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=_torch_dtype(m, torch, where))
    elif _same_forward(m, Conv2d):
        out = tnn.Conv2d(**{a: getattr(m, a) for a in _CONV_OPTIONS}, bias=m.bias is not None,
                         dtype=_torch_dtype(m, torch, where))
    elif any(_same_forward(m, cls) for cls in _BATCH_NORMS):
        out = getattr(tnn, kind)(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                                 track_running_stats=m.track_running_stats, dtype=_torch_dtype(m, torch, where))
    elif any(_same_forward(m, cls) for cls in _SIMPLE):
        cls = next(c for c in _SIMPLE if isinstance(m, c))
        out = getattr(tnn, cls.__name__)(**{a: getattr(m, a) for a in _SIMPLE[cls]})
    elif _same_forward(m, layers.Activation) and hasattr(tnn, kind):
        out = getattr(tnn, kind)(**{name: getattr(m, name) for name in m.option_names})
    elif any(_same_forward(m, cls) for cls in _LOSSES):
        weight = m._buffers.get("weight")
        options = {"weight": torch.from_numpy(np.array(weight))} if weight is not None else {}
        out = getattr(tnn, kind)(reduction=m.reduction, **options)
    else:
        raise InvalidArgumentError(_not_convertible(m, where, "to_torch", "torch.nn"))
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in m.state_dict().items()}
    out.load_state_dict(state, strict=True)
    for name, p in m.named_parameters():
        out.get_parameter(name).requires_grad_(p.requires_grad)
    return out


def _not_convertible(m: Any, where: str, function: str, other: str) -> str:
    kind = type(m).__name__
    if type(m).__module__.split(".")[0] not in ("nnblocks", "torch"):
        return (f"{function}: {where} is a {kind}, a class of your own whose forward() is Python code that cannot "
                f"be translated; write the same class with {other} and copy the weights: "
                "other.load_state_dict(model.state_dict()) (the state_dict keys are the same in both libraries)")
    return (f"{function}: {where} is a {kind}, which has no counterpart in {other}; convertible: Sequential (and "
            "MLP, CNN), ModuleList, ModuleDict, Linear, BatchNorm1d, Dropout, Flatten, Identity, Conv2d, MaxPool2d, "
            "AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, Dropout2d, Unflatten, the activations and the losses")


# ---- PyTorch -> nnblocks ---------------------------------------------------------------------------------------------
def from_torch(module: Any) -> Module:
    """The nnblocks equivalent of a ``torch.nn.Module``: same structure, names, weights, buffers and modes."""
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise InvalidArgumentError(f"from_torch: expected a torch.nn.Module, got a {type(module).__name__}")
    out = _from_torch(module, torch, "module")
    flags = {name: m.training for name, m in module.named_modules()}
    for name, m in out.named_modules():
        object.__setattr__(m, "training", flags.get(name, m.training))
    return out


def _from_torch(t: Any, torch: Any, where: str) -> Module:
    tnn = torch.nn
    children = [(name, _from_torch(child, torch, f"{where}.{name}")) for name, child in t.named_children()]
    if _same_forward(t, tnn.Sequential):
        return layers.Sequential(OrderedDict(children))
    if type(t) is tnn.ModuleList:
        return containers.ModuleList([c for _, c in children])
    if type(t) is tnn.ModuleDict:
        return containers.ModuleDict(OrderedDict(children))
    return _leaf_from_torch(t, torch, where)


def _np_dtype(t: Any, torch: Any, where: str) -> Any:
    """The NumPy dtype of ``t``'s weights (or float buffers), None when it has neither."""
    tensors = [*t.parameters(), *(b for b in t.buffers() if b.dtype.is_floating_point)]
    if not tensors:
        return None
    if tensors[0].dtype not in (torch.float32, torch.float64):
        raise InvalidValueError(f"from_torch: {where} holds {tensors[0].dtype} weights; convert it with .float() or "
                                ".double() first")
    return np.float32 if tensors[0].dtype == torch.float32 else np.float64


def _activation_from_torch(t: Any, torch: Any) -> Module | None:
    """The registered nnblocks activation of the same name, with the torch module's options (Softmax's dim=None,
    PyTorch's deprecated implicit dim, becomes -1: the same axis for 1-D and 2-D inputs)."""
    cls = layers.activation_modules().get(type(t).__name__)
    if cls is None or type(t) is not getattr(torch.nn, type(t).__name__, None):
        return None
    options = {name: getattr(t, name) for name in cls.option_names if hasattr(t, name)}
    if "dim" in options and options["dim"] is None:
        options["dim"] = -1
    return cls(**options)


def _leaf_from_torch(t: Any, torch: Any, where: str) -> Module:
    tnn = torch.nn
    makers: dict[type, Callable[[], Module]] = {
        tnn.Linear: lambda: layers.Linear(t.in_features, t.out_features, bias=t.bias is not None,
                                          dtype=_np_dtype(t, torch, where)),
        tnn.BatchNorm1d: lambda: _batch_norm_from_torch(t, torch, where),
        tnn.BatchNorm2d: lambda: _batch_norm_from_torch(t, torch, where),
        tnn.Conv2d: lambda: Conv2d(**{a: getattr(t, a) for a in _CONV_OPTIONS}, bias=t.bias is not None,
                                   dtype=_np_dtype(t, torch, where)),
    }
    for cls, names in _SIMPLE.items():  # the same name in torch.nn, the same arguments as attributes
        makers[getattr(tnn, cls.__name__)] = lambda cls=cls, names=names: cls(**{a: getattr(t, a) for a in names})
    for cls in _LOSSES:
        makers[getattr(tnn, cls.__name__)] = lambda cls=cls: _loss_from_torch(cls, t, where)
    maker = next((make for cls, make in makers.items() if _same_forward(t, cls)), None)
    try:
        out = maker() if maker is not None else _activation_from_torch(t, torch)
    except InvalidValueError as exc:  # an option nnblocks' layer does not have (Conv2d's padding_mode="reflect")
        raise InvalidValueError(f"from_torch: {where}: {exc}") from None
    if out is None:
        raise InvalidArgumentError(_not_convertible(t, where, "from_torch", "nnblocks.nn"))
    out.load_state_dict({k: v.detach().cpu().numpy() for k, v in t.state_dict().items()})
    for name, p in out.named_parameters():
        p.requires_grad = bool(t.get_parameter(name).requires_grad)
    return out


def _batch_norm_from_torch(t: Any, torch: Any, where: str) -> Module:
    kind = type(t).__name__
    if t.momentum is None:
        raise InvalidValueError(f"from_torch: {where} is {kind}(momentum=None) (a cumulative average of the "
                                "batch statistics), which nnblocks does not have; give it a momentum (0.1 is the "
                                "default)")
    return getattr(layers, kind)(t.num_features, eps=t.eps, momentum=t.momentum, affine=t.affine,
                                 track_running_stats=t.track_running_stats, dtype=_np_dtype(t, torch, where))


def _loss_from_torch(cls: type, t: Any, where: str) -> Module:
    if getattr(t, "label_smoothing", 0.0):
        raise InvalidValueError(f"from_torch: {where} uses label_smoothing, which nnblocks' {cls.__name__} does not "
                                "have")
    weight = getattr(t, "weight", None)
    if cls in (loss.CrossEntropyLoss, loss.NLLLoss):
        return cls(weight=None if weight is None else weight.detach().cpu().numpy(), reduction=t.reduction)
    return cls(reduction=t.reduction)
