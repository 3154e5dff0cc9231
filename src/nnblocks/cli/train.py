"""``nnblocks train``: train a multilayer perceptron on a named data set (or your own CSV/NPZ) from the shell.

    nnblocks train                                  # digits, 64-128-10 ReLU, Adam 1e-3, batch 32, 20 epochs
    nnblocks train --dataset mnist --download --hidden 1000 --optimizer sgd --lr 0.01   # the chapter-3 network
    nnblocks train --dataset moons --hidden 16 16 --epochs 50
    nnblocks train --dataset mydata.csv --label-column species

Writes into ``--out`` (default ``nnblocks-out/train-<dataset>``): ``history.csv``, ``history.json``, ``loss.png``,
``accuracy.png`` and ``confusion_matrix.png`` (classification), and ``model.npz``: the checkpoint (weights,
optimizer, scheduler, history, random states and the run's config, rewritten after every epoch), which
``--resume`` continues and ``nnblocks evaluate`` rebuilds the model from. With ``--check-gradients N``, also
``gradient_check.png``: the engine's gradients checked against float64 finite differences every N steps.

The run itself is ``nnblocks.recipe``: the data pipeline (seeded stratified splits, the MNIST family's official test
set kept, scaling fitted on the training split), the model, loss, optimizer and scheduler by name, the output files.
This module holds the flags, the messages and the exit codes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from nnblocks import data, recipe
from nnblocks.cli import argtypes


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train a multilayer perceptron on digits, MNIST, a toy set or your own data",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", type=argtypes.dataset,
                   help="digits, mnist, fashion-mnist, a toy set name, or a path to a .csv / .npz file")
    g.add_argument("--data-dir", help="folder holding the MNIST-format IDX files")
    g.add_argument("--download", action="store_true", help="download MNIST / Fashion-MNIST if missing")
    g.add_argument("--label-column",
                   help="CSV label column: a header name or a 0-based index (default: the last column)")
    g.add_argument("--samples", type=argtypes.positive_int, help="number of points drawn for a toy set")
    g.add_argument("--scale", choices=data.SCALINGS,
                   help="input scaling: auto = /255 for MNIST-family, standardization otherwise")
    g.add_argument("--val-fraction", type=argtypes.fraction, help="share of the data used for validation")
    g.add_argument("--test-fraction", type=argtypes.fraction,
                   help="share held out for testing (not MNIST-family: they have an official test set)")
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=argtypes.positive_int, nargs="*",
                   help="hidden layer sizes; none at all gives logistic (or linear) regression")
    g.add_argument("--activation", choices=recipe.ACTIVATIONS)
    g.add_argument("--dropout", type=argtypes.probability,
                   help="dropout probability before each Linear layer (on the inputs and on each hidden layer's "
                        "output: the book's order, as in `nnblocks experiment run dropout`)")
    g.add_argument("--batchnorm", action="store_true", help="BatchNorm1d after each hidden linear layer")
    g.add_argument("--loss", choices=recipe.LOSSES,
                   help="default: cross-entropy for classes, mse for regression (bce: one logit, 2 classes)")
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", choices=recipe.OPTIMIZERS)
    g.add_argument("--lr", type=argtypes.positive_float,
                   help="learning rate (default: 0.01 for sgd, 0.001 for adam/adamw/rmsprop)")
    g.add_argument("--momentum", type=argtypes.nonneg_float, help="momentum (sgd, rmsprop)")
    g.add_argument("--weight-decay", type=argtypes.nonneg_float)
    g.add_argument("--scheduler", choices=recipe.SCHEDULERS,
                   help="step: x0.1 every third of the run; exponential: x0.95 per epoch; cosine: to 0 over the "
                        "run; plateau: x0.1 when the validation loss stalls 3 epochs")
    g.add_argument("--batch-size", type=argtypes.positive_int)
    g.add_argument("--epochs", type=argtypes.nonneg_int, help="total epochs (with --resume: the new total)")
    g.add_argument("--seed", type=argtypes.nonneg_int, help="seed of the split, the weights, shuffling, dropout")
    g = p.add_argument_group("run")
    g.add_argument("--out", help="output folder (default: nnblocks-out/train-<dataset>)")
    g.add_argument("--resume", metavar="CKPT",
                   help="continue the run saved in this checkpoint (its model, data and optimizer settings)")
    g.add_argument("--quiet", action="store_true", help="print only the final summary")
    g.add_argument("--check-gradients", type=argtypes.positive_int, metavar="N",
                   help="on the first step and every N-th, check 5 weights per parameter against float64 finite "
                        "differences; writes gradient_check.png and warns on a mismatch")
    g.add_argument("--no-boundary", action="store_true",
                   help="on a 2-D classification set, skip the decision-boundary plot and GIF written by default")
    defaults = recipe.TrainConfig().to_dict()  # the library's defaults: one place to change them
    p.set_defaults(**{key: defaults[key] for key in recipe.RUN_KEYS + ("epochs",)}, func=run, _parser=p)
    p.set_defaults(lr=None)  # None: the optimizer's own default


# ---- the run's config: from the flags, or from the checkpoint to resume ----------------------------------------------
def _check_flag_combinations(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Flags that are fine one by one but not together (argparse sees them one at a time)."""
    if args.momentum > 0 and args.optimizer in ("adam", "adamw"):
        parser.error(f"argument --momentum: --optimizer {args.optimizer} has no momentum parameter (its running "
                     f"average of gradients plays that role), so --momentum {args.momentum:g} would be ignored; "
                     "drop --momentum or use --optimizer sgd or rmsprop")
    val, test = args.val_fraction, args.test_fraction
    if args.dataset not in data.OFFICIAL_TEST_SETS and val + test >= 1:
        parser.error(f"argument --test-fraction: --val-fraction {val:g} and --test-fraction {test:g} add up to "
                     f"{val + test:g}, leaving no training data; make their sum less than 1")


def _flag_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "(none)"
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _note_checkpoint_overrides(args: argparse.Namespace, parser: argparse.ArgumentParser,
                               saved: dict[str, Any]) -> None:
    """On --resume, say on stderr which explicitly given run flags lose to the checkpoint's values."""
    for key in recipe.RUN_KEYS:
        given, default, kept = getattr(args, key), parser.get_default(key), saved.get(key)
        if given != default and given != kept:
            print(f"nnblocks train: note: --resume takes --{key.replace('_', '-')} from the checkpoint: using "
                  f"{_flag_text(kept)}, not the given {_flag_text(given)}", file=sys.stderr)


def _resumed_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[Any, recipe.TrainConfig]:
    """The checkpoint to resume and its run's config, with the new total of epochs."""
    from nnblocks.errors import CheckpointError, InvalidValueError
    from nnblocks.train import read_checkpoint

    try:
        resumed = read_checkpoint(args.resume)
    except (CheckpointError, FileNotFoundError) as exc:
        parser.error(f"argument --resume: {exc}")
    if not resumed.config or resumed.config.get("kind") != recipe.KIND:
        parser.error(f"argument --resume: {args.resume} was not written by `nnblocks train` (no run config)")
    _note_checkpoint_overrides(args, parser, resumed.config)
    try:
        return resumed, replace(recipe.TrainConfig.from_dict(resumed.config), epochs=args.epochs)
    except InvalidValueError as exc:
        parser.error(f"argument --resume: {args.resume}: {exc}")


def _load_data(config: recipe.TrainConfig, args: argparse.Namespace, parser: argparse.ArgumentParser,
               resumed: Any) -> data.Splits | None:
    """The run's splits; None (after printing the error) when they cannot be made."""
    from nnblocks.errors import DataError, NNBlocksError

    try:
        return recipe.load_data(config, args.data_dir, args.download,
                                scaling_state=(resumed.extra or {}).get("scaler") if resumed else None)
    except NNBlocksError as exc:
        # An unreadable file the user named is a bad --dataset value (exit 2); a missing download or a split
        # the data cannot fill is reported as a plain error (exit 1).
        if isinstance(exc, DataError) and data.is_data_file(config.dataset):
            parser.error(f"{exc}" if resumed else f"argument --dataset: {exc}")
        print(f"nnblocks train: error: {exc}", file=sys.stderr)
        return None


def _resume(args: argparse.Namespace, parser: argparse.ArgumentParser, resumed: Any, model: Any, optimizer: Any,
            scheduler: Any, train_loader: Any) -> tuple[Any, int]:
    """Load the checkpoint into the freshly built parts; return its history and epoch count."""
    from nnblocks.errors import CheckpointError
    from nnblocks.train import load_checkpoint, loader_generators

    try:
        load_checkpoint(args.resume, model, optimizer, scheduler, rng=loader_generators(train=train_loader))
    except CheckpointError as exc:
        parser.error(f"argument --resume: {exc}")
    if resumed.epoch > args.epochs:
        parser.error(f"argument --epochs: the checkpoint has already run {resumed.epoch} epochs; give a total "
                     f">= {resumed.epoch}")
    return resumed.history, resumed.epoch


# ---- printing --------------------------------------------------------------------------------------------------------
def _epoch_printer(epochs: int) -> Any:
    """A callback printing one line per epoch on stdout (used when no progress bar is shown)."""
    from nnblocks.train import Callback

    class EpochPrinter(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            parts = [f"epoch {epoch + 1}/{epochs}"]
            for key, value in logs.items():
                if key != "epoch":
                    parts.append(f"{key} {value:.2%}" if "accuracy" in key else f"{key} {value:.4g}")
            print("  ".join(parts), flush=True)

    return EpochPrinter()


def _report_warnings(caught: list) -> int:
    """Print the gradient-check warnings recorded during fit on stderr (re-issue the others); return their count."""
    from nnblocks.train.spot_check import SpotCheckWarning

    count = 0
    for w in caught:
        if issubclass(w.category, SpotCheckWarning):
            count += 1
            if count <= 10:
                print(f"nnblocks train: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if count > 10:
        print(f"nnblocks train: warning: ... and {count - 10} more gradient-check warnings", file=sys.stderr)
    return count


# ---- the command -----------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from nnblocks.errors import InvalidValueError
    from nnblocks.train import ModelCheckpoint, TrainingDiverged, evaluate, fit, loader_generators, save_checkpoint
    from nnblocks.train.spot_check import DEFAULT_RTOL, SpotCheckWarning

    parser: argparse.ArgumentParser = args._parser
    started = time.perf_counter()
    if args.resume:
        resumed, config = _resumed_config(args, parser)
    else:
        _check_flag_combinations(args, parser)
        resumed, config = None, recipe.TrainConfig(**{k: getattr(args, k) for k in recipe.RUN_KEYS}, epochs=args.epochs)
    name = data.short_name(config.dataset)
    out = Path(args.out or os.path.join("nnblocks-out", f"train-{name}"))
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    splits = _load_data(config, args, parser, resumed)
    if splits is None:
        return 1
    try:
        config = config.with_data(splits)
    except InvalidValueError as exc:
        parser.error(f"argument --loss: {exc}")
    model = recipe.build_model(config)
    loss_fn = recipe.make_loss(config.loss)
    optimizer = recipe.make_optimizer(config, model.parameters())
    scheduler = recipe.make_scheduler(config, optimizer)
    train_loader, val_loader, test_loader = recipe.make_loaders(splits, config)
    history, start_epoch = None, 0
    if resumed is not None:
        history, start_epoch = _resume(args, parser, resumed, model, optimizer, scheduler, train_loader)
        say(f"resuming {args.resume} after epoch {start_epoch} of {args.epochs}")
    say(recipe.describe(name, config, splits, model))

    stored = {"config": config.to_dict(), "extra": {"scaler": splits.scaling}}
    callbacks: list[Any] = [ModelCheckpoint(out / "model.npz", **stored)]
    boundary = None if args.no_boundary else recipe.boundary_snapshots(config, args.epochs)
    if boundary is not None:  # on 2-D classification data, snapshots of the decision boundary for a GIF
        callbacks.append(boundary)
    tty = sys.stdout.isatty() and sys.stderr.isatty()
    if not args.quiet and not tty:
        callbacks.append(_epoch_printer(args.epochs))
    out.mkdir(parents=True, exist_ok=True)
    fit_started, diverged = time.perf_counter(), None
    with warnings.catch_warnings(record=True) as caught:  # gradient-check warnings are printed as one line each
        warnings.simplefilter("always", SpotCheckWarning)
        try:
            history = fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=args.epochs,
                          metrics=config.metrics, callbacks=callbacks, scheduler=scheduler,
                          progress=not args.quiet and tty, start_epoch=start_epoch, history=history,
                          check_gradients=args.check_gradients)
        except TrainingDiverged as exc:
            diverged = exc
    mismatches = _report_warnings(caught)
    if diverged is not None:
        print(f"nnblocks train: error: {diverged}", file=sys.stderr)
        if len(diverged.history):
            diverged.history.to_csv(out / "history.csv")
        return 1
    seconds = time.perf_counter() - fit_started
    save_checkpoint(out / "model.npz", model, optimizer, scheduler, epoch=len(history), history=history,
                    rng=loader_generators(train=train_loader), **stored)

    result = evaluate(model, test_loader, loss_fn, config.metrics, return_predictions=config.task == "classification")
    paths = recipe.write_outputs(out, name, config, splits, model, history, result, boundary)
    summary = recipe.summary(name, config, result, len(history), seconds)
    if args.check_gradients and history.spot_checks:
        paths["gradient check plot"] = recipe.write_gradient_checks(out, name, history, args.check_gradients,
                                                                    DEFAULT_RTOL)
        summary += "\n  " + recipe.gradient_check_summary(history, mismatches, DEFAULT_RTOL)
    print(summary)
    for label, path in paths.items():
        print(f"  {label}: {path}")
    say(f"  (total {time.perf_counter() - started:.1f} s, data and plots included)")
    return 0
