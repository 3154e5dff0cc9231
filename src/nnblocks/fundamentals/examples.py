"""The chapter's two experiments as data: the 2-3-1 network and the single linear neuron.

Each function returns fresh arrays (inputs, outputs, weights), so nothing a caller does can change them.
``precision`` picks the dtypes:

- "chapter" (the default, faithful): exactly what the chapter's code builds. The weights are float32 arrays, but
  x and y are written ``np.array([[1, 1]])``, i.e. integer arrays, so NumPy promotes every product to float64: the
  forward pass, the loss and the gradient are float64, while each updated weight is rounded back to float32 when
  it is stored, and each nudged weight ``w + 1e-4`` is rounded to float32 too. This is what gives the chapter's
  initial loss 0.33455009.
- "float32": x and y as float32 too, so everything, the loss included, is float32 (initial loss 0.33455008).
- "float64": everything float64, starting from the decimal weights as printed (initial loss 0.33455011).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "LEARNING_RATES",
    "NETWORK_EPOCHS",
    "NETWORK_LR",
    "PRECISIONS",
    "STUDY_EPOCHS",
    "linear_neuron",
    "network_231",
]

PRECISIONS = ("chapter", "float32", "float64")

NETWORK_LR = 0.01
NETWORK_EPOCHS = 100
LEARNING_RATES = (0.01, 0.1, 1.0)
STUDY_EPOCHS = 10

# The chapter's initial weights for the 2-3-1 network, as printed there. W1 is printed one row per hidden unit
# (3 x 2) and transposed into the (inputs, hidden) = (2, 3) layout that ``x @ W1`` needs.
_W1_BY_HIDDEN_UNIT = [[-0.0053, 0.3793], [-0.5820, -0.5204], [-0.2723, 0.1896]]
_B1 = [-0.0140, 0.5607, -0.0628]
_W2 = [[0.1528], [-0.1745], [-0.1135]]
_B2 = [-0.5516]


def _dtypes(precision: str) -> tuple[type, type]:
    """(data dtype, weight dtype) for a precision name."""
    if precision == "chapter":
        return np.int64, np.float32
    if precision == "float32":
        return np.float32, np.float32
    if precision == "float64":
        return np.float64, np.float64
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def network_231(precision: str = "chapter") -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The chapter's network: x = [[1, 1]], y = [[0]], weights [W1 (2x3), b1 (3,), W2 (3x1), b2 (1,)]."""
    data_dtype, weight_dtype = _dtypes(precision)
    x = np.array([[1, 1]], dtype=data_dtype)
    y = np.array([[0]], dtype=data_dtype)
    weights = [
        np.array(_W1_BY_HIDDEN_UNIT, dtype=weight_dtype).T.copy(),
        np.array(_B1, dtype=weight_dtype),
        np.array(_W2, dtype=weight_dtype),
        np.array(_B2, dtype=weight_dtype),
    ]
    return x, y, weights


def linear_neuron(precision: str = "chapter") -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The learning-rate study: x = [[1], [2], [3], [4]], y = 3x, one neuron y = x W + b from W = 0, b = 0.

    (The chapter writes b as ``np.array([[0]])``, shape (1, 1); shape (1,) here broadcasts to the same numbers.)
    """
    data_dtype, weight_dtype = _dtypes(precision)
    x = np.array([[1], [2], [3], [4]], dtype=data_dtype)
    y = np.array([[3], [6], [9], [12]], dtype=data_dtype)
    weights = [np.zeros((1, 1), dtype=weight_dtype), np.zeros(1, dtype=weight_dtype)]
    return x, y, weights
