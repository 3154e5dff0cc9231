"""What ``nnblocks bench`` measures: the chapter-3 network, its optimiser, and the systems that train it.

Standard library only: the command line reads these names before anything heavy is imported.
"""
from __future__ import annotations

# The chapter-3 network, 784 -> 1000 -> ReLU -> 10, trained with plain SGD (no momentum) at this learning rate.
IN_FEATURES, HIDDEN, CLASSES = 784, 1000, 10
LR = 0.01

# "nnblocks" is the user's eager loop over pre-shuffled index slices; "fit" the same network through train.fit
SYSTEMS = ("nnblocks", "fit", "pytorch", "numpy", "sklearn", "gemm")
# The Python module each optional system needs; a system whose module is missing is skipped with a note.
REQUIRES = {"pytorch": "torch", "sklearn": "sklearn"}
LABELS = {"nnblocks": "nnblocks", "fit": "nnblocks fit()", "pytorch": "PyTorch", "numpy": "NumPy MLP", "sklearn": "scikit-learn",
          "gemm": "GEMM bound"}
WORKLOAD = (f"MLP {IN_FEATURES}-{HIDDEN}-ReLU-{CLASSES}, softmax cross-entropy, SGD lr {LR} (no momentum), float32, "
            "inputs /255, shuffled each epoch")

# --cnn: the book's chapter-4 network on the same 28x28 images (see bench/cnn.py); only nnblocks and PyTorch train it.
CNN_CHANNELS, CNN_HIDDEN = (64, 128), (256,)
CNN_SYSTEMS = ("nnblocks", "pytorch")
CNN_WORKLOAD = (f"CNN Conv2d(1, {CNN_CHANNELS[0]}, 3)-MaxPool2d(2)-ReLU-Conv2d({CNN_CHANNELS[0]}, {CNN_CHANNELS[1]}, 3)-"
                f"MaxPool2d(2)-ReLU-Flatten-Linear({CNN_CHANNELS[1] * 25}, {CNN_HIDDEN[0]})-ReLU-Linear({CNN_HIDDEN[0]}, "
                f"{CLASSES}) on 1x28x28 images, softmax cross-entropy, SGD lr {LR} (no momentum), float32, inputs /255, "
                "shuffled each epoch")
