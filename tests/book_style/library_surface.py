"""What the book and PyTorch's tutorials use next: ModuleList/ModuleDict, forward hooks, named_parameters,
nn.functional, DataLoader(collate_fn=, num_workers=, pin_memory=), random_split, torch.save/load of a training state,
optimizer.param_groups, accuracy as (pred.argmax(1) == y).float().mean().
engine-features: none
"""
import os
import tempfile

import numpy as np

import nnblocks as torch
import nnblocks.nn as nn
import nnblocks.nn.functional as F
from nnblocks.optim import SGD
from nnblocks.utils.data import DataLoader, TensorDataset, random_split


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 8)])
        self.heads = nn.ModuleDict({"classes": nn.Linear(8, 3), "score": nn.Linear(8, 1)})

    def forward(self, x, head="classes"):
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.heads[head](x)


model = Net()
names = [name for name, _ in model.named_parameters()]
print("check: names", names)
for i, (name, value) in enumerate(model.state_dict().items()):  # the same start in both libraries
    start = np.random.default_rng(i).uniform(-0.5, 0.5, tuple(value.shape)).astype(np.float32)
    model.load_state_dict({name: torch.tensor(start)}, strict=False)

seen = {}
handle = model.layers[1].register_forward_hook(lambda module, inputs, output: seen.update(shape=list(output.shape)))
rng = np.random.default_rng(0)
X = torch.tensor(rng.standard_normal((20, 4)).astype(np.float32))
y = torch.tensor(rng.integers(0, 3, 20))
logits = model(X)
print("check: hook", seen["shape"], list(model(X, head="score").shape))
handle.remove()
print("check: softmax rows", np.round(F.softmax(logits, dim=1).sum(1).detach().numpy(), 5).tolist()[:3])
print(f"check: functional losses {F.cross_entropy(logits, y).item():.5f} "
      f"{F.mse_loss(logits, F.one_hot(y, 3).float()).item():.5f} {F.log_softmax(logits, dim=1)[0, 0].item():.5f}")


def collate(samples):
    xs, ys = zip(*samples)
    return torch.stack(xs), torch.stack(ys)


loader = DataLoader(TensorDataset(X, y), batch_size=8, collate_fn=collate, num_workers=2, pin_memory=True)
print("check: batches", [list(bx.shape) for bx, _ in loader])
train, val = random_split(TensorDataset(X, y), [15, 5])
print("check: split", len(train), len(val))

opt = SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    for bx, by in loader:
        opt.zero_grad()
        F.cross_entropy(model(bx), by).backward()
        opt.step()
with torch.no_grad():
    accuracy = (model(X).argmax(1) == y).float().mean()
print(f"check: accuracy {accuracy.item():.4f} lr {opt.param_groups[0]['lr']}")
path = os.path.join(tempfile.mkdtemp(), "state.pt")
torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(), "losses": [0.5, 0.25]}, path)
state = torch.load(path)
restored = Net()
print("check:", restored.load_state_dict(state["model"]), state["epoch"], state["losses"])
print("check: same logits", bool(np.allclose(restored(X).detach().numpy(), model(X).detach().numpy())))
