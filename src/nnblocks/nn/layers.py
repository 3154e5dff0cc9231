"""Layers: Linear, Sequential, Flatten, Unflatten, Dropout, Dropout2d, BatchNorm1d, BatchNorm2d, and the activation functions as modules (``Activation``,
one subclass per activation registered in ``nnblocks.ops``).

Shapes and defaults are PyTorch's: ``Linear.weight`` is (out_features, in_features), initialised uniformly in
+-1/sqrt(in_features) (PyTorch's default), inputs are (batch, features).
"""
from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from typing import Any, Callable, Iterator

import numpy as np

from nnblocks import ops
from nnblocks.errors import InvalidArgumentError, InvalidValueError, ShapeError
from nnblocks.nn import functional as F
from nnblocks.nn import init
from nnblocks.nn.module import Module, Parameter
from nnblocks.ops.registry import registered
from nnblocks.random import SeedLike, get_generator
from nnblocks.tensor import Tensor, get_default_dtype


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features).

    Initialised as PyTorch does: W and b uniform in [-1/sqrt(in_features), 1/sqrt(in_features)]
    (``kaiming_uniform_(a=sqrt(5))`` works out to exactly that bound). ``seed`` makes the initialisation reproducible.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None,
                 seed: SeedLike = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise InvalidValueError(f"Linear: {name} must be a whole number >= 0, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = dtype or get_default_dtype()
        rng = get_generator(seed)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), seed=rng)
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound, seed=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 3), Sigmoid(), Linear(3, 1))``.

    Sub-modules are named '0', '1', ... (or by an OrderedDict's keys), so state_dict keys match PyTorch's.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: Any) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*items[index])
        return items[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self


class Flatten(Module):
    """Merge all axes after the batch axis: (N, 28, 28) -> (N, 784)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: ``Unflatten(1, (1, 28, 28))`` turns (N, 784) into (N, 1, 28, 28)."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        return ops.reshape(x, x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class Dropout(Module):
    """In training, zero each element with probability p and scale the survivors by 1/(1-p) ("inverted dropout", so
    nothing changes at evaluation time); in eval mode, the identity."""

    def __init__(self, p: float = 0.5, seed: SeedLike = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise InvalidValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.rng = get_generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, seed=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Normalise each feature (channel) over the batch, then scale and shift:
    y = gamma * (x - mean) / sqrt(var + eps) + beta.

    Training: mean and (biased) variance of the batch are used, and the running statistics are updated as
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance, as PyTorch does.
    Evaluation: the running statistics are used, so one sample's output does not depend on the rest of its batch.
    The subclasses differ only in the inputs they take (``dims``); the maths is ``F.batch_norm``'s.
    """

    dims: tuple[int, ...] = ()
    shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None) -> None:
        super().__init__()
        dtype = dtype or get_default_dtype()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:  # as PyTorch: no weight/bias at all, so state_dict keys match torch's
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.dims:
            raise ShapeError(f"{type(self).__name__}({self.num_features}): expected input of shape "
                             f"{self.shape_text.format(C=self.num_features)}, got {x.shape}")
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(x, self._buffers.get("running_mean"), self._buffers.get("running_var"),
                            self.weight, self.bias, training=use_batch, momentum=self.momentum, eps=self.eps,
                            module=self if self.training and self.track_running_stats else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of features (N, C) or of sequences (N, C, L): one mean and variance per feature C."""

    dims, shape_text = (2, 3), "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of images (N, C, H, W): one mean, variance, gamma and beta per channel, shared by all its pixels
    (the statistics are taken over N * H * W values)."""

    dims, shape_text = (4,), "(N, {C}, H, W)"


class Dropout2d(Module):
    """In training, zero whole channels of (N, C, H, W) images with probability p (one draw per image and channel)
    and scale the kept ones by 1/(1-p); in eval mode, the identity. Neighbouring pixels of a feature map are strongly
    correlated, so dropping single pixels regularises little: dropping a whole map does."""

    def __init__(self, p: float = 0.5, seed: SeedLike = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise InvalidValueError(f"Dropout2d: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.rng = get_generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, seed=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---- activations as modules: one per registered activation op ------------------------------------------------------
class Activation(Module):
    """An activation op as a module (PyTorch's ``nn.ReLU``, ``nn.LeakyReLU(negative_slope=0.01)``, ``nn.Softmax(dim)``).

    They are not written out one by one: ``activation_modules()`` makes a subclass for every op registered in
    ``nnblocks.ops`` with kind "activation", named after the op class. Its constructor takes the op's options (the
    functional form's, with PyTorch's names and defaults), ``forward`` applies the op, and the repr shows the options.
    """

    function: Callable[..., Tensor]  # the op's functional form, nnblocks.ops.<name>
    options = inspect.Signature()  # its parameters after the input
    option_names: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        try:
            bound = self.options.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(f"{type(self).__name__}: {exc}") from None
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            setattr(self, name, value)

    def forward(self, x: Tensor) -> Tensor:
        if not self.option_names:  # ReLU, Sigmoid, Tanh: skipping the empty dict saves ~0.5 us a call
            return self.function(x)
        return self.function(x, **{name: getattr(self, name) for name in self.option_names})

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name in self.option_names)


_ACTIVATION_CLASSES: dict[type, type[Activation]] = {}  # op class -> its module class, made once (isinstance works)


def activation_modules() -> dict[str, type[Activation]]:
    """The module class of every registered activation, by name (``"ReLU"`` -> ``nn.ReLU``), in registration order."""
    modules = {}
    for entry in registered("activation"):
        if entry.op not in _ACTIVATION_CLASSES:
            options = list(inspect.signature(entry.function).parameters.values())[1:]
            _ACTIVATION_CLASSES[entry.op] = type(entry.op.__name__, (Activation,), {
                "__doc__": entry.op.__doc__, "__module__": "nnblocks.nn", "__qualname__": entry.op.__name__,
                "function": staticmethod(entry.function), "options": inspect.Signature(options),
                "option_names": tuple(p.name for p in options)})
        modules[entry.op.__name__] = _ACTIVATION_CLASSES[entry.op]
    return modules
