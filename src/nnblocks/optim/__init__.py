"""nnblocks.optim: optimizers that update parameters in place from their gradients, and learning-rate schedulers.

Names, defaults and update formulas follow ``torch.optim`` (the tests check them against PyTorch step by step):

>>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)          # doctest: +SKIP
>>> opt.zero_grad(); loss.backward(); opt.step()                  # doctest: +SKIP
"""
from __future__ import annotations

from nnblocks.optim import lr_scheduler
from nnblocks.optim.adam import Adam, AdamW
from nnblocks.optim.optimizer import Optimizer
from nnblocks.optim.rmsprop import RMSprop
from nnblocks.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
