"""``to_onnx(model, path, input_shape)``: a chain of layers as an ONNX inference graph, built with the ``onnx`` package.

Each layer becomes the ONNX operator that computes the same thing at inference time (eval mode):

==================  ==========================================================================================
nnblocks            ONNX
==================  ==========================================================================================
Linear              Gemm(x, W, b, transB=1): y = x W^T + b, with W stored (out, in) as in nnblocks and PyTorch
BatchNorm1d/2d      BatchNormalization with the running mean and variance (eval mode), eps, gamma and beta
Dropout, Dropout2d, nothing (dropout is off at inference)
Identity
Flatten             Flatten(axis=1) (other start/end dims: Reshape to the traced shape)
Unflatten           Reshape to the traced shape (the batch axis kept free)
Conv2d              Conv(x, W, b) with kernel_shape, strides, dilations, group and pads [top, left, bottom, right]
                    ("same": PyTorch's, the odd pixel at the bottom/right)
MaxPool2d           MaxPool (kernel_shape, strides, pads, dilations, ceil_mode)
AvgPool2d           AveragePool (kernel_shape, strides, pads, ceil_mode, count_include_pad)
AdaptiveAvgPool2d   GlobalAveragePool to 1x1; AveragePool with kernel = stride = input / output size when the
                    output size divides the input's (other sizes have windows of unequal size: refused)
ReLU, LeakyReLU,    Relu, LeakyRelu(alpha=negative_slope), Sigmoid, Tanh, Softmax(axis=dim), LogSoftmax(axis=dim)
Sigmoid, Tanh,
Softmax, LogSoftmax
==================  ==========================================================================================

The model must be such a chain: an ``nn.Sequential`` (or ``nn.MLP``, ``nn.CNN``), possibly nested. ``nn.CNN``'s view of
flat rows (N, C*H*W) as images is a Reshape in front of its layers when the traced input is flat (its input may be rows
or images). A model with its own ``forward()`` is Python code and is refused (write it as a Sequential). The graph's
input is ``input`` of shape ``(batch, *input_shape)`` with a free batch size, its output ``output``; float32 models give
a float32 graph, float64 ones a double graph (valid ONNX, but onnxruntime's CPU provider has no double Conv, AveragePool
or GlobalAveragePool: export a CNN for it with ``.float()``). ``input_shift`` / ``input_divisor`` put the training's
input scaling in front of the network, ``(x - shift) / divisor``, so the ONNX model takes the raw features. Opset 17,
ONNX IR version 8 (read by any onnxruntime since 1.12).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks.autograd import no_grad
from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError
from nnblocks.nn import layers, pooling
from nnblocks.nn.cnn import CNN
from nnblocks.nn.conv import Conv2d
from nnblocks.nn.module import Module
from nnblocks.ops.conv import conv_padding
from nnblocks.ops.windows import pair
from nnblocks.tensor import Tensor

OPSET, IR_VERSION = 17, 8
_ACTIVATIONS = {"ReLU": "Relu", "LeakyReLU": "LeakyRelu", "Sigmoid": "Sigmoid", "Tanh": "Tanh",
                "Softmax": "Softmax", "LogSoftmax": "LogSoftmax"}


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('to_onnx needs the onnx package: pip install "nnblocks[export]" (or pip install onnx)') \
            from exc
    return onnx


class _ImageView(Module):
    """``nn.CNN``'s first step, as a layer of the chain: flat rows (N, C*H*W) viewed as images (N, C, H, W); images
    pass as they are."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2 and x.shape[1] == int(np.prod(self.input_shape)):
            return x.reshape(x.shape[0], *self.input_shape)
        return x


_LEAVES = (layers.Linear, layers.BatchNorm1d, layers.BatchNorm2d, layers.Dropout, layers.Dropout2d, layers.Flatten,
           layers.Unflatten, layers.Identity, Conv2d, pooling.MaxPool2d, pooling.AvgPool2d,
           pooling.AdaptiveAvgPool2d, _ImageView)


def chain(model: Module, where: str = "model") -> list[tuple[str, Module]]:
    """The leaf layers of a (nested) Sequential in call order, with their dotted names (a CNN's image view first)."""
    sequential = type(model).forward in (layers.Sequential.forward, CNN.forward)
    if isinstance(model, layers.Sequential) and sequential:
        found: list[tuple[str, Module]] = [(f"{where}.view", _ImageView(model.input_shape))] \
            if isinstance(model, CNN) else []
        for name, child in model.named_children():
            found += chain(child, f"{where}.{name}")
        return found
    if type(model).forward is not getattr(_supported_class(model), "forward", None):
        raise InvalidArgumentError(
            f"to_onnx: {where} is a {type(model).__name__}, which has no ONNX translation here; to_onnx exports a "
            "chain of Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d/2d, Dropout/2d, "
            "Flatten, Unflatten, Identity and activation layers (ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, "
            "LogSoftmax) in an nn.Sequential (or nn.MLP, nn.CNN); a model with its own forward() must be written "
            "as a Sequential first")
    if isinstance(model, (layers.BatchNorm1d, layers.BatchNorm2d)) and not model.track_running_stats:
        raise InvalidValueError(f"to_onnx: {where} is {type(model).__name__}(track_running_stats=False), which "
                                "normalises with each batch's own statistics even in eval mode; ONNX inference "
                                "needs running statistics")
    _check_pooling(model, where)
    return [(where, model)]


def _check_pooling(m: Module, where: str) -> None:
    """Pooling options ONNX's operators do not have."""
    if isinstance(m, pooling.MaxPool2d) and m.return_indices:
        raise InvalidValueError(f"to_onnx: {where} is MaxPool2d(return_indices=True), whose pair of outputs does "
                                "not chain; export the model with return_indices=False")
    if isinstance(m, pooling.AvgPool2d) and m.divisor_override is not None:
        raise InvalidValueError(f"to_onnx: {where} is AvgPool2d(divisor_override={m.divisor_override}), which "
                                "ONNX's AveragePool does not have")


def _supported_class(m: Module) -> type | None:
    for cls in _LEAVES:
        if isinstance(m, cls):
            return cls
    if isinstance(m, layers.Activation) and type(m).__name__ in _ACTIVATIONS:
        return layers.Activation
    return None


class _Graph:
    """The nodes and initializers being built, and the name of the value flowing out of the last one."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.current = "input"

    def constant(self, name: str, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype or self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, extra_inputs: list[str], name: str, **attributes: Any) -> None:
        out = f"{name}.out"
        self.nodes.append(self.onnx.helper.make_node(op, [self.current, *extra_inputs], [out], name=name,
                                                     **attributes))
        self.current = out


def _add_layer(graph: _Graph, name: str, m: Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    kind = type(m).__name__
    if isinstance(m, layers.Linear):
        inputs = [graph.constant(f"{name}.weight", m.weight.data)]
        if m.bias is not None:
            inputs.append(graph.constant(f"{name}.bias", m.bias.data))
        graph.node("Gemm", inputs, name, transB=1)
    elif isinstance(m, (layers.BatchNorm1d, layers.BatchNorm2d)):
        n = m.num_features
        scale = m.weight.data if m.weight is not None else np.ones(n)
        shift = m.bias.data if m.bias is not None else np.zeros(n)
        stats = [graph.constant(f"{name}.{k}", v) for k, v in (("weight", scale), ("bias", shift),
                 ("running_mean", m.running_mean), ("running_var", m.running_var))]
        graph.node("BatchNormalization", stats, name, epsilon=float(m.eps))
    elif isinstance(m, layers.Flatten) and m.start_dim == 1 and m.end_dim in (-1, len(in_shape) - 1):
        graph.node("Flatten", [], name, axis=1)
    elif isinstance(m, layers.Flatten) and m.start_dim % len(in_shape) == 0:
        raise InvalidValueError(f"to_onnx: {name} is Flatten(start_dim=0), which merges the batch axis")
    elif isinstance(m, (layers.Flatten, layers.Unflatten, _ImageView)):
        if in_shape != out_shape:  # 0 keeps the (free) batch size, the rest is the traced shape
            graph.node("Reshape", [graph.constant(f"{name}.shape", [0, *out_shape[1:]], np.int64)], name)
    elif isinstance(m, Conv2d):
        _add_conv(graph, name, m)
    elif isinstance(m, (pooling.MaxPool2d, pooling.AvgPool2d, pooling.AdaptiveAvgPool2d)):
        _add_pooling(graph, name, m, in_shape, out_shape)
    elif isinstance(m, layers.Activation):
        options = {"alpha": float(m.negative_slope)} if kind == "LeakyReLU" else \
            {"axis": int(m.dim)} if kind in ("Softmax", "LogSoftmax") else {}
        graph.node(_ACTIVATIONS[kind], [], name, **options)
    # Dropout, Dropout2d and Identity: nothing at inference


def _add_conv(graph: _Graph, name: str, m: Conv2d) -> None:
    top, bottom, left, right = conv_padding(m.padding, m.kernel_size, m.dilation, m.stride)
    inputs = [graph.constant(f"{name}.weight", m.weight.data)]
    if m.bias is not None:
        inputs.append(graph.constant(f"{name}.bias", m.bias.data))
    graph.node("Conv", inputs, name, kernel_shape=list(m.kernel_size), strides=list(m.stride),
               dilations=list(m.dilation), group=m.groups, pads=[top, left, bottom, right])


def _add_pooling(graph: _Graph, name: str, m: Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    if isinstance(m, pooling.AdaptiveAvgPool2d):
        (h, w), (oh, ow) = in_shape[2:], out_shape[2:]
        if (oh, ow) == (1, 1):
            graph.node("GlobalAveragePool", [], name)
        elif h % oh or w % ow:
            raise InvalidValueError(f"to_onnx: {name} is AdaptiveAvgPool2d from {h}x{w} to {oh}x{ow}, whose windows "
                                    "differ in size (the output size does not divide the input's), which ONNX's "
                                    "AveragePool cannot express; use an output size that divides the input's")
        else:  # equal windows: a plain average pooling
            graph.node("AveragePool", [], name, kernel_shape=[h // oh, w // ow], strides=[h // oh, w // ow])
        return
    kernel, stride = pair(name, "kernel_size", m.kernel_size), pair(name, "stride", m.stride)
    ph, pw = pair(name, "padding", m.padding, minimum=0)
    dilation = pair(name, "dilation", getattr(m, "dilation", 1))
    if m.ceil_mode:  # ONNX's output size: ceil((n + 2 p - d (k - 1) - 1) / s) + 1, with no exception
        onnx_size = tuple(-(-(n + 2 * p - d * (k - 1) - 1) // st) + 1
                          for n, p, d, k, st in zip(in_shape[2:], (ph, pw), dilation, kernel, stride))
        if onnx_size != tuple(out_shape[2:]):
            raise InvalidValueError(
                f"to_onnx: {name} is {type(m).__name__}(ceil_mode=True) on {in_shape[2]}x{in_shape[3]} inputs, where "
                f"PyTorch (and nnblocks) drop a last window that would start in the padding ({out_shape[2]}x"
                f"{out_shape[3]} outputs) but ONNX's pooling keeps it ({onnx_size[0]}x{onnx_size[1]}); use "
                "ceil_mode=False, or less padding")
    common = {"kernel_shape": list(kernel), "strides": list(stride), "pads": [ph, pw, ph, pw],
              "ceil_mode": int(m.ceil_mode)}
    if isinstance(m, pooling.MaxPool2d):
        graph.node("MaxPool", [], name, dilations=list(dilation), **common)
    else:
        graph.node("AveragePool", [], name, count_include_pad=int(m.count_include_pad), **common)


def to_onnx(model: Module, path: str | os.PathLike, input_shape: tuple[int, ...] | int, *,
            input_shift: Any = None, input_divisor: Any = None, opset: int = OPSET) -> Path:
    """Write ``model`` (a chain of layers, see the module doc) as an ONNX file at ``path``; returns the path.

    ``input_shape`` is one sample's shape, without the batch axis (``(784,)``); the file's batch size is free.
    The graph computes what ``model.eval()`` computes; the model's own modes are left as they were.
    """
    onnx = _import_onnx()
    if not isinstance(model, Module):
        raise InvalidArgumentError(f"to_onnx: expected an nnblocks nn.Module, got a {type(model).__name__}")
    if not 15 <= int(opset) <= onnx.defs.onnx_opset_version():
        raise InvalidValueError(f"to_onnx: opset {opset} is outside 15..{onnx.defs.onnx_opset_version()}")
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(int(d) for d in input_shape)
    layers_ = chain(model)
    params = list(model.parameters())
    dtype = params[0].dtype if params else np.dtype(np.float32)
    if dtype not in (np.float32, np.float64):
        raise InvalidValueError(f"to_onnx: the model's weights are {dtype}; convert it with .float() first")
    graph = _Graph(onnx, dtype)
    if input_shift is not None:
        graph.node("Sub", [graph.constant("input_shift", input_shift)], "scale_shift")
    if input_divisor is not None:
        graph.node("Div", [graph.constant("input_divisor", input_divisor)], "scale_divide")
    probe = Tensor(np.zeros((1, *shape), dtype=dtype))
    with no_grad():
        for name, layer in layers_:
            before = probe.shape
            try:
                probe = _eval_forward(layer, probe)
            except Exception as exc:  # the layer's own message says what does not fit
                raise ShapeError(f"to_onnx: input_shape {shape} does not fit the model: {name} "
                                 f"({type(layer).__name__}) on an input of shape {before}: {exc}") from None
            _add_layer(graph, name, layer, before, probe.shape)
    graph.nodes.append(onnx.helper.make_node("Identity", [graph.current], ["output"], name="output"))
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    inputs = [onnx.helper.make_tensor_value_info("input", elem, ["batch", *shape])]
    outputs = [onnx.helper.make_tensor_value_info("output", elem, ["batch", *probe.shape[1:]])]
    proto = onnx.helper.make_model(onnx.helper.make_graph(graph.nodes, "nnblocks", inputs, outputs,
                                                          graph.initializers),
                                   opset_imports=[onnx.helper.make_opsetid("", int(opset))], producer_name="nnblocks")
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    return _write(Path(path), proto.SerializeToString())


def _eval_forward(layer: Module, x: Tensor) -> Tensor:
    mode = layer.training
    object.__setattr__(layer, "training", False)
    try:
        return layer(x)
    finally:
        object.__setattr__(layer, "training", mode)


def _write(path: Path, data: bytes) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
