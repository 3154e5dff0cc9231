"""``nnblocks evaluate CKPT``: rebuild a model saved by ``nnblocks train`` and measure it on a test set.

    nnblocks evaluate nnblocks-out/train-digits/model.npz
    nnblocks evaluate model.npz --dataset mnist --data-dir ~/data/mnist --out eval/

The checkpoint stores the run's config (architecture - an MLP, or a CNN for a ``--conv`` run -, data set, seed,
split fractions) and its input scaling, so the model and the very same test split are rebuilt from it; ``--dataset``
evaluates on another data set with the same number of features (a CNN: images of the same shape), e.g. a model
trained on MNIST, tested on Fashion-MNIST. Prints the test loss, the
accuracy and the confusion matrix (rows: true class, columns: predicted); with ``--out`` also saves
``confusion_matrix.png``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from nnblocks.cli import argtypes


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="measure a checkpoint saved by nnblocks train on a test set",
                              description=argtypes.plain(__doc__.split("\n\n")[0]),
                              formatter_class=argtypes.DefaultsFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a model.npz (or best.npz) written by nnblocks train")
    p.add_argument("--dataset", type=argtypes.dataset, default=None,
                   help="default: the data set the model was trained on")
    p.add_argument("--data-dir", default=None, help="folder holding the MNIST-format IDX files (default: "
                                                    "$NNBLOCKS_DATA/<name> if set, else ~/.cache/nnblocks/<name>)")
    p.add_argument("--download", action="store_true", help="download MNIST / Fashion-MNIST if missing")
    p.add_argument("--batch-size", type=argtypes.positive_int, default=512, help="samples per evaluation step")
    p.add_argument("--out", type=argtypes.output_dir, default=None,
                   help="folder for confusion_matrix.png (default: no plot)")
    p.set_defaults(func=run, _parser=p)


def _matrix_text(cm: Any, names: list[str]) -> str:
    width = max(max(len(n) for n in names), len(str(int(cm.max()))) if cm.size else 1) + 1
    lines = [" " * width + "".join(n.rjust(width) for n in names) + "   <- predicted"]
    for name, row in zip(names, cm):
        lines.append(name.rjust(width) + "".join(str(int(v)).rjust(width) for v in row))
    return "\n".join(lines)


def _config(args: argparse.Namespace) -> tuple[Any, Any]:
    """The checkpoint and the config of its run (with ``--dataset``), or a one-line error naming what is wrong."""
    from nnblocks import recipe
    from nnblocks.cli.train import nonfinite_text
    from nnblocks.errors import CheckpointError, InvalidValueError
    from nnblocks.train import read_checkpoint

    try:
        ckpt = read_checkpoint(args.checkpoint)
    except (CheckpointError, FileNotFoundError) as exc:
        argtypes.fail(f"argument CKPT: {exc}")
    if isinstance(ckpt.config, dict) and ckpt.config.get("kind") == "nnblocks-playground":
        # its points (a toy set drawn with the page's noise and data seed, or an uploaded CSV kept nowhere) are not
        # a data set a TrainConfig names, so there is no test split to rebuild
        argtypes.fail(f"argument CKPT: {args.checkpoint} was saved by the playground, whose points (the noise "
                      "slider, the data seed, an uploaded file) nnblocks evaluate cannot draw again; the playground's "
                      "\"download the Python code\" gives a script that rebuilds them, the model and its training")
    if not isinstance(ckpt.config, dict) or ckpt.config.get("kind") != recipe.KIND:
        argtypes.fail(f"argument CKPT: {args.checkpoint} holds no `nnblocks train` config, so the model cannot be "
                      "rebuilt from it (load it in Python with nnblocks.train.load_checkpoint(path, model))")
    try:
        config = recipe.TrainConfig.from_dict(ckpt.config)
    except (InvalidValueError, TypeError) as exc:
        argtypes.fail(f"argument CKPT: {args.checkpoint}: {exc}")
    bad = ckpt.nonfinite_weights()
    if bad:  # it would "evaluate" to chance accuracy and a NaN loss, which means nothing
        argtypes.fail(f"argument CKPT: {args.checkpoint}: {nonfinite_text(bad)}; evaluate a checkpoint from before "
                      "the divergence (best.npz beside it), or train again with a smaller --lr", 1)
    return ckpt, (replace(config, dataset=args.dataset) if args.dataset is not None else config)


def _splits(config: Any, args: argparse.Namespace, ckpt: Any) -> Any:
    from nnblocks import data, recipe
    from nnblocks.cli.train import missing_files_text
    from nnblocks.errors import DataError, NNBlocksError

    try:
        splits = recipe.load_data(config, args.data_dir, args.download, scaling_state=(ckpt.extra or {}).get("scaler"))
    except data.DataFilesMissing as exc:
        argtypes.fail(missing_files_text(exc), 1)
    except DataError as exc:
        argtypes.fail(f"argument --dataset: {exc}" if data.is_data_file(config.dataset) else str(exc),
                      2 if data.is_data_file(config.dataset) else 1)
    except (NNBlocksError, ValueError) as exc:  # e.g. the stored scaler does not fit this data set's features
        argtypes.fail(f"argument --dataset: {exc}")
    if splits.in_features != config.in_features:
        argtypes.fail(f"argument --dataset: {config.dataset} has {splits.in_features} features per sample but "
                      f"the model takes {config.in_features}")
    shape = list(splits.image_shape) if splits.image_shape is not None else None
    if config.conv and shape != config.input_shape:
        has = "rows of features with no image shape" if shape is None else f"{'x'.join(map(str, shape))} images"
        argtypes.fail(f"argument --dataset: the model is a CNN over {'x'.join(map(str, config.input_shape))} images, "
                      f"and {config.dataset} holds {has}")
    if splits.task != config.task:
        argtypes.fail(f"argument --dataset: {config.dataset} is a {splits.task} data set but the model was trained "
                      f"for {config.task}")
    if splits.task == "classification" and splits.num_classes > config.num_classes:
        argtypes.fail(f"argument --dataset: {config.dataset} has classes up to {splits.num_classes - 1} but the "
                      f"model tells {config.num_classes} classes apart (0..{config.num_classes - 1})")
    return splits


def run(args: argparse.Namespace) -> int:
    from nnblocks import data, recipe
    from nnblocks.errors import CheckpointError
    from nnblocks.train import confusion_matrix, evaluate, load_checkpoint

    ckpt, config = _config(args)
    splits = _splits(config, args, ckpt)
    name = data.short_name(config.dataset)
    warning = recipe.too_few_to_split(name, splits)
    if warning:
        print(f"nnblocks evaluate: warning: {warning}", file=sys.stderr)
    model = recipe.build_model(config)
    try:
        load_checkpoint(ckpt.path, model, restore_rng=False)
    except CheckpointError as exc:
        argtypes.fail(f"argument CKPT: {exc}")
    X, y = splits.test
    loader = data.DataLoader(data.TensorDataset(X, recipe.targets_for_loss(y, config.loss, config.num_classes)),
                             batch_size=args.batch_size)
    classification = config.task == "classification"
    result = evaluate(model, loader, recipe.make_loss(config.loss), config.metrics, return_predictions=classification)
    part = "test" if splits.held_out else "training-data"
    where = f"on {result['n']} samples ({args.checkpoint}, {recipe.epochs_text(ckpt.epoch)})"
    if not classification:
        print(f"{name}: {part} {config.loss} loss {result['loss']:.4g} {where}")
        return 0
    k = max(config.num_classes, splits.num_classes)
    cm = confusion_matrix(result["y_true"], result["y_pred"], k)
    print(f"{name}: {part} accuracy {result['accuracy']:.1%} (loss {result['loss']:.3g}) {where}")
    names = [str(c) for c in splits.classes] if splits.classes and len(splits.classes) == k else \
        [str(i) for i in range(k)]
    short = names if max(len(n) for n in names) <= 6 else [str(i) for i in range(k)]
    print(_matrix_text(cm, short))
    if args.out:
        from nnblocks.viz.training import plot_confusion_matrix, save_figure

        path = save_figure(plot_confusion_matrix(cm, names, title=f"{name}: {part} confusion matrix"),
                           Path(args.out) / "confusion_matrix.png")
        print(f"  confusion matrix: {path}")
    return 0
