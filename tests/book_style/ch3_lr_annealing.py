"""Learning-rate annealing: halve Adam's rate when the validation loss stops improving (chapter 3).
constructs: `from torch import optim`, optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0,
threshold=0.001, verbose=True, min_lr=1e-5, threshold_mode='abs'), scheduler.step(validation_loss) with a float,
optimizer.param_groups[0]['lr'], x.view(-1, 28*28)/255.
engine-features: cuda, to_device
"""
import os

import numpy as np

import nnblocks as torch
import nnblocks.nn as nn
from nnblocks import optim
from nnblocks.optim import Adam
from nnblocks.utils.data import DataLoader, Dataset
from nnblocks.vision import datasets

data_folder = os.environ.get("BOOK_DATA", "~/data/FMNIST")
fmnist = datasets.FashionMNIST(data_folder, download=True, train=True)
val_fmnist = datasets.FashionMNIST(data_folder, download=True, train=False)
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda


class FMNISTDataset(Dataset):
    def __init__(self, x, y):
        x = x.float()
        x = x.view(-1, 28 * 28) / 255
        self.x, self.y = x, y

    def __getitem__(self, ix):
        return self.x[ix].to(device), self.y[ix].to(device)  # engine: to_device

    def __len__(self):
        return len(self.x)


trn_dl = DataLoader(FMNISTDataset(fmnist.data, fmnist.targets), batch_size=32)  # in order: comparable runs
val_dl = DataLoader(FMNISTDataset(val_fmnist.data, val_fmnist.targets), batch_size=len(val_fmnist.data))
model = nn.Sequential(nn.Linear(28 * 28, 1000), nn.ReLU(), nn.Linear(1000, 10)).to(device)  # engine: to_device
for i, (name, value) in enumerate(model.state_dict().items()):  # the same start in both libraries
    bound = 1 / np.sqrt(value.shape[-1])
    start = np.random.default_rng(i).uniform(-bound, bound, tuple(value.shape)).astype(np.float32)
    model.load_state_dict({name: torch.tensor(start)}, strict=False)
loss_fn = nn.CrossEntropyLoss()
optimizer = Adam(model.parameters(), lr=1e-1)  # too high on purpose: the plateau comes early
scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.001,
                                                 verbose=True,  # nnblocks-only: PyTorch 2.13 dropped verbose
                                                 min_lr=1e-5, threshold_mode='abs')
for epoch in range(3):
    model.train()
    for x, y in trn_dl:
        batch_loss = loss_fn(model(x), y)
        batch_loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        for x, y in val_dl:
            validation_loss = loss_fn(model(x), y).item()
    scheduler.step(validation_loss)
    print(f"check: epoch {epoch + 1} val loss {validation_loss:.3f} lr {optimizer.param_groups[0]['lr']:.6f}")
