"""Looking at Fashion-MNIST before training: the arrays, the classes, a grid of examples (chapter 3).
constructs: datasets.FashionMNIST(folder, download=True, train=True), .data, .targets, .classes, .unique(),
f-strings of shapes, len(), np.where on a comparison tensor, np.random.choice, indexing with a NumPy int,
plt.subplots grid and imshow of a uint8 tensor.
engine-features: unique, dtype_names
"""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnblocks as torch  # noqa: E402
from nnblocks.vision import datasets  # noqa: E402

data_folder = os.environ.get("BOOK_DATA", "~/data/FMNIST")  # the book's folder, or the test's small copy
fmnist = datasets.FashionMNIST(data_folder, download=True, train=True)
tr_images = fmnist.data
tr_targets = fmnist.targets
unique_values = tr_targets.unique()  # engine: unique
print(f'tr_images & tr_targets:\n\tX - {tr_images.shape}\n\tY - {tr_targets.shape}\n\tY - Unique Values : '
      f"{unique_values}")
print("check: shapes", list(tr_images.shape), list(tr_targets.shape))
print("check: dtypes", tr_images.dtype == torch.uint8, tr_targets.dtype == torch.int64)  # engine: dtype_names
print("check: unique", unique_values.tolist(), len(unique_values))
print("check: classes", fmnist.classes)
print("check: pixel range", tr_images.min().item(), tr_images.max().item())

R, C = len(tr_targets.unique()), 10  # engine: unique
fig, ax = plt.subplots(R, C, figsize=(10, 10))
counts = []
for label_class, plot_row in enumerate(ax):
    label_x_rows = np.where(tr_targets == label_class)[0]
    counts.append(len(label_x_rows))
    for plot_cell in plot_row:
        plot_cell.grid(False)
        plot_cell.axis('off')
        ix = np.random.choice(label_x_rows)
        x, y = tr_images[ix], tr_targets[ix]
        plot_cell.imshow(x, cmap='gray')
        assert y.item() == label_class
plt.tight_layout()
plt.close(fig)
print("check: per class", counts)
