"""MLP: the one multilayer-perceptron builder every entry point uses (``nnblocks train``, the experiments, the
playground, the benchmarks, ``nnblocks explain``), and the bridge from the chapter's hand-written weights.

One documented layer order, the book's (chapter 3)::

    [Dropout(p)] -> Linear -> [BatchNorm1d] -> activation      for each hidden width
    [Dropout(p)] -> Linear                                      to the outputs

Dropout sits *before* every Linear layer, as in the book's dropout model (``nn.Dropout(0.25), nn.Linear(784, 1000),
nn.ReLU(), nn.Dropout(0.25), nn.Linear(1000, 10)``): the inputs are dropped too, and a hidden layer's dropout acts
on the activations the next Linear reads (the same as "Dropout after the activation" for every layer but the first).
Batch norm sits between the Linear layer and its activation, as in the book's batch-norm model.

An ``MLP`` *is* a ``Sequential`` (state_dict keys ``0.weight``, ``2.bias``... as PyTorch's ``nn.Sequential`` of the
same layers), so it indexes, iterates, saves and loads like one.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.nn import layers
from nnblocks.nn.module import Module
from nnblocks.ops.registry import registered
from nnblocks.random import SeedLike, get_generator


class _HiddenActivations(Mapping[str, type[Module]]):
    """Name -> module class of every activation a hidden layer can take, read from the op registry on each use (so one
    registered later is there too): the elementwise activations, those that declare a derivative per element
    (softmax and log-softmax mix a layer's units: they end a network, not a hidden layer), and "linear", no
    non-linearity (the playground's and the chapter's "linear activation"), an Identity that keeps every hidden
    block the same shape."""

    def _table(self) -> dict[str, type[Module]]:
        modules = layers.activation_modules()
        table = {e.name: modules[e.op.__name__] for e in registered("activation") if any(e.op.derivatives)}
        return {**table, "linear": layers.Identity}

    def __getitem__(self, name: str) -> type[Module]:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


ACTIVATIONS: Mapping[str, type[Module]] = _HiddenActivations()


def activation_module(activation: Any) -> Module:
    """A fresh activation module from a name (``"relu"``, ``"tanh"``...), a Module class, or a Module to copy."""
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]()
        except KeyError:
            raise InvalidValueError(f"MLP: unknown activation {activation!r}; choose from "
                                    f"{', '.join(ACTIVATIONS)} (or pass a Module class)") from None
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    raise InvalidValueError(f"MLP: activation must be a name or a Module class, got {activation!r}")


class MLP(layers.Sequential):
    """``MLP([784, 1000, 10])``: Linear 784->1000, ReLU, Linear 1000->10 (see the module docstring for the order).

    Args:
        sizes: widths from the inputs to the outputs; ``[n_in, n_out]`` alone is logistic (or linear) regression.
        activation: one name for every hidden layer, or a sequence with one per hidden layer (``"relu"``,
            ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"``, ``"linear"``), or a Module class.
        dropout: probability of the Dropout before each Linear layer (0: no Dropout modules at all).
        batchnorm: a BatchNorm1d between each hidden Linear layer and its activation.
        hidden_bias: False drops the bias of the hidden Linear layers (redundant before a batch norm, which
            subtracts the batch mean anyway); the output layer keeps its bias.
        seed: the Linear layers draw their initial weights, in order, from this one generator (int or Generator;
            None: the global one). ``dropout_seed``: the generator all Dropout masks come from, so adding dropout
            does not change the initial weights.
    """

    def __init__(self, sizes: Sequence[int], activation: Any = "relu", dropout: float = 0.0,
                 batchnorm: bool = False, hidden_bias: bool = True, dtype: Any = None, seed: SeedLike = None,
                 dropout_seed: SeedLike = None) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise InvalidValueError(f"MLP: sizes needs at least the input and output widths, got {sizes}")
        n_hidden = len(sizes) - 2
        acts = list(activation) if isinstance(activation, (list, tuple)) else [activation] * n_hidden
        if len(acts) != n_hidden:
            raise InvalidValueError(f"MLP: {len(acts)} activations given for {n_hidden} hidden layers {sizes[1:-1]}")
        if not 0 <= dropout < 1:
            raise InvalidValueError(f"MLP: dropout must be a probability in [0, 1), got {dropout}")
        init_rng = get_generator(seed)
        mask_rng = get_generator(dropout_seed)
        modules: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            hidden = i < n_hidden
            if dropout:
                modules.append(layers.Dropout(dropout, seed=mask_rng))
            modules.append(layers.Linear(n_in, n_out, bias=hidden_bias or not hidden, dtype=dtype, seed=init_rng))
            if hidden:
                if batchnorm:
                    modules.append(layers.BatchNorm1d(n_out, dtype=dtype))
                modules.append(activation_module(acts[i]))
        super().__init__(*modules)
        self.sizes = sizes

    @classmethod
    def from_chapter_weights(cls, weights: Sequence[np.ndarray], activation: Any = "sigmoid") -> "MLP":
        """The chapter's network ``[W1, b1, W2, b2, ...]`` (``fundamentals``' layout) as an MLP with those weights,
        in their dtype: hidden layers take ``activation``, the output is linear (as ``fundamentals.feed_forward``)."""
        weights = [np.asarray(w) for w in weights]
        if len(weights) < 2 or len(weights) % 2:
            raise ShapeError(f"MLP.from_chapter_weights: expected [W1, b1, W2, b2, ...], got {len(weights)} arrays")
        sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights[0::2] if w.ndim == 2]
        model = cls(sizes, activation=activation, dtype=weights[0].dtype, seed=0)
        load_chapter_weights(model, weights)
        return model


def load_chapter_weights(model: Module, weights: Sequence[np.ndarray]) -> Module:
    """Copy the chapter's ``[W1, b1, W2, b2, ...]`` into the model's Linear layers, in order.

    The chapter stores each W as (inputs, outputs), so that ``h = x @ W + b``; ``nn.Linear`` stores PyTorch's
    (out_features, in_features) and computes ``x @ W^T + b``: each W is copied transposed.
    """
    linears = [m for m in model.modules() if isinstance(m, layers.Linear)]
    if len(weights) != 2 * len(linears):
        raise ShapeError(f"load_chapter_weights: the model has {len(linears)} Linear layers, which take "
                         f"{2 * len(linears)} arrays [W1, b1, ...]; got {len(weights)}")
    for k, linear in enumerate(linears):
        w, b = np.asarray(weights[2 * k]), np.asarray(weights[2 * k + 1])
        if w.shape != (linear.in_features, linear.out_features) or b.size != linear.out_features:
            raise ShapeError(f"load_chapter_weights: layer {k + 1} is Linear({linear.in_features}, "
                             f"{linear.out_features}), which takes W of shape ({linear.in_features}, "
                             f"{linear.out_features}) and {linear.out_features} biases; got W {w.shape}, b {b.shape}")
        linear.weight.data[...] = w.T
        if linear.bias is not None:
            linear.bias.data[...] = b.reshape(-1)
    return model
