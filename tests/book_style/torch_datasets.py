"""``datasets.FashionMNIST`` for the PyTorch runs of the corpus when torchvision is not installed: the same files,
read by nnblocks, handed out as torch tensors (what torchvision's .data/.targets/.classes are)."""
import torch

from nnblocks.vision import datasets as _nnblocks_datasets


class FashionMNIST:
    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        found = _nnblocks_datasets.FashionMNIST(root, train=train, download=download)
        self.data = torch.from_numpy(found.data.numpy().copy())
        self.targets = torch.from_numpy(found.targets.numpy().copy())
        self.classes = list(found.classes)

    def __len__(self):
        return len(self.data)
