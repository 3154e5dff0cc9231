"""Dropout and batch normalisation: a dropout model, and a model class defined inside get_model whose forward returns
(output, hidden) with BatchNorm1d between the first layer and its ReLU (chapter 3).
constructs: nn.Dropout(0.25) in nn.Sequential, model.train()/model.eval() switching dropout, nn.BatchNorm1d(1000),
an nn.Module whose forward returns a tuple, model(x)[0] / model(x)[1], Adam, `for ix, par in
enumerate(model.parameters())` with plt.hist(par.cpu().detach().numpy().flatten()), BatchNorm's running statistics.
engine-features: cuda, to_device, cpu, module_functions
"""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnblocks as torch  # noqa: E402
import nnblocks.nn as nn  # noqa: E402
from nnblocks.optim import Adam  # noqa: E402
from nnblocks.utils.data import DataLoader, Dataset  # noqa: E402
from nnblocks.vision import datasets  # noqa: E402

data_folder = os.environ.get("BOOK_DATA", "~/data/FMNIST")
fmnist = datasets.FashionMNIST(data_folder, download=True, train=True)
val_fmnist = datasets.FashionMNIST(data_folder, download=True, train=False)
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda


class FMNISTDataset(Dataset):
    def __init__(self, x, y):
        x = x.float() / 255
        self.x, self.y = x.view(-1, 28 * 28), y

    def __getitem__(self, ix):
        return self.x[ix].to(device), self.y[ix].to(device)  # engine: to_device

    def __len__(self):
        return len(self.x)


def same_start(model):
    """For the comparison with PyTorch: the same starting weights (Linear layers) in both libraries."""
    for i, (name, value) in enumerate(model.state_dict().items()):
        if "batch_norm" in name:
            continue
        bound = 1 / np.sqrt(value.shape[-1])
        start = np.random.default_rng(i).uniform(-bound, bound, tuple(value.shape)).astype(np.float32)
        model.load_state_dict({name: torch.tensor(start)}, strict=False)


trn_dl = DataLoader(FMNISTDataset(fmnist.data, fmnist.targets), batch_size=32, shuffle=True)
val_dl = DataLoader(FMNISTDataset(val_fmnist.data, val_fmnist.targets), batch_size=len(val_fmnist.data),
                    shuffle=True)

# ---- dropout: random masks in training, none in evaluation ----
dropout_model = nn.Sequential(nn.Dropout(0.25), nn.Linear(28 * 28, 1000), nn.ReLU(), nn.Dropout(0.25),
                              nn.Linear(1000, 10)).to(device)  # engine: to_device
loss_fn = nn.CrossEntropyLoss()
optimizer = Adam(dropout_model.parameters(), lr=1e-3)
for x, y in trn_dl:
    dropout_model.train()
    loss_fn(dropout_model(x), y).backward()
    optimizer.step()
    optimizer.zero_grad()
x, y = next(iter(val_dl))
dropout_model.eval()
first, second = dropout_model(x), dropout_model(x)
print("check: eval outputs equal", bool((first == second).all()))  # engine: module_functions
dropout_model.train()
print("check: train outputs equal", bool((dropout_model(x) == dropout_model(x)).all()))  # engine: module_functions
for ix, par in enumerate(dropout_model.parameters()):
    if ix == 0:
        plt.hist(par.cpu().detach().numpy().flatten())  # engine: cpu
        plt.title('Distribution of weights connecting input to hidden layer')
    plt.close("all")


# ---- batch normalisation, in a model class of its own ----
def get_model():
    class neuralnet(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_to_hidden_layer = nn.Linear(784, 1000)
            self.batch_norm = nn.BatchNorm1d(1000)
            self.hidden_layer_activation = nn.ReLU()
            self.hidden_to_output_layer = nn.Linear(1000, 10)

        def forward(self, x):
            x = self.input_to_hidden_layer(x)
            x0 = self.batch_norm(x)
            x1 = self.hidden_layer_activation(x0)
            x2 = self.hidden_to_output_layer(x1)
            return x2, x1

    model = neuralnet().to(device)  # engine: to_device
    same_start(model)
    return model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)


model, loss_fn, optimizer = get_model()
in_order = DataLoader(FMNISTDataset(fmnist.data, fmnist.targets), batch_size=32)
for epoch in range(1):
    losses = []
    for x, y in in_order:
        batch_loss = loss_fn(model(x)[0], y)
        batch_loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(batch_loss.item())
    print(f"check: bn epoch {epoch + 1} loss {np.mean(losses):.4f}")
print("check: running mean", round(float(np.abs(np.asarray(model.batch_norm.running_mean)).mean()), 4),
      int(model.batch_norm.num_batches_tracked))
model.eval()
with torch.no_grad():
    x, y = next(iter(DataLoader(FMNISTDataset(val_fmnist.data, val_fmnist.targets), batch_size=100)))
    output, hidden = model(x)
    print(f"check: bn val loss {loss_fn(output, y).item():.4f}")
plt.hist(model(x)[1].cpu().detach().numpy().flatten())  # engine: cpu
for ix, par in enumerate(model.parameters()):
    print("check: parameter", ix, list(par.shape))
plt.close("all")
