"""``to_onnx(model, path, input_shape)``: a chain of layers as an ONNX inference graph, built with the ``onnx`` package.

Each layer becomes the ONNX operator that computes the same thing at inference time (eval mode):

==================  ==========================================================================================
nnblocks            ONNX
==================  ==========================================================================================
Linear              Gemm(x, W, b, transB=1): y = x W^T + b, with W stored (out, in) as in nnblocks and PyTorch
BatchNorm1d         BatchNormalization with the running mean and variance (eval mode), eps, gamma and beta
Dropout, Identity   nothing (dropout is off at inference)
Flatten             Flatten(axis=1) (other start/end dims: Reshape to the traced shape)
ReLU, LeakyReLU,    Relu, LeakyRelu(alpha=negative_slope), Sigmoid, Tanh, Softmax(axis=dim), LogSoftmax(axis=dim)
Sigmoid, Tanh,
Softmax, LogSoftmax
==================  ==========================================================================================

The model must be such a chain: an ``nn.Sequential`` (or ``nn.MLP``), possibly nested. A model with its own
``forward()`` is Python code and is refused (write it as a Sequential). The graph's input is ``input`` of shape
``(batch, *input_shape)`` with a free batch size, its output ``output``; float32 models give a float32 graph, float64
ones a double graph. ``input_shift`` / ``input_divisor`` put the training's input scaling in front of the network,
``(x - shift) / divisor``, so the ONNX model takes the raw features. Opset 17, ONNX IR version 8 (read by any
onnxruntime since 1.12).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks.autograd import no_grad
from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError
from nnblocks.nn import layers
from nnblocks.nn.module import Module
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


def chain(model: Module, where: str = "model") -> list[tuple[str, Module]]:
    """The leaf layers of a (nested) Sequential in call order, with their dotted names."""
    if isinstance(model, layers.Sequential) and type(model).forward is layers.Sequential.forward:
        found: list[tuple[str, Module]] = []
        for name, child in model.named_children():
            found += chain(child, f"{where}.{name}")
        return found
    if type(model).forward is not getattr(_supported_class(model), "forward", None):
        raise InvalidArgumentError(
            f"to_onnx: {where} is a {type(model).__name__}, which has no ONNX translation here; to_onnx exports a "
            "chain of Linear, BatchNorm1d, Dropout, Flatten, Identity and activation layers (ReLU, LeakyReLU, "
            "Sigmoid, Tanh, Softmax, LogSoftmax) in an nn.Sequential; a model with its own forward() must be "
            "written as a Sequential first")
    if isinstance(model, layers.BatchNorm1d) and not model.track_running_stats:
        raise InvalidValueError(f"to_onnx: {where} is BatchNorm1d(track_running_stats=False), which normalises with "
                                "each batch's own statistics even in eval mode; ONNX inference needs running "
                                "statistics")
    return [(where, model)]


def _supported_class(m: Module) -> type | None:
    for cls in (layers.Linear, layers.BatchNorm1d, layers.Dropout, layers.Flatten, layers.Identity):
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
    elif isinstance(m, layers.BatchNorm1d):
        n = m.num_features
        scale = m.weight.data if m.weight is not None else np.ones(n)
        shift = m.bias.data if m.bias is not None else np.zeros(n)
        stats = [graph.constant(f"{name}.{k}", v) for k, v in (("weight", scale), ("bias", shift),
                 ("running_mean", m.running_mean), ("running_var", m.running_var))]
        graph.node("BatchNormalization", stats, name, epsilon=float(m.eps))
    elif isinstance(m, layers.Flatten):
        if m.start_dim == 1 and m.end_dim in (-1, len(in_shape) - 1):
            graph.node("Flatten", [], name, axis=1)
        elif m.start_dim % len(in_shape) == 0:
            raise InvalidValueError(f"to_onnx: {name} is Flatten(start_dim=0), which merges the batch axis")
        else:  # 0 keeps the (free) batch size, the rest is the traced shape
            graph.node("Reshape", [graph.constant(f"{name}.shape", [0, *out_shape[1:]], np.int64)], name)
    elif isinstance(m, layers.Activation):
        options = {"alpha": float(m.negative_slope)} if kind == "LeakyReLU" else \
            {"axis": int(m.dim)} if kind in ("Softmax", "LogSoftmax") else {}
        graph.node(_ACTIVATIONS[kind], [], name, **options)
    # Dropout and Identity: nothing at inference


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
