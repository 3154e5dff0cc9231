"""Gradients of tensors, and the chapter-1 network written with tensors (chapter 2).
constructs: requires_grad=True, .pow(2).sum(), .backward(), .grad, torch.tensor of float32 NumPy arrays (also
transposed ones), matmul + 1-D bias, torch.exp, 1/(1 + ...), torch.mean(torch.square(...)), [w.grad for w in W],
[w - w.grad for w in W].
engine-features: module_functions
"""
import numpy as np
import nnblocks as torch

x = torch.tensor([[2., -1.], [1., 1.]], requires_grad=True)
out = x.pow(2).sum()
out.backward()
print("check: dx", x.grad.tolist())

inputs = np.array([[1, 1]])
targets = np.array([[0]])
inputs, targets = [torch.tensor(i).float() for i in [inputs, targets]]
W = [np.array([[-0.0053, 0.3793], [-0.5820, -0.5204], [-0.2723, 0.1896]], dtype=np.float32).T,
     np.array([-0.0140, 0.5607, -0.0628], dtype=np.float32),
     np.array([[0.1528, -0.1745, -0.1135]], dtype=np.float32).T,
     np.array([-0.5516], dtype=np.float32)]
W = [torch.tensor(w, requires_grad=True) for w in W]


def feed_forward(inputs, targets, weights):
    pre_hidden = torch.matmul(inputs, weights[0]) + weights[1]
    hidden = 1 / (1 + torch.exp(-pre_hidden))
    prediction = torch.matmul(hidden, weights[2]) + weights[3]
    return torch.mean(torch.square(prediction - targets))  # engine: module_functions


loss = feed_forward(inputs, targets, W)
print("check: loss", round(loss.item(), 6))
loss.backward()
grads = [w.grad for w in W]
print("check: grads", [np.round(np.asarray(g), 6).tolist() for g in grads])
updated = [w - w.grad for w in W]
print("check: updated", [np.round(u.detach().numpy(), 6).tolist() for u in updated])
print("check: updated needs grad", [u.requires_grad for u in updated])
