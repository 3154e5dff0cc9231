"""The training loop, its history, metrics, callbacks and checkpoints."""
