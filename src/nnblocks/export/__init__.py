"""The way back out of nnblocks: the same model in PyTorch (``to_torch``, and ``from_torch`` the way in) or as an
ONNX file for deployment (``to_onnx``; on the command line ``nnblocks export CKPT --onnx model.onnx``).

PyTorch is needed for ``to_torch``/``from_torch``, the ``onnx`` package for ``to_onnx`` (``pip install
"nnblocks[export]"`` installs onnx and onnxruntime); each is imported only when its function is called.
"""
from nnblocks.export.onnx_model import to_onnx
from nnblocks.export.pytorch import from_torch, to_torch

__all__ = ["to_torch", "from_torch", "to_onnx"]
