"""The recipe: one description of a training run (``TrainConfig``) and what each of its names means.

    config = TrainConfig(dataset="moons", hidden=[16, 16], optimizer="sgd", scheduler="cosine", epochs=50)
    splits = load_data(config)                       # nnblocks.data.prepare: load, split, scale (fitted on train)
    config = config.with_data(splits)                # default loss, input/output widths, task and classes
    model = build_model(config)                      # nn.MLP (nn.CNN with config.conv), seeded
    loss_fn = make_loss(config.loss)
    optimizer = make_optimizer(config, model.parameters())
    scheduler = make_scheduler(config, optimizer)    # None for "none"
    train_loader, val_loader, test_loader = make_loaders(splits, config)
    history = fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=config.epochs, scheduler=scheduler,
                  metrics=config.metrics)

``nnblocks train`` and ``nnblocks evaluate`` are this sequence plus flags and printing. A checkpoint stores
``config.to_dict()`` (plain JSON) and the fitted scaling, so ``TrainConfig.from_dict`` and ``build_model`` rebuild
the model and ``load_data`` the very same split later.

- ``config``: ``TrainConfig``, the names a run may use (``LOSSES``, ``OPTIMIZERS``...), its JSON form;
- ``build``: what those names mean (``build_model``, ``make_loss``... and the seeds each draws from);
- ``cnn``: what ``conv`` means on the data's images (the sizes, the padding, the memory), before any layer exists;
- ``report``: what a run reports: lines to print and its files (history, plots).
"""
from __future__ import annotations

from nnblocks.recipe.build import (
    build_model,
    estimate_bytes,
    load_data,
    make_loaders,
    make_loss,
    make_optimizer,
    make_scheduler,
    schedule_span,
    targets_for_loss,
)
from nnblocks.recipe.cnn import PADDINGS
from nnblocks.recipe.config import (
    ACTIVATIONS,
    DEFAULT_LR,
    HIDDEN_ACTIVATIONS,
    KIND,
    LOSSES,
    MODELS,
    OPTIMIZERS,
    RUN_KEYS,
    SCHEDULERS,
    VERSION,
    TrainConfig,
)
from nnblocks.recipe.report import (
    boundary_snapshots,
    describe,
    epochs_text,
    gradient_check_summary,
    summary,
    too_few_to_split,
    write_gradient_checks,
    write_history,
    write_outputs,
)

__all__ = [
    "TrainConfig", "ACTIVATIONS", "HIDDEN_ACTIVATIONS", "PADDINGS", "MODELS", "LOSSES", "OPTIMIZERS", "SCHEDULERS",
    "DEFAULT_LR", "RUN_KEYS", "KIND", "VERSION",
    "load_data", "estimate_bytes", "make_loaders", "targets_for_loss", "build_model", "make_loss", "make_optimizer",
    "make_scheduler", "schedule_span",
    "describe", "summary", "gradient_check_summary", "boundary_snapshots", "write_outputs", "write_gradient_checks",
    "write_history", "too_few_to_split", "epochs_text",
]
