"""``summary(model, input)``: a layer-by-layer table of output shapes and parameter counts, in the manner of the
third-party ``torchsummary`` (torch-summary 1.4) package the book installs: ``from torchsummary import summary``
becomes ``from nnblocks.utils import summary``; ``summary(model, torch.zeros(1, 2))`` prints the table.

The layout is nnblocks' own (one row per sub-module, depth-first, the batch axis shown as -1); the numbers are
those of ``model.parameters()`` and of one forward pass run in eval mode without gradients (the modes are
restored after it, so batch norm's running statistics do not move).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.autograd import no_grad
from nnblocks.errors import InvalidArgumentError
from nnblocks.nn.module import Module
from nnblocks.tensor import Tensor

_WIDTHS = (40, 26, 12)


class ModelSummary:
    """What ``summary`` returns: the table (its ``str``/``repr``) and the counts."""

    def __init__(self, text: str, total_params: int, trainable_params: int) -> None:
        self.text, self.total_params, self.trainable_params = text, total_params, trainable_params

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _example_inputs(model: Module, inputs: tuple[Any, ...]) -> list[Tensor]:
    """Tensors as given; a shape (without the batch axis, as torchsummary's input_size) becomes a zero batch of 1."""
    if not inputs:
        raise InvalidArgumentError("summary(model, input): give an example input Tensor (e.g. nnblocks.zeros(1, 784)) "
                                   "or the shape of one sample (e.g. (784,))")
    dtype = next(iter(model.parameters()), Tensor(np.zeros(0, np.float32))).dtype
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif isinstance(x, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in x):
            out.append(Tensor(np.zeros((1, *x), dtype=dtype)))
        else:
            out.append(Tensor(x))
    return out


def _shape_of(output: Any) -> str:
    if isinstance(output, Tensor):
        return str([-1, *output.shape[1:]])
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_of(o) for o in output)
    return "--"


def _trace(model: Module, inputs: list[Tensor]) -> dict[int, str]:
    """Output shape of every sub-module during one eval-mode forward pass, by module id."""
    shapes: dict[int, str] = {}

    def record(module: Module, inputs: tuple, output: Any) -> None:  # returns None: the output stays as it is
        shapes.setdefault(id(module), _shape_of(output))

    handles = [m.register_forward_hook(record) for m in model.modules()]
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return shapes


def _row(*cells: str) -> str:
    return "".join(c.ljust(w) for c, w in zip(cells, _WIDTHS)).rstrip()


def summary(model: Module, *inputs: Any, print_table: bool = True) -> ModelSummary:
    """Print (unless ``print_table=False``) and return a table of ``model``'s layers for an example input."""
    if not isinstance(model, Module):
        raise InvalidArgumentError(f"summary: expected an nnblocks nn.Module, got a {type(model).__name__}")
    shapes = _trace(model, _example_inputs(model, inputs))
    rule = "=" * sum(_WIDTHS)
    lines = [rule, _row("Layer (type:depth-idx)", "Output Shape", "Param #"), rule]
    stack = [(m, 1, i + 1) for i, m in reversed(list(enumerate(model.children())))]
    while stack:
        module, depth, index = stack.pop()
        count = sum(p.numel() for p in module.parameters())
        name = "|    " * (depth - 1) + f"├─{type(module).__name__}: {depth}-{index}"
        lines.append(_row(name, shapes.get(id(module), "--"), f"{count:,}" if count else "--"))
        stack.extend((m, depth + 1, i + 1) for i, m in reversed(list(enumerate(module.children()))))
    total = model.num_parameters()
    trainable = model.num_parameters(trainable_only=True)
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    result = ModelSummary("\n".join(lines), total, trainable)
    if print_table:
        print(result)
    return result
