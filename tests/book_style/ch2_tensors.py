"""Tensors: creating them, their shapes and dtypes, arithmetic, reshaping, joining, reducing (chapter 2).
constructs: torch.tensor (int64 / float32 / from NumPy), .shape, .dtype, zeros/ones/rand/randn/randint, x * 10,
.add, .view, squeeze/unsqueeze/None indexing, .permute, matmul and @, cat(axis=), arange().reshape, .max(),
.max(dim=...) named tuple, torch.all, type(), dir(torch.Tensor), help(torch.Tensor.view).
engine-features: module_functions, cat_axis, max_dim, dtype_names
"""
import numpy as np
import nnblocks as torch

x = torch.tensor([[1, 2]])
y = torch.tensor([[1], [2]])
print("check: shapes", list(x.shape), list(y.shape))
print("check: int64", x.dtype == torch.int64)  # engine: dtype_names
mixed = torch.tensor([False, 1, 2.0])
print("check: mixed", mixed.tolist(), mixed.dtype == torch.float32)  # engine: dtype_names
print("check: zeros ones", torch.zeros((3, 4)).sum().item(), torch.ones((3, 4)).sum().item())
r = torch.randint(low=0, high=10, size=(3, 4))  # engine: module_functions
print("check: randint", list(r.shape), bool((r >= 0).all()), bool((r < 10).all()),  # engine: module_functions
      r.dtype == torch.int64)  # engine: dtype_names
print("check: rand randn", list(torch.rand(3, 4).shape), list(torch.randn((3, 4)).shape))
from_numpy = torch.tensor(np.array([[10, 20, 30], [2, 3, 4]]))
print("check: from numpy", from_numpy.tolist(), from_numpy.dtype == torch.int64)  # engine: dtype_names
print("type", type(from_numpy))

m = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
print("check: times ten", (m * 10).tolist())
print("check: add", m.add(10).tolist(), m.tolist())
print("check: view", torch.tensor([2, 3, 1, 0]).view(4, 1).tolist())
a = torch.randn(10, 1, 10)
z1 = torch.squeeze(a, 1)  # engine: module_functions
z2 = a.squeeze(1)
assert torch.all(z1 == z2)  # engine: module_functions
print("check: squeeze", list(z1.shape), list(a.unsqueeze(0).shape), list(a[None].shape), list(a[:, None].shape),
      list(a[:, :, None].shape))
print("check: permute", list(torch.randn(10, 20, 30).permute(2, 0, 1).shape))
left, right = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]), torch.tensor([2, 3, 1, 0]).view(4, 1)
print("check: matmul", torch.matmul(left, right).tolist(), (left @ right).tolist())
print("check: cat", list(torch.cat([m, m], axis=0).shape), list(torch.cat([m, m], axis=1).shape))  # engine: cat_axis
g = torch.arange(25).reshape(5, 5)
print("check: max all", g.max().item())
values, indices = g.max(dim=0)  # engine: max_dim
print("check: max dim 0", values.tolist(), indices.tolist())
top, where = g.max(dim=1)  # engine: max_dim
print("check: max dim 1", top.tolist(), where.tolist())

# introspection, as the book's cells do it: the methods are on the class, and view's help is view's own
listed = dir(torch.Tensor)
print("check: dir(torch.Tensor) has", all(name in listed for name in ("view", "max", "permute", "backward", "grad")))
print("check: help(torch.Tensor.view) starts", torch.Tensor.view.__doc__.strip().startswith("view(*shape) -> Tensor"))
