"""The chapter-3 training template on Fashion-MNIST: scaled pixels, a 784-1000-10 network, SGD then Adam, batch 32,
accuracy and validation loss per epoch, and the plots (chapter 3).
constructs: datasets.FashionMNIST train/val, a Dataset that scales and flattens with .float()/255 and .view(-1, 784)
and returns x.to(device), y.to(device); DataLoader(batch_size=32, shuffle=True) and one batch of len(val);
nn.Sequential(Linear, ReLU, Linear).to(device), nn.CrossEntropyLoss, SGD/Adam; model.train(), model.eval();
train_batch with the global optimizer; @torch.no_grad() and `with torch.no_grad()`; `max_values, argmaxes =
prediction.max(-1)`; is_correct.cpu().numpy().tolist(); `for ix, batch in enumerate(iter(trn_dl))`;
np.array(losses).mean(); (pred.argmax(1) == y).float().mean(); matplotlib subplots of the curves.
engine-features: cuda, to_device, max_dim, cpu
"""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnblocks as torch  # noqa: E402
import nnblocks.nn as nn  # noqa: E402
from nnblocks.optim import SGD, Adam  # noqa: E402
from nnblocks.utils.data import DataLoader, Dataset  # noqa: E402
from nnblocks.vision import datasets  # noqa: E402

data_folder = os.environ.get("BOOK_DATA", "~/data/FMNIST")
fmnist = datasets.FashionMNIST(data_folder, download=True, train=True)
tr_images, tr_targets = fmnist.data, fmnist.targets
val_fmnist = datasets.FashionMNIST(data_folder, download=True, train=False)
val_images, val_targets = val_fmnist.data, val_fmnist.targets
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda


class FMNISTDataset(Dataset):
    def __init__(self, x, y):
        x = x.float() / 255
        x = x.view(-1, 28 * 28)
        self.x, self.y = x, y

    def __getitem__(self, ix):
        x, y = self.x[ix], self.y[ix]
        return x.to(device), y.to(device)  # engine: to_device

    def __len__(self):
        return len(self.x)


def get_data(shuffle=True):
    train = FMNISTDataset(tr_images, tr_targets)
    trn_dl = DataLoader(train, batch_size=32, shuffle=shuffle)
    val = FMNISTDataset(val_images, val_targets)
    val_dl = DataLoader(val, batch_size=len(val_images), shuffle=False)
    return trn_dl, val_dl


def same_start(model):
    """For the comparison with PyTorch: the same starting weights in both libraries."""
    for i, (name, value) in enumerate(model.state_dict().items()):
        bound = 1 / np.sqrt(value.shape[-1])
        start = np.random.default_rng(i).uniform(-bound, bound, tuple(value.shape)).astype(np.float32)
        model.load_state_dict({name: torch.tensor(start)}, strict=False)


def get_model(optimizer_class, lr):
    model = nn.Sequential(nn.Linear(28 * 28, 1000), nn.ReLU(), nn.Linear(1000, 10)).to(device)  # engine: to_device
    same_start(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optimizer_class(model.parameters(), lr=lr)
    return model, loss_fn, optimizer


def train_batch(x, y, model, opt, loss_fn):
    model.train()
    prediction = model(x)
    batch_loss = loss_fn(prediction, y)
    batch_loss.backward()
    optimizer.step()  # the global optimizer, as the book's template does
    optimizer.zero_grad()
    return batch_loss.item()


@torch.no_grad()
def accuracy(x, y, model):
    model.eval()
    prediction = model(x)
    max_values, argmaxes = prediction.max(-1)  # engine: max_dim
    is_correct = argmaxes == y
    return is_correct.cpu().numpy().tolist()  # engine: cpu


def val_loss(x, y, model):
    with torch.no_grad():
        prediction = model(x)
    return loss_fn(prediction, y).item()


def run(optimizer_class, lr, epochs, shuffle, label):
    global optimizer, loss_fn
    trn_dl, val_dl = get_data(shuffle)
    model, loss_fn, optimizer = get_model(optimizer_class, lr)
    train_losses, train_accuracies, val_losses, val_accuracies = [], [], [], []
    for epoch in range(epochs):
        train_epoch_losses, train_epoch_accuracies = [], []
        for ix, batch in enumerate(iter(trn_dl)):
            x, y = batch
            train_epoch_losses.append(train_batch(x, y, model, optimizer, loss_fn))
        train_epoch_loss = np.array(train_epoch_losses).mean()
        for ix, batch in enumerate(iter(trn_dl)):
            x, y = batch
            train_epoch_accuracies.extend(accuracy(x, y, model))
        train_epoch_accuracy = np.mean(train_epoch_accuracies)
        for ix, batch in enumerate(iter(val_dl)):
            x, y = batch
            val_is_correct = accuracy(x, y, model)
            validation_loss = val_loss(x, y, model)
        train_losses.append(train_epoch_loss)
        train_accuracies.append(train_epoch_accuracy)
        val_losses.append(validation_loss)
        val_accuracies.append(np.mean(val_is_correct))
        with torch.no_grad():
            same = (model(x).argmax(1) == y).float().mean().item()
        print(f"{'check: ' if not shuffle else ''}{label} epoch {epoch + 1}: loss {train_epoch_loss:.4f} "
              f"accuracy {train_epoch_accuracy:.4f} val loss {validation_loss:.4f} val accuracy {same:.4f}")
    return train_losses, train_accuracies, val_losses, val_accuracies


curves = {}
for optimizer_class, lr, label in ((SGD, 1e-2, "sgd"), (Adam, 1e-3, "adam")):
    curves[label] = run(optimizer_class, lr, epochs=1, shuffle=False, label=label)
run(Adam, 1e-3, epochs=1, shuffle=True, label="shuffled")  # the book's shuffled batches (orders differ by library)

epochs = np.arange(1) + 1
plt.figure(figsize=(20, 5))
plt.subplot(121)
for label, (train_losses, _, val_losses, _) in curves.items():
    plt.plot(epochs, train_losses, 'bo', label=f'Training loss ({label})')
    plt.plot(epochs, val_losses, 'r', label=f'Validation loss ({label})')
plt.title('Training and validation loss')
plt.legend()
plt.subplot(122)
for label, (_, train_accuracies, _, val_accuracies) in curves.items():
    plt.plot(epochs, train_accuracies, 'bo', label=f'Training accuracy ({label})')
    plt.plot(epochs, val_accuracies, 'r', label=f'Validation accuracy ({label})')
plt.gca().set_yticklabels(['{:.0f}%'.format(x * 100) for x in plt.gca().get_yticks()])
plt.legend()
plt.close("all")
