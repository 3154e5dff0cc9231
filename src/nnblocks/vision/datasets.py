"""MNIST and Fashion-MNIST the way torchvision hands them out (``torchvision.datasets.MNIST`` / ``FashionMNIST``).

    from nnblocks.vision import datasets
    fmnist = datasets.FashionMNIST('~/data/FMNIST', download=True, train=True)
    tr_images, tr_targets = fmnist.data, fmnist.targets      # uint8 (60000, 28, 28), int64 (60000,)

The files are the four standard IDX files, raw or gzipped, found in ``root`` itself or in its ``FashionMNIST/raw``
(torchvision's layout, so a folder torchvision filled works as it is), ``fashion-mnist`` or ``raw`` sub-folder
(``MNIST/raw``, ``mnist`` for MNIST). ``download=True`` fetches the missing ones into ``<root>/FashionMNIST/raw``
through ``nnblocks.data.idx`` (MD5-checked, written atomically; offline it fails with a ``DataError`` and leaves
nothing behind). ``~`` in ``root`` is expanded.

``dataset[i]`` is ``(image, label)`` as torchvision's: a PIL image (mode "L", 28 x 28) and an int, each passed through
``transform`` / ``target_transform`` when given (e.g. ``transforms.ToTensor()`` for a float32 (1, 28, 28) Tensor in
[0, 1], which ``DataLoader`` can batch; a PIL image it cannot).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nnblocks.data.dataset import Dataset
from nnblocks.data.idx import FASHION_CLASSES, load_idx_pair
from nnblocks.errors import DataError
from nnblocks.tensor import Tensor


class MNIST(Dataset):
    """The MNIST handwritten digits (60,000 training and 10,000 test images), as ``torchvision.datasets.MNIST``."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _idx_name = "mnist"  # nnblocks.data.idx's name of the set

    def __init__(self, root: str | Path, train: bool = True, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False) -> None:
        self.root = root
        self.train, self.transform, self.target_transform = bool(train), transform, target_transform
        images, labels = self._load(Path(root).expanduser(), bool(download))
        self.data = Tensor(images)  # uint8 (N, 28, 28), raw 0..255 pixels
        self.targets = Tensor(labels)  # int64 (N,)

    @property
    def raw_folder(self) -> Path:
        """Where ``download=True`` puts the files: ``<root>/<ClassName>/raw``, as torchvision."""
        return Path(self.root).expanduser() / type(self).__name__ / "raw"

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def _load(self, root: Path, download: bool) -> tuple[Any, Any]:
        try:
            return load_idx_pair(self._idx_name, root, self.train)  # root or any known sub-folder
        except DataError as exc:
            if not download:  # (with download, a fresh copy goes to raw_folder, whatever was wrong elsewhere)
                raise DataError(f"{type(self).__name__}(root={str(self.root)!r}, train={self.train}): {exc}") \
                    from None
        try:
            return load_idx_pair(self._idx_name, self.raw_folder, self.train, download=True)
        except DataError as exc:
            raise DataError(f"{type(self).__name__}(root={str(self.root)!r}, download=True): {exc}\n(Without a "
                            f"network, copy the four IDX files into {self.raw_folder} and leave download on or "
                            "off: files already there are not fetched again.)") from None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image  # matplotlib's dependency, so always there; imported only when an item is read

        image: Any = Image.fromarray(self.data.data[index])  # uint8 (28, 28): mode "L"
        target: Any = int(self.targets.data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    StandardTransform\nTransform: {self.transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (10 kinds of clothing, MNIST's sizes and format), as
    ``torchvision.datasets.FashionMNIST``."""

    classes = list(FASHION_CLASSES)
    _idx_name = "fashion-mnist"
