"""Chapter 4's experiments: an MLP does not recognise a digit it has seen once it moves; a CNN does better.

- ``translation``: an MLP and a CNN trained on centred images, tested on the validation images shifted sideways
  (zeros come in on one side; nothing wraps round): accuracy against the shift, one plot.
- ``augmentation``: the same two networks again, and both trained on images shifted at random (each image of each
  batch by its own shift in the tested range): what the data can teach when the architecture does not.
- ``feature-maps``: the CNN's first-layer filters, and the feature maps of one validation image after each
  convolution.

The networks: the MLP is the chapter-3 one (inputs -> 1000 -> ReLU -> 10); the CNN is the book's chapter-4 network
(``nn.CNN``: Conv2d 64 and 128 of 3x3, each followed by MaxPool2d(2) and ReLU, then Linear 256 and 10). Both use Adam
1e-3, batch 32, pixels divided by their maximum, and the same seed.

Beside the book: each report has the book's record (``book/chapters.json``: the Chapter04 notebooks) and a verdict
computed from the accuracy-by-shift curves (``chapter4_findings``). The data is the command's (``--dataset``); the
book's translation and augmentation notebooks use Fashion-MNIST, its filter notebook images of X and O.

Shifts. MNIST's digits sit in a 20x20 box centred on 28x28 images, and the book shifts them by -5..+5 pixels: up to
a quarter of the digit's width. The 8x8 digits fill their whole frame, so they are first put on a 12x12 canvas (a
2-pixel margin, MNIST's 4-pixel margin scaled by 8/20) and shifted by -3..+3: +-2 is the book's +-5 scaled by 8/20,
and +-3 goes one pixel further, where part of the digit leaves the canvas (as +-5 does for some MNIST digits).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from nnblocks import nn, no_grad, optim, random as nb_random
from nnblocks.data import DataLoader, TensorDataset
from nnblocks.experiments import book
from nnblocks.experiments import chapter4_findings as found
from nnblocks.experiments.base import ExperimentResult, RunConfig, VariantResult
from nnblocks.experiments.data import ExperimentData
from nnblocks.experiments.report import epoch_rows, markdown_table, pct
from nnblocks.experiments.report_book import book_section
from nnblocks.experiments.runner import VAL_BATCH, EpochPrinter, final_metrics
from nnblocks.experiments.verdict import UNVERIFIED, Verdict
from nnblocks.tensor import Tensor
from nnblocks.train import fit
from nnblocks.viz.figures import new_figure, save_figure


# ---- images and shifts ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Canvas:
    """How the flat pixel rows of a data set become images to shift: ``side`` pixels a side, each digit in the
    middle of a canvas ``margin`` pixels wider on every side, shifted by -max_shift..+max_shift."""

    side: int
    margin: int
    max_shift: int

    @classmethod
    def for_data(cls, data: ExperimentData) -> "Canvas":
        side = int(round(np.sqrt(data.n_features)))
        if side * side != data.n_features:
            raise ValueError(f"chapter 4's studies need square images; {data.name} has {data.n_features} pixels a row")
        return cls(side, 2, 3) if side <= 8 else cls(side, 0, 5)

    @property
    def size(self) -> int:
        return self.side + 2 * self.margin

    @property
    def shifts(self) -> list[int]:
        return list(range(-self.max_shift, self.max_shift + 1))

    def images(self, X: np.ndarray, pixel_max: float) -> np.ndarray:
        """(N, size, size) float32 images in [0, 1] from raw flat rows."""
        out = np.zeros((len(X), self.size, self.size), np.float32)
        out[:, self.margin:self.margin + self.side, self.margin:self.margin + self.side] = \
            X.reshape(-1, self.side, self.side) / np.float32(pixel_max)
        return out

    def describe(self) -> str:
        embed = (f"each {self.side}x{self.side} digit centred on a {self.size}x{self.size} canvas, " if self.margin
                 else "")
        return f"{embed}shifted sideways by {self.shifts[0]}..+{self.max_shift} pixels (zeros fill in, nothing wraps)"


def shift_images(images: np.ndarray, shifts: Any) -> np.ndarray:
    """Each image (N, H, W) moved ``shifts`` pixels to the right (negative: left), zeros filling in. ``shifts`` is one
    int for all, or one per image; one slice assignment per distinct shift, never a loop over images."""
    shifts = np.broadcast_to(np.asarray(shifts, dtype=np.int64), (len(images),))
    out = np.zeros_like(images)
    for s in np.unique(shifts):
        chosen = shifts == s
        if s > 0:
            out[chosen, :, s:] = images[chosen, :, :-s]
        elif s < 0:
            out[chosen, :, :s] = images[chosen, :, -s:]
        else:
            out[chosen] = images[chosen]
    return out


class RandomShifts:
    """A loader's batches with each image shifted sideways by its own random amount in -max_shift..+max_shift
    (drawn from ``seed``): data augmentation. ``dataset`` and ``len`` are the wrapped loader's, so ``fit`` sees the
    same epochs."""

    def __init__(self, loader: DataLoader, shape: tuple[int, int], max_shift: int, seed: Any) -> None:
        self.loader, self.shape, self.max_shift = loader, shape, max_shift
        self.dataset, self.rng = loader.dataset, np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for x, y in self.loader:
            images = x.data.reshape(len(x.data), *self.shape)
            shifts = self.rng.integers(-self.max_shift, self.max_shift + 1, size=len(images))
            yield Tensor(shift_images(images, shifts).reshape(x.shape)), y


# ---- the networks and their training ----------------------------------------------------------------------------------
def build(kind: str, canvas: Canvas, seed: int) -> nn.Module:
    """``"MLP"``: size*size -> 1000 -> ReLU -> 10; ``"CNN"``: the book's chapter-4 network on (1, size, size)."""
    if kind == "MLP":
        return nn.MLP([canvas.size ** 2, 1000, 10], seed=np.random.default_rng(seed))
    return nn.CNN((1, canvas.size, canvas.size), channels=[64, 128], hidden=[256], out=10,
                  seed=np.random.default_rng(seed))


def train(kind: str, augment: bool, canvas: Canvas, data: ExperimentData, epochs: int,
          config: RunConfig, label: str) -> VariantResult:
    """Train one network on the (centred) training images, optionally shifted at random, validating on centred ones."""
    nb_random.manual_seed(config.seed)
    model = build(kind, canvas, config.seed)
    X_train = canvas.images(data.X_train, data.pixel_max).reshape(len(data.X_train), -1)
    X_val = canvas.images(data.X_val, data.pixel_max).reshape(len(data.X_val), -1)
    train_set = TensorDataset(X_train, data.y_train)
    loader: Any = DataLoader(train_set, batch_size=32, shuffle=True, seed=config.seed)
    if augment:
        loader = RandomShifts(loader, (canvas.size, canvas.size), canvas.max_shift, [config.seed, 4])
    started = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), loader,
                  DataLoader(TensorDataset(X_val, data.y_val), batch_size=VAL_BATCH), epochs=epochs,
                  callbacks=[EpochPrinter(config, label, epochs)], progress=False)
    seconds = time.perf_counter() - started
    name = kind + (" + random shifts" if augment else "")
    described = {"network": "inputs -> Linear 1000 -> ReLU -> Linear 10" if kind == "MLP" else
                 "Conv2d 64 -> MaxPool2d 2 -> ReLU -> Conv2d 128 -> MaxPool2d 2 -> ReLU -> Linear 256 -> ReLU -> "
                 "Linear 10", "parameters": f"{model.num_parameters():,}",
                 "training images": "shifted at random by " + f"-{canvas.max_shift}..+{canvas.max_shift}"
                 if augment else "centred"}
    result = VariantResult(name, described, history, seconds, model=model)
    result.final = final_metrics(model, history, DataLoader(train_set, batch_size=VAL_BATCH))
    return result


def accuracy_by_shift(model: nn.Module, images: np.ndarray, y: np.ndarray, shifts: list[int]) -> list[float]:
    """Accuracy (eval mode) on ``images`` shifted by each of ``shifts``."""
    model.eval()
    out = []
    with no_grad():
        for s in shifts:
            moved = shift_images(images, s).reshape(len(images), -1)
            predicted = np.concatenate([model(Tensor(moved[i:i + VAL_BATCH])).data.argmax(axis=1)
                                        for i in range(0, len(moved), VAL_BATCH)])
            out.append(float(np.mean(predicted == y)))
    return out


def step_seconds(kind: str, canvas: Canvas, seed: int, steps: int = 3) -> float:
    """One Adam step of ``kind`` at batch 32, in seconds: the mean of ``steps`` after one warm-up (for the estimate)."""
    model, loss_fn = build(kind, canvas, seed), nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    x, y = Tensor(np.zeros((32, canvas.size ** 2), np.float32)), Tensor(np.zeros(32, np.int64))
    started = 0.0
    for step in range(steps + 1):
        started = time.perf_counter() if step == 1 else started
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def estimate_training(kinds: list[str], canvas: Canvas, data: ExperimentData, epochs: int, seed: int) -> float:
    """Seconds to train each of ``kinds`` for ``epochs`` and to evaluate it on every shift: a forward pass costs about
    a third of a training step (backward ~2 forwards), per 32 images."""
    n_train, n_val, total = len(data.y_train), len(data.y_val), 0.0
    for kind in kinds:
        step = step_seconds(kind, canvas, seed)
        forwards = n_val * (epochs + len(canvas.shifts)) + n_train  # validation per epoch, the shifts, final train
        total += epochs * -(-n_train // 32) * step + forwards / 32 * step / 3
    return total


# ---- the studies --------------------------------------------------------------------------------------------------
def judge(result: ExperimentResult, verdict: Callable[[Any], Verdict] | None, config: RunConfig,
          data: ExperimentData) -> None:
    """Record what ``verdict.setting`` compares with the book (data, subset, the book's epochs), then the verdict."""
    record = book.record(result.name)
    book_epochs = next((v.value for v in record.values if v.name == "epochs"), None) if record else None
    result.extra.update(dataset=data.name, subset=config.subset, study_epochs=book_epochs, protocol=config.protocol)
    if verdict is None:
        return
    try:
        result.extra["verdict"] = verdict(result)
    except (KeyError, IndexError, ValueError, ZeroDivisionError) as exc:  # a curve missing
        result.extra["verdict"] = Verdict(UNVERIFIED, f"not computed from this run ({type(exc).__name__}: {exc})")


@dataclass(frozen=True)
class ShiftStudy:
    """Networks trained on centred (or randomly shifted) images, tested on shifted validation images."""

    name: str
    title: str
    description: str
    arms: tuple[tuple[str, bool], ...]  # (network kind, trained on random shifts?)
    notice: tuple[str, ...]
    epochs: int = 10
    chapter: int = 4
    verdict: Callable[[Any], Verdict] | None = None  # ExperimentResult -> Verdict beside the book's record

    def estimate_seconds(self, config: RunConfig, data: ExperimentData) -> float:
        epochs = config.epochs if config.epochs is not None else self.epochs
        return estimate_training([kind for kind, _ in self.arms], Canvas.for_data(data), data, epochs, config.seed)

    def run(self, config: RunConfig, data: ExperimentData) -> ExperimentResult:
        epochs = config.epochs if config.epochs is not None else self.epochs
        canvas = Canvas.for_data(data)
        config.say(f"{self.name}: {self.title} ({data.describe()}; {canvas.describe()}; {epochs} epochs)")
        started = time.perf_counter()
        variants = [train(kind, augment, canvas, data, epochs, config,
                          f"{self.name}/{kind}{' + shifts' if augment else ''}") for kind, augment in self.arms]
        images = canvas.images(data.X_val, data.pixel_max)
        curves = {v.name: accuracy_by_shift(v.model, images, data.y_val, canvas.shifts) for v in variants}
        result = ExperimentResult(self.name, self.title, self.description, f"{data.describe()}; {canvas.describe()}",
                                  epochs, config.seed, variants, time.perf_counter() - started, notice=self.notice)
        result.extra.update(shifts=canvas.shifts, accuracy_by_shift=curves, canvas=canvas)
        result.notes = shift_notes(canvas.shifts, curves)
        judge(result, self.verdict, config, data)
        if config.out is not None:
            write_shift_outputs(result, Path(config.out))
            config.say(f"{self.name}: report written to {Path(config.out) / 'report.md'}")
        return result


def shift_notes(shifts: list[int], curves: dict[str, list[float]]) -> list[str]:
    """Plain-words numbers: each network's accuracy centred, at +-1 and at the extremes, and its mean over shifts."""
    at = {s: i for i, s in enumerate(shifts)}
    notes = []
    for name, acc in curves.items():
        ends = f"{pct(acc[at[-1]])} / {pct(acc[at[1]])} at -1 / +1, {pct(acc[0])} / {pct(acc[-1])} at " \
               f"{shifts[0]} / +{shifts[-1]}"
        notes.append(f"{name}: {pct(acc[at[0]])} on centred images; {ends}; mean over the {len(shifts)} shifts "
                     f"{pct(float(np.mean(acc)))}")
    kinds = {name.split(" ")[0]: acc for name, acc in curves.items() if "+" not in name}
    if {"MLP", "CNN"} <= kinds.keys():
        gain = [c - m for c, m in zip(kinds["CNN"], kinds["MLP"])]
        notes.append("CNN minus MLP, trained on centred images, by shift: " + ", ".join(
            f"{s:+d}: {100 * g:+.1f} points" for s, g in zip(shifts, gain)))
    return notes


def _verdict_json(result: ExperimentResult) -> dict[str, str] | None:
    v = result.extra.get("verdict")
    return None if v is None else {"status": v.status, "measured": v.measured, "why": v.why}


def shift_figure(shifts: list[int], curves: dict[str, list[float]], title: str) -> Any:
    fig = new_figure((6.6, 4.2), margins=dict(left=0.11, right=0.97, top=0.9, bottom=0.13))
    ax = fig.add_subplot()
    styles = {"MLP": ("#1f77b4", "o"), "CNN": ("#d62728", "s")}
    for name, acc in curves.items():
        color, marker = styles.get(name.split(" ")[0], ("#555555", "^"))
        ax.plot(shifts, [100 * a for a in acc], marker=marker, color=color, label=name,
                linestyle="--" if "+" in name else "-")
    ax.set_xticks(shifts)
    ax.set_xlabel("shift of the validation images (pixels; negative: left)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(0, 100)
    ax.axhline(10, color="#999999", linewidth=0.8, linestyle=":")  # chance with 10 classes
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=10)
    return fig


def write_shift_outputs(result: ExperimentResult, out: Path) -> list[Path]:
    """``accuracy-by-shift.png``, ``report.md`` and ``results.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    shifts, curves = result.extra["shifts"], result.extra["accuracy_by_shift"]
    figure = save_figure(shift_figure(shifts, curves, f"{result.name}: accuracy on shifted images"),
                         out / "accuracy-by-shift.png")
    table = markdown_table(["network"] + [f"{s:+d}" for s in shifts],
                           [[name] + [f"{100 * a:.1f}" for a in acc] for name, acc in curves.items()])
    lines = [f"# `{result.name}`: {result.title}", "", result.description, "", "## Configuration", "",
             f"- data: {result.data}", f"- {result.epochs} epochs, Adam lr 1e-3, batch 32, pixels / their maximum, "
             f"seed {result.seed}; validation on centred images after every epoch", "",
             markdown_table(["variant"] + list(result.variants[0].config),
                            [[v.name] + list(v.config.values()) for v in result.variants]), "",
             "## Accuracy (%) on the validation images shifted by each number of pixels", "", table, "",
             "![accuracy by shift](accuracy-by-shift.png)", "",
             *book_section(result.name, result.extra.get("verdict"), result.extra.get("protocol", "nnblocks")),
             "## What to notice", ""]
    lines += [f"- {line}" for line in result.notice] + ["", "## Measured in this run", ""]
    lines += [f"- {line}" for line in result.notes] + ["", "## Per-epoch values", ""]
    for v in result.variants:
        header, rows = epoch_rows(v)
        lines += [f"### {v.name} ({v.seconds:.1f} s)", "", markdown_table(header, rows), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    numbers = {"name": result.name, "data": result.data, "epochs": result.epochs, "seed": result.seed,
               "shifts": shifts, "accuracy_by_shift": curves, "notes": result.notes,
               "final": {v.name: v.final for v in result.variants}, "verdict": _verdict_json(result)}
    (out / "results.json").write_text(json.dumps(numbers, indent=1), encoding="utf-8")
    result.out, result.files = out, [figure, report, out / "results.json"]
    return result.files


@dataclass(frozen=True)
class FeatureMapsStudy:
    """The trained CNN's first-layer filters and one validation image's feature maps after each convolution."""

    name: str = "feature-maps"
    title: str = "What the CNN's filters respond to: filters and feature maps"
    description: str = ("The book's chapter-4 CNN trained on centred images; then the 64 filters of its first layer "
                        "(3x3 weights, one grey scale centred at 0) and the feature maps of one validation image "
                        "after each Conv2d: 64 maps after the first, 128 after the second (the first 32 drawn).")
    notice: tuple[str, ...] = (
        "Many first-layer filters are oriented: a dark side next to a bright one responds to an edge of that "
        "orientation, wherever it is in the image (the same 9 weights slide everywhere).",
        "First-layer maps still look like the digit, each lit where its filter's pattern occurs; second-layer maps "
        "are smaller (after pooling) and more abstract: combinations of first-layer patterns.",
        "Some maps are (nearly) blank for this image: their filter's pattern does not occur in it.")
    epochs: int = 5
    chapter: int = 4
    verdict: Callable[[Any], Verdict] | None = found.feature_maps_verdict

    def estimate_seconds(self, config: RunConfig, data: ExperimentData) -> float:
        epochs = config.epochs if config.epochs is not None else self.epochs
        canvas = Canvas(Canvas.for_data(data).side, Canvas.for_data(data).margin, 0)
        return estimate_training(["CNN"], canvas, data, epochs, config.seed)

    def run(self, config: RunConfig, data: ExperimentData) -> ExperimentResult:
        from nnblocks.viz.feature_maps import feature_maps, plot_feature_maps, plot_filters

        epochs = config.epochs if config.epochs is not None else self.epochs
        canvas = Canvas(Canvas.for_data(data).side, Canvas.for_data(data).margin, 0)
        config.say(f"{self.name}: {self.title} ({data.describe()}; {epochs} epochs)")
        started = time.perf_counter()
        variant = train("CNN", False, canvas, data, epochs, config, f"{self.name}/CNN")
        image = canvas.images(data.X_val[:1], data.pixel_max)[0]
        maps = feature_maps(variant.model, image)
        result = ExperimentResult(self.name, self.title, self.description, data.describe(), epochs, config.seed,
                                  [variant], time.perf_counter() - started, notice=self.notice)
        conv1 = variant.model[0].weight.data
        result.notes = [f"validation accuracy {pct(variant.final['val_accuracy'])}; the image drawn is validation image "
                        f"0, a {int(data.y_val[0])}"]
        result.notes += [f"layer {name}: {m.shape[0]} maps of {m.shape[1]}x{m.shape[2]}, {np.mean(m > 0):.0%} of "
                         "the values positive (what the ReLU after the pooling keeps)" for name, m in maps.items()]
        result.notes.append(f"first-layer weights range over [{conv1.min():.3f}, {conv1.max():.3f}]")
        result.extra.update(maps=maps, image=image)
        judge(result, self.verdict, config, data)
        if config.out is not None:
            out = Path(config.out)
            out.mkdir(parents=True, exist_ok=True)
            plot_filters(variant.model[0], out / "filters.png", title="first-layer filters (Conv2d 1 -> 64, 3x3)")
            plot_feature_maps(maps, image, out / "feature-maps.png",
                              title=f"feature maps of one validation image (a {int(data.y_val[0])})")
            lines = [f"# `{self.name}`: {self.title}", "", self.description, "", f"- data: {result.data}",
                     f"- {epochs} epochs, Adam lr 1e-3, batch 32, seed {config.seed}", "",
                     "![filters](filters.png)", "", "![feature maps](feature-maps.png)", "",
                     *book_section(self.name, result.extra.get("verdict"), config.protocol), "## What to notice", ""]
            lines += [f"- {line}" for line in self.notice] + ["", "## Measured in this run", ""]
            lines += [f"- {line}" for line in result.notes] + [""]
            header, rows = epoch_rows(variant)
            lines += ["## Per-epoch values", "", markdown_table(header, rows), ""]
            (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
            result.out, result.files = out, [out / "filters.png", out / "feature-maps.png", out / "report.md"]
            config.say(f"{self.name}: report written to {out / 'report.md'}")
        return result


TRANSLATION = ShiftStudy(
    "translation", "An MLP and a CNN on shifted images",
    "An MLP and the book's CNN, trained on centred images, tested on the validation images shifted sideways.",
    arms=(("MLP", False), ("CNN", False)),
    notice=("Both networks are about equally good on centred images.",
            "The MLP's accuracy collapses within a pixel or two: every weight of its first layer belongs to one "
            "pixel position, so the same stroke one pixel further meets other weights it was never trained with.",
            "The CNN degrades more slowly: its filters slide over the whole image, so a shifted stroke still lights "
            "the same filters, only elsewhere in the feature map, and max pooling absorbs part of that move. It is "
            "not invariant: the Linear layers after Flatten still tie features to positions."),
    verdict=found.translation_verdict)

AUGMENTATION = ShiftStudy(
    "augmentation", "Random shifts during training",
    "The translation study again, plus both networks trained on images shifted at random (each image of each batch "
    "by its own shift in the tested range, drawn anew every epoch); all four tested on shifted validation images.",
    arms=(("MLP", False), ("CNN", False), ("MLP", True), ("CNN", True)),
    notice=("With random shifts in training both networks keep most of their accuracy across the tested range: the "
            "data teaches them what the MLP's architecture could not give it.",
            "The MLP learns each shift of each stroke as a separate pattern; the CNN's shared filters see a shifted "
            "stroke as the same one, so it needs less of that teaching. Where a shift pushes part of the digit off "
            "the canvas (the extremes on the 8x8 digits), no training brings the lost pixels back.",
            "Augmentation can cost a little accuracy on centred images, or more epochs: the task got harder."),
    verdict=found.augmentation_verdict)

FEATURE_MAPS = FeatureMapsStudy()

STUDIES = (TRANSLATION, AUGMENTATION, FEATURE_MAPS)
