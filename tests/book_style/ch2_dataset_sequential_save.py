"""A Dataset and DataLoader of batch 2, nn.Sequential, a model summary, and saving and loading (chapter 2).
constructs: Dataset subclass without super().__init__(), torch.tensor(tensor).float() (PyTorch warns), len(),
indexing, DataLoader(ds, batch_size=2, shuffle=True), `for data in dl: x, y = data`, `for ix, iy in dl`,
nn.Sequential, torchsummary's summary(model, torch.zeros(1, 2)), torch.save(model.state_dict(), path),
model.load_state_dict(torch.load(path)) -> <All keys matched successfully>, val.sum(-1).
engine-features: cuda, to_device, module_functions
"""
import os
import tempfile
import warnings

import numpy as np

import nnblocks as torch
import nnblocks.nn as nn
from nnblocks.optim import SGD
from nnblocks.utils import summary  # nnblocks-only: the book's `from torchsummary import summary`
from nnblocks.utils.data import DataLoader, Dataset

warnings.simplefilter("ignore", UserWarning)  # PyTorch warns about torch.tensor(a_tensor); the book shows it
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda
x = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]])
y = torch.tensor([[3], [7], [11], [15]])


class MyDataset(Dataset):
    def __init__(self, x, y):
        self.x = torch.tensor(x).float().to(device)  # engine: to_device
        self.y = torch.tensor(y).float().to(device)  # engine: to_device

    def __len__(self):
        return len(self.x)

    def __getitem__(self, ix):
        return self.x[ix], self.y[ix]


ds = MyDataset(x, y)
print("check: dataset", len(ds), ds[1][0].tolist(), ds[1][1].tolist())
dl = DataLoader(ds, batch_size=2, shuffle=True)
sizes = []
for data in dl:
    bx, by = data
    sizes.append((list(bx.shape), list(by.shape)))
print("check: batches", sizes)

model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)  # engine: to_device
print("check: keys", list(model.state_dict().keys()))
summary(model, torch.zeros(1, 2))  # nnblocks-only: torchsummary is a third-party package
start = {k: torch.tensor(np.random.default_rng(i).uniform(-0.5, 0.5, tuple(v.shape)).astype(np.float32))
         for i, (k, v) in enumerate(model.state_dict().items())}  # the same start in both libraries
model.load_state_dict(start)
loss_func = nn.MSELoss()
opt = SGD(model.parameters(), lr=0.001)
in_order = DataLoader(ds, batch_size=2)  # unshuffled, so both libraries take the same steps
for _ in range(50):
    for ix, iy in in_order:
        opt.zero_grad()
        loss_value = loss_func(model(ix), iy)
        loss_value.backward()
        opt.step()
print(f"check: last loss {loss_value.item():.4f}")
for _ in range(5):
    for ix, iy in dl:
        opt.zero_grad()
        loss_func(model(ix), iy).backward()
        opt.step()

val = torch.tensor([[8, 9], [10, 11], [1.5, 2.5]]).float()
before = model(val.to(device))  # engine: to_device
print("check: val sums", val.sum(-1).tolist())
folder = tempfile.mkdtemp()
save_path = os.path.join(folder, 'mymodel.pth')
torch.save(model.state_dict(), save_path)
print("saved", os.path.getsize(save_path), "bytes")
fresh = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)  # engine: to_device
print("check:", fresh.load_state_dict(torch.load(save_path)))
after = fresh(val.to(device))  # engine: to_device
print("check: same predictions", bool((before == after).all()))  # engine: module_functions
