"""Modules, parameters, layers, activations, losses and initialisation, with PyTorch's names and shapes."""
from nnblocks.nn import functional, init
from nnblocks.nn.layers import (
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from nnblocks.nn.mlp import MLP, load_chapter_weights
from nnblocks.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from nnblocks.nn.module import Module, Parameter

__all__ = [
    "functional", "init", "Module", "Parameter", "Linear", "Sequential", "Flatten", "Identity", "Dropout",
    "BatchNorm1d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "MLP", "load_chapter_weights",
]
