"""nnblocks: neural networks from their basic blocks, in Python and NumPy.

- ``nnblocks.fundamentals``: the first chapter by hand (plain arrays, finite differences, the chain rule).
- ``nnblocks.Tensor``, ``nnblocks.autograd`` and ``nnblocks.ops``: a reverse-mode autodiff engine (the tensor, the
  backward walk and grad mode, the ops: each one's forward beside its backward, registered once).
- ``nnblocks.nn``, ``nnblocks.optim``, ``nnblocks.data``, ``nnblocks.train``: the PyTorch-style API on top.
"""
from __future__ import annotations

__version__ = "0.1.0"

from nnblocks._memory import keep_freed_memory

keep_freed_memory()  # see nnblocks/_memory.py: large NumPy temporaries are reused instead of page-faulted back in

from nnblocks.errors import BackwardError, CheckpointError, DataError, DTypeError, NNBlocksError, ShapeError
from nnblocks.autograd import enable_grad, is_grad_enabled, no_grad
from nnblocks.tensor import (
    Tensor,
    arange,
    default_dtype,
    get_default_dtype,
    ones,
    rand,
    randn,
    set_default_dtype,
    tensor,
    zeros,
)
from nnblocks.random import manual_seed
from nnblocks.gradcheck import GradcheckError, GradcheckReport, gradcheck
from nnblocks.ops import (
    cat,
    clamp,
    clip,
    concatenate,
    exp,
    log,
    matmul,
    maximum,
    minimum,
    sigmoid,
    softmax,
    sqrt,
    stack,
    tanh,
    where,
)

# ---- issue 12, the library surface: torch.save / torch.load (nnblocks.serialization) --------------------------------
from nnblocks.serialization import load, save  # noqa: E402
