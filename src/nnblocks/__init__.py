"""nnblocks: neural networks from their basic blocks, in Python and NumPy.

- ``nnblocks.fundamentals``: the first chapter by hand (plain arrays, finite differences, the chain rule).
- ``nnblocks.Tensor``, ``nnblocks.autograd`` and ``nnblocks.ops``: a reverse-mode autodiff engine (the tensor, the
  backward walk and grad mode, the ops: each one's forward beside its backward, registered once).
- ``nnblocks.nn``, ``nnblocks.optim``, ``nnblocks.data``, ``nnblocks.train``: the PyTorch-style API on top.

``import nnblocks as torch`` gives PyTorch's names at the top level, as ``torch`` has them: the tensor functions
(``torch.tensor``, ``torch.zeros``, ``torch.max``, ``torch.norm``...), the dtypes (``torch.float32``,
``torch.long``...), ``torch.device`` and ``torch.cuda``, ``torch.no_grad``, ``torch.manual_seed``, and the
subpackages ``torch.nn``, ``torch.optim`` and ``torch.utils.data``, imported here as PyTorch's ``__init__`` does.
"""
from __future__ import annotations


__version__ = "0.1.0"

# Importing nnblocks changes nothing process-wide (no allocator setting, no BLAS thread count): buffer reuse is the
# engine's own business (see nnblocks/_memory.py and docs/ARCHITECTURE.md, "Performance").

from nnblocks.errors import (
    BackwardError,
    CheckpointError,
    DataError,
    DeviceError,
    DTypeError,
    NNBlocksError,
    NotSupportedError,
    ShapeError,
)
from nnblocks.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from nnblocks.tensor import Tensor
from nnblocks.dtypes import NAMES as _DTYPE_NAMES, default_dtype, dtype, get_default_dtype, set_default_dtype
from nnblocks.devices import device
from nnblocks import cuda
from nnblocks.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from nnblocks.random import manual_seed
from nnblocks.ops.blas import get_num_threads, set_num_threads  # torch.set_num_threads: the engine's products only
from nnblocks.gradcheck import GradcheckError, GradcheckReport, gradcheck
from nnblocks.ops import return_types
from nnblocks.ops.reduce import norm
from nnblocks.ops import (
    add,
    amax,
    amin,
    argmax,
    argmin,
    cat,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    div,
    exp,
    flatten,
    gather,
    log,
    log_softmax,
    matmul,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    permute,
    relu,
    reshape,
    sigmoid,
    softmax,
    sort,
    sqrt,
    square,
    squeeze,
    stack,
    sub,
    tanh,
    topk,
    transpose,
    unique,
    unsqueeze,
    where,
)
from nnblocks import nn, optim, utils  # noqa: E402 - torch.nn, torch.optim, torch.utils.data as attributes
from nnblocks.serialization import load, save  # noqa: E402 - torch.save / torch.load

# Last, because they take builtins' names (nothing below may call the builtin abs, all, any, max, min, sum, bool,
# float, int or pow): the functions that shadow builtins, and PyTorch's dtype names (float32, float, long, bool...).
from nnblocks.ops import abs, all, any, max, min, pow, sum  # noqa: E402, A004

globals().update(_DTYPE_NAMES)
