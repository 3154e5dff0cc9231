"""Chapter 2's experiment, ``toy-sum``: the framework's fundamentals on four samples of ``y = x1 + x2``.

``x = [[1,2],[3,4],[5,6],[7,8]]``, ``y = [[3],[7],[11],[15]]``, the network ``Linear(2,8) -> ReLU -> Linear(8,1)``,
MSE, SGD lr 0.001, 50 full-batch epochs. Then, in the order the chapter shows them:

1. the loss per epoch (and the very first step's numbers, kept so a test can redo that step by hand);
2. the prediction for ``[[10, 11]]`` (the true sum is 21);
3. the hidden layer's values after training, read with a forward hook, and again by calling the sub-modules; the
   hidden Linear's output before the ReLU, as the book prints it, and after it;
4. the same training with a ``DataLoader`` of batch size 2 (two updates per epoch), from the same initial weights;
5. ``summary()`` of the model;
6. a checkpoint round trip: save, load into a freshly built model with other weights, predict the same.

nnblocks' ``--seed 10`` draws other weights than PyTorch's ``torch.manual_seed(10)`` (another generator); with
``--protocol book`` both runs start from the weights PyTorch draws for seed 10 (stored with the book's numbers),
so the untrained loss and the hidden values are the book's own.
"""
from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks import nn, no_grad, optim, random as nb_random
from nnblocks.data import DataLoader, TensorDataset, chapter2_sum
from nnblocks.experiments import book
from nnblocks.experiments.base import ExperimentResult, RunConfig, VariantResult
from nnblocks.experiments.figures import whole_epochs, study_figure
from nnblocks.experiments.report import epoch_rows, fmt, markdown_table, notice_lines
from nnblocks.experiments.report_book import book_section
from nnblocks.experiments.verdict import DIFFERS, REPRODUCED, Verdict
from nnblocks.tensor import Tensor
from nnblocks.train import Callback, fit, load_checkpoint, save_checkpoint
from nnblocks.viz.figures import save_figure

NEW_INPUT = np.array([[10.0, 11.0]], dtype=np.float32)


def build_model(seed: int, protocol: str = "nnblocks") -> nn.Sequential:
    """``Linear(2, 8) -> ReLU -> Linear(8, 1)``, both layers initialised from one generator seeded with ``seed``;
    with ``protocol="book"``, PyTorch's draw for ``torch.manual_seed(10)`` instead (the book's seeded run)."""
    model = nn.MLP([2, 8, 1], activation="relu", seed=seed)
    if protocol == "book":
        weights = book.record("toy-sum").extra["pytorch_seed10_initial_weights"]["state_dict"]
        model.load_state_dict({k: np.asarray(v, dtype=np.float32) for k, v in weights.items()})
    return model


class FirstStep(Callback):
    """Keeps the weights before training and right after the first ``optimizer.step()``, and the first loss."""

    def __init__(self) -> None:
        self.before: dict[str, np.ndarray] = {}
        self.after: dict[str, np.ndarray] = {}
        self.loss = float("nan")

    def on_train_begin(self, ctx: Any) -> None:
        super().on_train_begin(ctx)
        self.before = dict(ctx.model.state_dict())

    def on_batch_end(self, batch: int, loss: float) -> None:
        if not self.after:
            self.after = dict(self.ctx.model.state_dict())  # type: ignore[union-attr]
            self.loss = loss


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with no_grad():
        out = model(Tensor(x)).data.copy()
    model.train()
    return out


def pre_activations(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """The hidden Linear's output on ``x``, before the ReLU: what the book prints (``input_to_hidden_layer(X)``)."""
    with no_grad():
        return model[0](Tensor(x)).data.copy()


def hidden_values(model: nn.Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ReLU layer's output on ``x``: once caught by a forward hook, once by calling ``model[0]`` then ``model[1]``."""
    caught: list[np.ndarray] = []
    handle = model[1].register_forward_hook(lambda module, inputs, output: caught.append(output.data.copy()))
    try:
        predict(model, x)
    finally:
        handle.remove()
    with no_grad():
        direct = model[1](model[0](Tensor(x))).data.copy()
    return caught[0], direct


def printed_tolerance(printed: np.ndarray) -> np.ndarray:
    """Half a unit in the last digit the book printed: its tensors show 5 significant digits (``-4.0139e-01``)."""
    magnitude = np.floor(np.log10(np.maximum(np.abs(printed), 1e-30)))
    return 0.5e-4 * 10.0 ** magnitude + 1e-6  # + float32 rounding of the computation itself


def toy_sum_verdict(result: ExperimentResult) -> Verdict:
    """The book's printed numbers against this run: exact matches expected only from PyTorch's seed-10 weights."""
    record, e = book.record("toy-sum"), result.extra
    hidden = np.asarray(record.value("hidden pre-activations after 50 epochs, seed 10 (rows: samples)"))
    loss = record.value("untrained loss, seed 10")
    worst = float(np.max(np.abs(e["pre_activations"] - hidden))) if result.epochs == 50 else math.nan
    within = result.epochs == 50 and bool(np.all(np.abs(e["pre_activations"] - hidden) <= printed_tolerance(hidden)))
    same_loss = abs(e["untrained_loss"] - loss) <= 0.5e-4
    hidden_line = (f"hidden pre-activations after 50 epochs off the book's by up to {worst:.2g}" if result.epochs == 50
                   else f"hidden pre-activations not compared (the book prints them after 50 epochs, this run "
                        f"stopped at {result.epochs})")
    measured = (f"{e['parameters']} parameters (book 33); untrained loss {e['untrained_loss']:.4f} (book {loss}); "
                f"{hidden_line}; "
                f"prediction for [10, 11] {e['prediction']:.4f} (book 20.7331, an unseeded run)")
    if within and same_loss and e["parameters"] == 33:
        return Verdict(REPRODUCED, measured, "every printed digit of the seeded run")
    why = ("nnblocks' seed draws other initial weights than torch.manual_seed(10): run --protocol book to start "
           "from PyTorch's draw" if e.get("protocol") != "book" else "")
    if result.epochs != 50:
        why = "; ".join(p for p in (why, f"{result.epochs} epochs, not the book's 50") if p)
    return Verdict(DIFFERS, measured, why)


def _mse(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((predict(model, x) - y) ** 2))


@dataclass(frozen=True)
class ToySum:
    name: str = "toy-sum"
    title: str = "Learning x1 + x2 from four samples (framework fundamentals)"
    chapter: int = 2
    epochs: int = 50
    lr: float = 0.001
    description: str = ("Linear(2, 8) -> ReLU -> Linear(8, 1), MSE, SGD lr 0.001, on x = [[1,2],[3,4],[5,6],[7,8]] and "
                        "y = x1 + x2: full batch, then a DataLoader of batch size 2; predictions, hidden values, "
                        "summary() and a checkpoint round trip.")
    notice: tuple[Any, ...] = (
        lambda r: (f"Expected: the loss falls by orders of magnitude: a tiny network learns the sum from four "
                   f"samples. This run: {r.variants[0].history['loss'][0]:.4g} -> "
                   f"{r.variants[0].history['loss'][-1]:.4g} in {r.epochs} epochs."),
        "The prediction for [10, 11] is close to 21 although no training input was that large: the ReLU network is "
        "piecewise linear and the target is linear, so it extrapolates well along this direction.",
        "With batch size 2 there are two updates per epoch instead of one, so per epoch the loss falls faster; "
        "the logged loss of an epoch is the mean over its batches, measured while the weights change.",
        "The hidden values read by the forward hook and by calling the sub-modules one after the other are the same "
        "numbers: a Sequential is just its layers applied in order.",
        "Hidden units that are 0 on all four inputs are 'dead' for this data: they receive no gradient.",
        "The checkpoint holds every parameter, the optimizer state and the history; a model built with other "
        "initial weights predicts identically once it is loaded.",
    )

    def _train(self, model: nn.Module, batch_size: int, epochs: int, seed: int,
               first: FirstStep | None = None) -> tuple[Any, Any, float]:
        x, y = chapter2_sum()
        optimizer = optim.SGD(model.parameters(), lr=self.lr)
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=batch_size < len(x), seed=seed)
        started = time.perf_counter()
        history = fit(model, nn.MSELoss(), optimizer, loader, epochs=epochs, metrics=None,
                      callbacks=[first] if first else [], record_batches=True, progress=False)
        return history, optimizer, time.perf_counter() - started

    def run(self, config: RunConfig, data: Any = None) -> ExperimentResult:
        epochs = config.epochs if config.epochs is not None else self.epochs
        seed = config.seed
        x, y = chapter2_sum()
        protocol = config.protocol
        config.say(f"{self.name}: {self.title} ({epochs} epochs, "
                   + ("PyTorch's seed-10 initial weights)" if protocol == "book" else f"seed {seed})"))
        started = time.perf_counter()
        nb_random.manual_seed(seed)

        model = build_model(seed, protocol)
        first_output = predict(model, x)
        first = FirstStep()
        history, optimizer, seconds = self._train(model, len(x), epochs, seed, first)
        config.say(f"  [full batch] loss {history['loss'][0]:.4g} -> {history['loss'][-1]:.4g}")

        model2 = build_model(seed, protocol)  # the same initial weights
        history2, _, seconds2 = self._train(model2, 2, epochs, seed)
        config.say(f"  [batch size 2] loss {history2['loss'][0]:.4g} -> {history2['loss'][-1]:.4g}")

        hooked, direct = hidden_values(model, x)
        prediction = predict(model, NEW_INPUT)
        summary = model.summary(input_shape=(2,))

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(config.out) if config.out is not None else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = save_checkpoint(folder / "toy-sum.npz", model, optimizer, epoch=len(history), history=history,
                                   config={"experiment": self.name, "seed": seed})
            loaded = build_model(seed + 1)  # other initial weights, overwritten by the load
            before_load = predict(loaded, NEW_INPUT)
            ckpt = load_checkpoint(path, loaded, restore_rng=False)
            after_load = predict(loaded, NEW_INPUT)
            roundtrip = {"path": str(path) if config.out is not None else None, "epoch": ckpt.epoch,
                         "prediction_before_load": float(before_load[0, 0]),
                         "prediction_after_load": float(after_load[0, 0]),
                         "max_abs_difference": float(np.max(np.abs(predict(loaded, x) - predict(model, x)))),
                         "history_restored": ckpt.history == history}

        variants = []
        for name, m, h, s in (("full batch", model, history, seconds), ("batch size 2", model2, history2, seconds2)):
            v = VariantResult(name, {"batch size": "4 (full batch)" if m is model else "2 (shuffled, seeded)",
                                     "updates per epoch": "1" if m is model else "2"}, h, s, model=m)
            # a regression on four samples: no accuracy, no validation set; the tables show those columns as "—"
            v.final = {"loss": h["loss"][-1], "train_loss_eval": _mse(m, x, y)}
            variants.append(v)
        result = ExperimentResult(self.name, self.title, self.description,
                                  "chapter2_sum: 4 samples, 2 inputs, target x1 + x2 (no validation set)", epochs, seed,
                                  variants, time.perf_counter() - started, notice=self.notice)
        result.extra.update(
            first_step={"initial": first.before, "output": first_output, "loss": first.loss, "after": first.after,
                        "lr": self.lr},
            prediction=float(prediction[0, 0]), hidden_hook=hooked, hidden_direct=direct, summary=summary,
            checkpoint=roundtrip, pre_activations=pre_activations(model, x), protocol=protocol,
            parameters=sum(p.numel() for p in model.parameters()), untrained_loss=float(np.mean((first_output - y) ** 2)))
        result.extra["verdict"] = toy_sum_verdict(result)
        result.notes += [f"prediction for [10, 11]: {prediction[0, 0]:.4f} (true sum 21)",
                         f"final MSE on the four samples: full batch {variants[0].final['train_loss_eval']:.4g}, "
                         f"batch size 2 {variants[1].final['train_loss_eval']:.4g}"]
        if config.out is not None:
            write_toy_sum_outputs(result, Path(config.out))
            config.say(f"{self.name}: report written to {Path(config.out) / 'report.md'}")
        return result


def _matrix(a: np.ndarray, row_names: list[str], col_prefix: str) -> str:
    header = [""] + [f"{col_prefix}{j}" for j in range(a.shape[1])]
    return markdown_table(header, [[r] + [f"{v:.4f}" for v in row] for r, row in zip(row_names, a)])


def write_toy_sum_outputs(result: ExperimentResult, out: Path) -> list[Path]:
    """``loss.png`` (both runs), ``report.md``; the checkpoint ``toy-sum.npz`` is already there."""
    out.mkdir(parents=True, exist_ok=True)
    fig = study_figure((6.5, 4.2))
    ax = fig.add_subplot()
    for v, color in zip(result.variants, ("#1f77b4", "#d62728")):
        ax.plot(v.history["epoch"], v.history["loss"], marker="o", markersize=3, color=color, label=v.name)
    ax.set_yscale("log")
    whole_epochs(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE (mean over the epoch's batches)")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title("toy-sum: loss per epoch", fontsize=10)
    figure = save_figure(fig, out / "loss.png")

    x, y = chapter2_sum()
    e = result.extra
    first, ckpt = e["first_step"], e["checkpoint"]
    samples = [str(list(map(int, row))) for row in x]
    lines = [f"# `{result.name}`: {result.title}", "", result.description, "", "## Configuration", "",
             f"- data: {result.data}", "- model: Linear(2, 8) -> ReLU -> Linear(8, 1), initial weights "
             + ("PyTorch draws for torch.manual_seed(10) (`--protocol book`)" if e.get("protocol") == "book" else
                f"from nnblocks' seed {result.seed} (not PyTorch's: `--seed 10` is another draw than the book's "
                "torch.manual_seed(10); `--protocol book` loads that one)") + "; both runs start from the same weights", f"- loss: MSE; optimizer SGD(lr={first['lr']:g}); "
             f"{result.epochs} epochs", "",
             markdown_table(["run"] + list(result.variants[0].config),
                            [[v.name] + list(v.config.values()) for v in result.variants]), "",
             "## Results", "",
             markdown_table(["run", "first epoch loss", "last epoch loss (logged)", "final MSE (final weights)"],
                            [[v.name, fmt(v.history["loss"][0]), fmt(v.history["loss"][-1]),
                              fmt(v.final["train_loss_eval"])] for v in result.variants]), "",
             f"![loss](loss.png)", "",
             f"**Prediction for [[10, 11]]: {e['prediction']:.4f}** (the true sum is 21).", "",
             "### The first step (full batch)", "",
             "Outputs of the initial network on the four samples: "
             + ", ".join(f"{v:.5f}" for v in first["output"].reshape(-1))
             + f"; first loss (MSE) {first['loss']:.6f}. The weights before and after that step are kept in the "
             "experiment's result (`extra['first_step']`), and the test suite redoes this step by hand in NumPy.", "",
             "### Hidden layer after training", "",
             "The hidden Linear's outputs before the ReLU (rows: samples, columns: the 8 hidden units), "
             "`model[0](x)`: what the book prints (`input_to_hidden_layer(X)`):", "",
             _matrix(e["pre_activations"], samples, "z"), "",
             "After the ReLU, read with a forward hook on `model[1]`:", "",
             _matrix(e["hidden_hook"], samples, "h"), "",
             "Calling the sub-modules directly, `model[1](model[0](x))`, gives "
             + ("exactly the same values." if np.array_equal(e["hidden_hook"], e["hidden_direct"])
                else f"values differing by up to {np.max(np.abs(e['hidden_hook'] - e['hidden_direct'])):.3g}.")
             + f" Units that are 0 on all four samples: {int(np.sum(np.all(e['hidden_hook'] <= 0, axis=0)))} of 8.", "",
             "### summary()", "", "```", e["summary"], "```", "",
             "### Checkpoint round trip", "",
             f"Saved to `{Path(ckpt['path']).name if ckpt['path'] else '(a temporary file)'}` (model, optimizer, "
             f"history; {ckpt['epoch']} epochs). A model built with other initial weights predicted "
             f"{ckpt['prediction_before_load']:.4f} for [10, 11]; after loading the checkpoint it predicts "
             f"{ckpt['prediction_after_load']:.4f}. Largest difference from the trained model's predictions on the "
             f"four samples: {ckpt['max_abs_difference']:g}; history restored: {ckpt['history_restored']}.", "",
             *book_section(result.name, e.get("verdict"), e.get("protocol", "nnblocks")),
             "## What to notice", "", *notice_lines(result), "", "## Per-epoch values", ""]
    for v in result.variants:
        header, rows = epoch_rows(v)
        lines += [f"### {v.name}", "", markdown_table(header, rows), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    result.out = out
    result.files = [figure, report] + ([Path(ckpt["path"])] if ckpt["path"] else [])
    return result.files


TOY_SUM = ToySum()
