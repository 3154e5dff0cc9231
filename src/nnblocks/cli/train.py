"""``nnblocks train``: train a multilayer perceptron, or with ``--conv`` a convolutional network, on a named data set
(or your own CSV/NPZ) from the shell.

    nnblocks train                                  # digits, 64-128-10 ReLU, Adam 1e-3, batch 32, 20 epochs
    nnblocks train --dataset mnist --download --hidden 1000 --optimizer sgd --lr 0.01   # the chapter-3 network
    nnblocks train --dataset mnist --download --model cnn   # the chapter-4 network: --conv 64 128 --hidden 256
    nnblocks train --dataset digits --conv 8 --hidden 32    # one 3x3 convolution block on the 8x8 digits
    nnblocks train --dataset moons --hidden 16 16 --epochs 50
    nnblocks train --dataset mydata.csv --label-column species

Writes into ``--out`` (default ``nnblocks-out/train-<dataset>``): ``history.csv``, ``history.json``, ``loss.png``,
``accuracy.png`` and ``confusion_matrix.png`` (classification), and ``model.npz``: the checkpoint (weights,
optimizer, scheduler, history, random states and the run's config, rewritten after every epoch), which
``--resume`` continues and ``nnblocks evaluate`` rebuilds the model from, and ``best.npz``: the same at the epoch of
the lowest validation loss. With ``--check-gradients N``, also ``gradient_check.png``: the engine's gradients checked
against float64 finite differences every N steps.

The run itself is ``nnblocks.recipe``: the data pipeline (seeded stratified splits, the MNIST family's official test
set kept, scaling fitted on the training split), the model (``nn.MLP``, or ``nn.CNN`` with ``--conv``: each entry a
block ``Conv2d 3x3 -> MaxPool2d 2 -> activation``, on the image sets only), loss, optimizer and scheduler by name,
the output files.
This module holds the flags, the checks made before any work (the output folder, the data file's contents, the
memory the network needs, a schedule ``--resume`` cannot stretch) and their one-line messages (exit status 2);
``cli/train_run.py`` holds the run and how it ends (1 when it diverges, 130 on Ctrl-C).
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
from nnblocks.cli.train_run import Run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train a multilayer perceptron or a CNN on digits, MNIST, a toy set or your own data",
        description=argtypes.plain(__doc__.split("\n\n")[0]), formatter_class=argtypes.DefaultsFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", type=argtypes.dataset,
                   help="digits, mnist, fashion-mnist, a toy set name, or a path to a .csv / .npz file")
    g.add_argument("--data-dir", help="folder holding the MNIST-format IDX files (default: $NNBLOCKS_DATA/<name> if "
                                      "NNBLOCKS_DATA is set, else ~/.cache/nnblocks/<name>)")
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
    g.add_argument("--model", choices=tuple(recipe.MODELS),
                   help="a preset of --conv and --hidden (flags given beside it win): mlp = no convolutions; cnn = "
                        "the book's chapter-4 network, --conv 64 128 --hidden 256")
    g.add_argument("--conv", type=argtypes.positive_int, nargs="+", metavar="CHANNELS",
                   help="a convolutional network: output channels of each block Conv2d 3x3 -> MaxPool2d 2 -> "
                        "activation, before the hidden layers; image data only (digits, mnist, fashion-mnist) "
                        "(default: none, an MLP)")
    g.add_argument("--padding", choices=recipe.PADDINGS,
                   help="of each 3x3 convolution: valid = none (the book's; each block's image shrinks by 2 "
                        "pixels, then halves), same = 1 pixel (the size is kept, then halved), auto = valid where "
                        "the blocks fit the image, else same (the 8x8 digits with 2 blocks)")
    g.add_argument("--hidden", type=argtypes.positive_int, nargs="*", metavar="WIDTH",
                   help="hidden layer sizes; none at all gives logistic (or linear) regression; --model cnn: "
                        f"{' '.join(str(h) for h in recipe.MODELS['cnn']['hidden'])} "
                        f"(default: {' '.join(str(h) for h in recipe.TrainConfig().hidden)})")
    g.add_argument("--activation", choices=recipe.ACTIVATIONS, help="the hidden layers' activation")
    g.add_argument("--dropout", type=argtypes.probability,
                   help="dropout probability before each Linear layer (on the inputs and on each hidden layer's "
                        "output: the book's order, as in 'nnblocks experiment run dropout')")
    g.add_argument("--batchnorm", action="store_true",
                   help="BatchNorm1d after each hidden linear layer (with --conv: BatchNorm2d after each convolution)")
    g.add_argument("--loss", choices=recipe.LOSSES,
                   help="default: cross-entropy for classes, mse for regression (bce: one logit, 2 classes)")
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", choices=recipe.OPTIMIZERS, help="the update rule")
    g.add_argument("--lr", type=argtypes.positive_float,
                   help="learning rate (default: 0.01 for sgd, 0.001 for adam/adamw/rmsprop)")
    g.add_argument("--momentum", type=argtypes.nonneg_float, help="momentum (sgd, rmsprop)")
    g.add_argument("--weight-decay", type=argtypes.nonneg_float, help="L2 penalty on the weights, in the optimizer")
    g.add_argument("--scheduler", choices=recipe.SCHEDULERS,
                   help="step: x0.1 every third of the run; exponential: x0.95 per epoch; cosine: to 0 over the "
                        "run; plateau: x0.1 when the validation loss stalls 3 epochs")
    g.add_argument("--batch-size", type=argtypes.positive_int, help="samples per training step")
    g.add_argument("--epochs", type=argtypes.nonneg_int,
                   help=f"total epochs (default: {recipe.TrainConfig().epochs}; with --resume, the new total, by "
                        "default the saved run's own)")
    g.add_argument("--seed", type=argtypes.nonneg_int, help="seed of the split, the weights, shuffling, dropout")
    g = p.add_argument_group("run")
    g.add_argument("--out", type=argtypes.output_dir, help="output folder (default: nnblocks-out/train-<dataset>)")
    g.add_argument("--resume", metavar="CKPT",
                   help="continue the run saved in this checkpoint (its model, data and optimizer settings)")
    g.add_argument("--quiet", action="store_true", help="print only the final summary")
    g.add_argument("--check-gradients", type=argtypes.positive_int, metavar="N",
                   help="on the first step and every N-th, check 5 weights per parameter against float64 finite "
                        "differences; writes gradient_check.png and warns on a mismatch")
    g.add_argument("--no-boundary", action="store_true",
                   help="on a 2-D classification set, skip the decision-boundary plot and GIF written by default")
    defaults = recipe.TrainConfig().to_dict()  # the library's defaults: one place to change them
    p.set_defaults(**{key: defaults[key] for key in recipe.RUN_KEYS}, func=run, _parser=p)
    p.set_defaults(lr=None, epochs=None)  # None: the optimizer's own default; the config's (or the checkpoint's)
    p.set_defaults(conv=None, hidden=None)  # None: not given, so --model's preset (or the config's default) fills it


# ---- the run's config: from the flags, or from the checkpoint to resume ----------------------------------------------
PROG = "nnblocks train"


def _fill_model_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``--conv`` and ``--hidden`` from the ``--model`` preset where not given (else the config's defaults)."""
    if args.model == "mlp" and args.conv:
        parser.error(f"argument --model: --model mlp has no convolutions, but --conv {_flag_text(args.conv)} asks "
                     "for some; drop --model mlp (or --conv)")
    preset, defaults = recipe.MODELS[args.model or "mlp"], recipe.TrainConfig()
    for key in ("conv", "hidden"):
        if getattr(args, key) is None:
            setattr(args, key, list(preset.get(key, getattr(defaults, key))))
    if args.padding != parser.get_default("padding") and not args.conv:
        print(f"{PROG}: note: --padding applies to the convolutions of --conv (or --model cnn); an MLP ignores it",
              file=sys.stderr)


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


def _note_ignored_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Flags the chosen data set has no use for: refused when ignoring it would change the meaning (a label column
    of a file that has none), else a note on stderr."""
    dataset, given = args.dataset, (lambda key: getattr(args, key) != parser.get_default(key))
    if given("label_column") and not dataset.lower().endswith(".csv"):
        parser.error(f"argument --label-column: only a .csv file has label columns; {dataset} "
                     + ("keeps its labels in its 'y' array" if data.is_data_file(dataset) else "has its own labels"))
    unused = [("samples", dataset in data.TOY_SETS, "toy sets only"),
              ("data_dir", dataset in data.OFFICIAL_TEST_SETS, "MNIST and Fashion-MNIST only"),
              ("download", dataset in data.OFFICIAL_TEST_SETS, "MNIST and Fashion-MNIST only"),
              ("test_fraction", dataset not in data.OFFICIAL_TEST_SETS, "data sets without an official test set")]
    for key, used, what in unused:
        if given(key) and not used:
            print(f"{PROG}: note: --{key.replace('_', '-')} applies to {what}; {dataset} ignores it", file=sys.stderr)


def _check_memory(config: recipe.TrainConfig) -> None:
    """Refuse a network that cannot fit in memory, before allocating it (and before the system starts swapping)."""
    need, have = recipe.estimate_bytes(config), _available_memory()
    if have is not None and need > have:
        first = recipe.cnn.flat_features(config.conv, config.input_shape, config.padding) if config.conv else \
            config.in_features
        widths = "-".join(str(w) for w in [first, *config.hidden, config.out_features])
        flag, network, fix = ("--conv", f"--conv {_flag_text(config.conv)} network (its head {widths})",
                              "Use fewer or narrower --conv blocks") if config.conv else \
            ("--hidden", f"{widths} network", "Use fewer or smaller hidden layers")
        argtypes.fail(f"argument {flag}: a {network} with {config.optimizer} at batch {config.batch_size} needs "
                      f"about {need / 2**30:.1f} GiB; {have / 2**30:.1f} GiB of memory is available. {fix}, or a "
                      "smaller --batch-size")


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


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
            print(f"{PROG}: note: --resume takes --{key.replace('_', '-')} from the checkpoint: using "
                  f"{_flag_text(kept)}, not the given {_flag_text(given)}", file=sys.stderr)


def _check_schedule_length(new: recipe.TrainConfig, saved: recipe.TrainConfig, done: int, path: str) -> None:
    """Resuming to another total keeps a step or cosine schedule only when its span stays the same (step: 6 -> 8
    epochs, x0.1 every 2 either way); otherwise refuse. Kept, the old schedule would run on (cosine: lr 0 at the old
    end, then rising); rebuilt for the new total, the lr would jump mid-run: neither is the new total's schedule."""
    old_span, new_span = recipe.schedule_span(saved), recipe.schedule_span(new)
    if old_span == new_span:
        return
    shape = {"step": f"cuts the learning rate x0.1 every {old_span} epochs (a third of its {saved.epochs})",
             "cosine": f"anneals the learning rate to 0 over its {saved.epochs} epochs"}[saved.scheduler]
    finish = f"; to finish the saved run, resume with --epochs {saved.epochs}" if done < saved.epochs else ""
    argtypes.fail(f"argument --epochs: {path} was trained with --scheduler {saved.scheduler}, which {shape}, "
                  f"so resuming it to {new.epochs} epochs cannot follow the schedule of a "
                  f"{new.epochs}-epoch run. To train {new.epochs} epochs with this schedule, start a new run with "
                  f"--epochs {new.epochs} (no --resume){finish}")


def _resumed_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[Any, recipe.TrainConfig]:
    """The checkpoint to resume and its run's config, with the new total of epochs (by default the planned one)."""
    from nnblocks.errors import CheckpointError, InvalidValueError
    from nnblocks.train import read_checkpoint

    try:
        resumed = read_checkpoint(args.resume)
    except (CheckpointError, FileNotFoundError) as exc:
        argtypes.fail(f"argument --resume: {exc}")
    if not isinstance(resumed.config, dict) or resumed.config.get("kind") != recipe.KIND:
        argtypes.fail(f"argument --resume: {args.resume} was not written by `nnblocks train` (no run config)")
    _note_checkpoint_overrides(args, parser, resumed.config)
    try:
        saved = recipe.TrainConfig.from_dict(resumed.config)
    except (InvalidValueError, TypeError) as exc:
        argtypes.fail(f"argument --resume: {args.resume}: {exc}")
    epochs = saved.epochs if args.epochs is None else args.epochs
    if resumed.epoch > epochs:
        argtypes.fail(f"argument --epochs: {args.resume} has already run {resumed.epoch} epochs; give a total "
                            f">= {resumed.epoch}")
    config = replace(saved, epochs=epochs)
    _check_schedule_length(config, saved, resumed.epoch, args.resume)
    return resumed, config


def _load_data(config: recipe.TrainConfig, args: argparse.Namespace, resumed: Any) -> data.Splits:
    """The run's splits, or a one-line error: exit 2 for a file the user named (its contents are a bad --dataset
    value), 1 for the rest (a missing download, a split the data cannot fill)."""
    from nnblocks.errors import DataError, NNBlocksError

    try:
        return recipe.load_data(config, args.data_dir, args.download,
                                scaling_state=(resumed.extra or {}).get("scaler") if resumed else None)
    except data.DataFilesMissing as exc:
        argtypes.fail(missing_files_text(exc), 1)
    except NNBlocksError as exc:
        if isinstance(exc, DataError) and data.is_data_file(config.dataset):
            argtypes.fail(f"{exc}" if resumed else f"argument --dataset: {exc}")
        argtypes.fail(str(exc), 1)


def missing_files_text(exc: Any) -> str:
    """The missing MNIST-family files, and the flags that fix it."""
    split = "training" if exc.train else "test"
    where = f"{exc.folder}" + ("" if exc.folder.is_dir() else " (that folder does not exist)")
    return (f"{exc.name} {split} files not found in {where}: {', '.join(exc.missing)} (raw or .gz). Add "
            f"--download to fetch them, or --data-dir FOLDER if you have them elsewhere")


def _resume(args: argparse.Namespace, resumed: Any, model: Any, optimizer: Any, scheduler: Any,
            train_loader: Any) -> tuple[Any, int]:
    """Load the checkpoint into the freshly built parts; return its history and epoch count."""
    from nnblocks.errors import CheckpointError
    from nnblocks.train import History, load_checkpoint, loader_generators

    bad = resumed.nonfinite_weights()
    if bad:
        argtypes.fail(f"argument --resume: {args.resume}: {nonfinite_text(bad)}; resuming it cannot train", 1)
    try:
        load_checkpoint(args.resume, model, optimizer, scheduler, rng=loader_generators(train=train_loader))
    except CheckpointError as exc:
        argtypes.fail(f"argument --resume: {exc}")
    return resumed.history if resumed.history is not None else History(), resumed.epoch


def nonfinite_text(bad: dict[str, tuple[int, int]]) -> str:
    parts = [f"{key}: {count:,} of {size:,} values" for key, (count, size) in list(bad.items())[:3]]
    return f"its weights hold NaN or inf ({'; '.join(parts)}{' ...' if len(bad) > 3 else ''}): the run had diverged"


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
                print(f"{PROG}: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if count > 10:
        print(f"{PROG}: warning: ... and {count - 10} more gradient-check warnings", file=sys.stderr)
    return count


# ---- the command -----------------------------------------------------------------------------------------------------
def _prepare(args: argparse.Namespace) -> Run:
    """Everything before training: the config, the output folder's check, the data, the model and its parts."""
    from nnblocks.errors import InvalidValueError

    parser: argparse.ArgumentParser = args._parser
    if args.resume:
        if args.model:
            print(f"{PROG}: note: --resume takes the model from the checkpoint; --model {args.model} is ignored",
                  file=sys.stderr)
        resumed, config = _resumed_config(args, parser)
    else:
        _fill_model_flags(args, parser)
        _check_flag_combinations(args, parser)
        _note_ignored_flags(args, parser)
        resumed = None
        epochs = recipe.TrainConfig().epochs if args.epochs is None else args.epochs
        config = recipe.TrainConfig(**{k: getattr(args, k) for k in recipe.RUN_KEYS}, epochs=epochs)
    name = data.short_name(config.dataset)
    out = Path(args.out or os.path.join("nnblocks-out", f"train-{name}"))
    problem = argtypes.output_problem(out)  # the default folder too, before any work
    if problem is not None:
        argtypes.fail(f"argument --out: {problem}")
    splits = _load_data(config, args, resumed)
    warning = recipe.too_few_to_split(name, splits)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    try:
        config.images(splits)  # convolutions on images they fit, checked first: their errors name --conv
    except InvalidValueError as exc:
        parser.error(f"argument --conv: {exc}")
    try:
        config = config.with_data(splits)
    except InvalidValueError as exc:
        parser.error(f"argument --loss: {exc}")
    _check_memory(config)
    run = Run(args, name, out, config, splits, resumed)
    if resumed is not None:
        run.history, run.start_epoch = _resume(args, resumed, run.model, run.optimizer, run.scheduler,
                                               run.train_loader)
    return run


def run(args: argparse.Namespace) -> int:
    from nnblocks.train import evaluate
    from nnblocks.train.spot_check import DEFAULT_RTOL, SpotCheckWarning

    started = time.perf_counter()
    job = _prepare(args)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    if job.resumed is not None:
        say(f"resuming {args.resume} after epoch {job.start_epoch} of {job.config.epochs}")
    say(recipe.describe(job.name, job.config, job.splits, job.model))
    callbacks = job.callbacks()
    if not args.quiet and not (sys.stdout.isatty() and sys.stderr.isatty()):
        callbacks.append(_epoch_printer(job.config.epochs))
    fit_started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:  # gradient-check warnings are printed as one line each
        warnings.simplefilter("always", SpotCheckWarning)
        ended = job.fit(callbacks)
    mismatches = _report_warnings(caught)
    if ended is not None:
        return ended
    seconds = time.perf_counter() - fit_started
    job.save_final()
    config, history = job.config, job.history
    result = evaluate(job.model, job.test_loader, job.loss_fn, config.metrics,
                      return_predictions=config.task == "classification")
    paths = recipe.write_outputs(job.out, job.name, config, job.splits, job.model, history, result, job.boundary)
    paths.update(job.best_path())
    summary = recipe.summary(job.name, config, result, len(history), seconds, job.splits.held_out)
    if args.check_gradients and history.spot_checks:
        paths["gradient check plot"] = recipe.write_gradient_checks(job.out, job.name, history, args.check_gradients,
                                                                    DEFAULT_RTOL)
        summary += "\n  " + recipe.gradient_check_summary(history, mismatches, DEFAULT_RTOL)
    print(summary)
    for label, path in paths.items():
        print(f"  {label}: {path}")
    say(f"  (total {time.perf_counter() - started:.1f} s, data and plots included)")
    return 0
