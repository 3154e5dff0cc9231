"""Differentiable operations: the op classes, and their functional API, ``nnblocks.ops.<name>``.

Each op is a small class whose forward and backward sit side by side, with a declaration of what it is (``Function``'s
``kind``, ``formula``, ``derivatives``), in ``arithmetic``, ``reduce``, ``shape``, ``select``, ``activation``,
``loss`` and ``batchnorm``. Beside them, registered the same way: conversions (``convert``: ``t.float()``, ``t.to(...)``),
in-place methods (``inplace``: ``t.add_()``, ``t.zero_()``) and questions without gradients (``logical``:
``all``, ``any``, ``unique``). ``register`` (``ops.registry``) makes an op public: importing those modules
registers every op, which puts
its functional form here (``nnblocks.ops.sigmoid(t)``) and its method on ``Tensor`` (``t.sigmoid()``).

Compositions of other ops (``flatten``, ``unsqueeze``, ``squeeze``, ``transpose``, ``stack``) register the same way
and carry no backward code of their own: their gradient comes from the primitives they are made of.
"""
from nnblocks.ops.base import KINDS, Function, as_tensor, unbroadcast
from nnblocks.ops.registry import Registered, lookup, register, registered, unregister
from nnblocks.ops import activation, arithmetic, batchnorm, loss, reduce, shape  # noqa: F401 - importing registers the ops
from nnblocks.ops import conv, pool  # noqa: F401 - convolution and pooling (chapter 4)
from nnblocks.ops import convert, inplace, logical, return_types, select  # noqa: F401 - and the methods over them
