"""L1 and L2 regularisation written into the training step (chapter 3).
constructs: `l1_regularization = 0` then `l1_regularization += torch.norm(param, 1)` over model.parameters(),
torch.norm(param, 2), batch_loss = loss_fn(prediction, y) + 0.0001 * l1_regularization, backward through both.
engine-features: cuda, to_device, norm
"""
import os

import numpy as np

import nnblocks as torch
import nnblocks.nn as nn
from nnblocks.optim import Adam
from nnblocks.utils.data import DataLoader, Dataset
from nnblocks.vision import datasets

data_folder = os.environ.get("BOOK_DATA", "~/data/FMNIST")
fmnist = datasets.FashionMNIST(data_folder, download=True, train=True)
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda


class FMNISTDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = (x.float() / 255).view(-1, 28 * 28), y

    def __getitem__(self, ix):
        return self.x[ix].to(device), self.y[ix].to(device)  # engine: to_device

    def __len__(self):
        return len(self.x)


def get_model():
    model = nn.Sequential(nn.Linear(28 * 28, 1000), nn.ReLU(), nn.Linear(1000, 10)).to(device)  # engine: to_device
    for i, (name, value) in enumerate(model.state_dict().items()):  # the same start in both libraries
        bound = 1 / np.sqrt(value.shape[-1])
        start = np.random.default_rng(i).uniform(-bound, bound, tuple(value.shape)).astype(np.float32)
        model.load_state_dict({name: torch.tensor(start)}, strict=False)
    return model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)


def train_batch(x, y, model, opt, loss_fn, p, weight):
    prediction = model(x)
    regularization = 0
    for param in model.parameters():
        regularization += torch.norm(param, p)  # engine: norm
    batch_loss = loss_fn(prediction, y) + weight * regularization
    batch_loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return batch_loss.item()


trn_dl = DataLoader(FMNISTDataset(fmnist.data, fmnist.targets), batch_size=32)  # in order: comparable runs
for p, weight in ((1, 0.0001), (2, 0.01)):
    model, loss_fn, optimizer = get_model()
    total = sum(torch.norm(param, p).item() for param in model.parameters())  # engine: norm
    print(f"check: L{p} norm at the start {total:.3f}")
    for epoch in range(1):
        losses = [train_batch(x, y, model, optimizer, loss_fn, p, weight) for x, y in trn_dl]
        print(f"check: L{p} epoch {epoch + 1} loss {np.mean(losses):.4f}")
