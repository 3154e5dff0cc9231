"""What a run reports: a line describing it, a line of its test result, and its files (history and pictures).

The lines are text for the caller to print (``nnblocks train`` prints them; a notebook may show them); the files go
into one folder, and ``write_outputs`` returns ``{label: path}`` for everything it wrote. matplotlib is imported only
when pictures are drawn.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnblocks.data import Splits
from nnblocks.recipe import cnn
from nnblocks.recipe.config import TrainConfig


def describe(name: str, config: TrainConfig, splits: Splits, model: Any) -> str:
    """``digits: 1259 train / 179 validation / 359 test samples, 64 features; model 64-128-10 (9,610 parameters),
    adam lr 0.001, batch 32, cross-entropy loss``; with ``conv``, the images and the blocks instead: ``..., 1x8x8
    images; model conv 64-128 (3x3, same padding, max-pool 2: 8x8 -> 4x4 -> 2x2) -> 512-256-10 (...)``."""
    n_train, n_val, n_test = (len(y) for _, y in splits.parts())
    if splits.held_out:
        counts = f"{n_train} train / {n_val} validation / {n_test} test samples"
    else:
        counts = f"{n_train} samples (too few to hold any out: they train, validate and test)"
    if config.conv:
        inputs = f"{'x'.join(str(d) for d in config.input_shape)} images"
        flat = cnn.flat_features(config.conv, config.input_shape, config.padding)
        layers = f"{cnn.describe(config.conv, config.input_shape, config.padding)} -> " + \
            "-".join(str(w) for w in [flat, *config.hidden, config.out_features])
    else:
        inputs = f"{config.in_features} features"
        layers = "-".join(str(w) for w in [config.in_features, *config.hidden, config.out_features])
    return (f"{name}: {counts}, {inputs}; model {layers} ({model.num_parameters():,} parameters), "
            f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}, {config.loss} loss")


def too_few_to_split(name: str, splits: Splits) -> str | None:
    """A warning when ``splits`` could not hold any sample out (None otherwise): with the numbers, and what its
    "test" results then are."""
    if splits.held_out:
        return None
    from nnblocks.data.pipeline import MIN_SPLIT_SAMPLES

    n = len(splits.train[1])
    return (f"{name} has {n} samples, fewer than the {MIN_SPLIT_SAMPLES} needed to hold out validation and test "
            f"samples: training, validation and test are the same {n} rows, so every result below is measured on "
            "the training data")


def epochs_text(epochs: int) -> str:
    return f"{epochs} epoch" + ("" if epochs == 1 else "s") + (" (the untrained model)" if epochs == 0 else "")


def summary(name: str, config: TrainConfig, result: dict[str, Any], epochs: int, seconds: float,
            held_out: bool = True) -> str:
    """The test result of ``evaluate``: accuracy and loss (classification) or the loss (regression); without
    ``held_out`` samples it is called what it is, a result on the training data."""
    part = "test" if held_out else "training-data"
    if config.task == "classification":
        return (f"{name}: {part} accuracy {result['accuracy']:.1%} (loss {result['loss']:.3g}) after "
                f"{epochs_text(epochs)}, {seconds:.1f} s")
    return f"{name}: {part} {config.loss} loss {result['loss']:.4g} after {epochs_text(epochs)}, {seconds:.1f} s"


def gradient_check_summary(history: Any, mismatches: int, tolerance: float) -> str:
    """How many steps were checked, the largest relative error per parameter, and the number of mismatches."""
    from nnblocks.train.spot_check import summarize

    worst = "  ".join(f"{k} {v:.1e}" for k, v in summarize(history.spot_checks).items())
    verdict = f"{mismatches} MISMATCHES above {tolerance:g}" if mismatches else f"all below the tolerance {tolerance:g}"
    return (f"gradient checks ({len(history.spot_checks)} steps, largest relative error per parameter): {worst}; "
            f"{verdict}")


def boundary_snapshots(config: TrainConfig, epochs: int) -> Any:
    """For 2-D classification data (the toy sets), a callback keeping about 30 snapshots of the decision boundary
    during training, for ``write_outputs``' GIF; None for other data."""
    if config.task != "classification" or config.in_features != 2:
        return None
    from nnblocks.viz.pictures import BoundarySnapshots

    return BoundarySnapshots(every=max(1, epochs // 30))


def write_outputs(out: Path, name: str, config: TrainConfig, splits: Splits, model: Any, history: Any,
                  result: dict[str, Any], boundary: Any = None) -> dict[str, Path]:
    """``write_history`` (when there are epochs), and for classification ``confusion_matrix.png`` of the test
    predictions in ``result`` (``evaluate(..., return_predictions=True)``); with ``boundary`` (``BoundarySnapshots``)
    ``decision_boundary.png`` over the test points and ``decision_boundary.gif`` of the boundary forming. The first
    entry is the checkpoint, ``model.npz``, written during training."""
    from nnblocks.train import confusion_matrix
    from nnblocks.viz.training import plot_confusion_matrix, save_figure

    paths = {"checkpoint": out / "model.npz", **write_history(out, name, history)}
    if config.task == "classification":
        cm = confusion_matrix(result["y_true"], result["y_pred"], splits.num_classes)
        paths["confusion matrix"] = Path(save_figure(
            plot_confusion_matrix(cm, splits.classes, title=f"{name}: test confusion matrix"),
            out / "confusion_matrix.png"))
    if boundary is not None:
        from nnblocks.viz.pictures import animate_decision_boundary, plot_decision_boundary

        paths["decision boundary"] = out / "decision_boundary.png"
        plot_decision_boundary(model, *splits.test, path=paths["decision boundary"],
                               title=f"{name}: decision boundary (test points)")
        paths["decision boundary GIF"] = animate_decision_boundary(model, boundary, *splits.train,
                                                                   path=out / "decision_boundary.gif")
    return paths


def write_history(out: Path, name: str, history: Any) -> dict[str, Path]:
    """``history.csv``, ``history.json``, ``loss.png`` and (with accuracy) ``accuracy.png`` of the epochs in
    ``history``; nothing for a run of no epoch (there is nothing to tell)."""
    if not len(history):
        return {}
    from nnblocks.viz.training import plot_accuracy, plot_loss, save_figure

    out.mkdir(parents=True, exist_ok=True)
    paths = {"history": out / "history.csv", "history (json)": out / "history.json"}
    history.to_csv(paths["history"])
    history.to_json(paths["history (json)"])
    paths["loss plot"] = Path(save_figure(plot_loss(history, title=f"{name}: loss"), out / "loss.png"))
    if "accuracy" in history:
        paths["accuracy plot"] = Path(save_figure(plot_accuracy(history, title=f"{name}: accuracy"),
                                                  out / "accuracy.png"))
    return paths


def write_gradient_checks(out: Path, name: str, history: Any, every: int, tolerance: float) -> Path:
    """``gradient_check.png``: the relative error of every checked parameter, step by step, against ``tolerance``."""
    from nnblocks.viz.spot_check import plot_spot_checks
    from nnblocks.viz.training import save_figure

    figure = plot_spot_checks(history, tolerance=tolerance, title=f"{name}: gradient checks every {every} steps")
    return Path(save_figure(figure, out / "gradient_check.png"))
