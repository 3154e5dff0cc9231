"""Modules, parameters, layers, activations, losses and initialisation, with PyTorch's names and shapes.

The activation modules (``nn.ReLU``, ``nn.Sigmoid``, ``nn.LeakyReLU``...) are made from the activations registered in
``nnblocks.ops`` (see ``layers.Activation``), so one registered op is also a module here.
"""
from typing import Any

from nnblocks.nn import functional, init
from nnblocks.nn.containers import ModuleDict, ModuleList
from nnblocks.nn.layers import (
    Activation,
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    Sequential,
    activation_modules,
)
# chapter 4: convolutions (keep these lines together)
from nnblocks.nn.layers import BatchNorm2d, Dropout2d, Unflatten
from nnblocks.nn.conv import Conv2d
from nnblocks.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from nnblocks.nn.cnn import CNN
from nnblocks.nn.mlp import MLP, load_chapter_weights
from nnblocks.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from nnblocks.nn.module import IncompatibleKeys, Module, Parameter, RemovableHandle


def __getattr__(name: str) -> Any:
    """``nn.ReLU``, ``nn.Softmax``...: looked up among the registered activations (one registered later is here too)."""
    modules = activation_modules()
    if name in modules:
        return modules[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *activation_modules()])


__all__ = [
    "functional", "init", "Module", "Parameter", "IncompatibleKeys", "RemovableHandle", "ModuleList", "ModuleDict",
    "Linear", "Sequential", "Flatten", "Identity", "Dropout",
    "BatchNorm1d", "Activation", *activation_modules(),
    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "MLP", "load_chapter_weights",
    "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d", "Dropout2d", "Unflatten", "CNN",
]
