"""Taking a run home: its checkpoint (``train.save_checkpoint``'s ``.npz``) and the Python code that rebuilds it.

The code is the run written out with the library's public names, in the order the playground builds it: the same
points (the toy set's call, or ``read_table`` of the CSV), split and scaled by the data pipeline, ``nn.MLP`` with the
recipe's seeds, loss/optimizer/loaders from ``recipe``, and the training step with its penalties. Run for the same
number of epochs, it ends with the same weights as the playground, bit for bit (``tests/test_playground_export.py``
checks it). Settings changed during a run (learning rate, optimizer...) are not replayed: the code trains the
current settings from the start.
"""
from __future__ import annotations

import os
import tempfile
from nnblocks.playground.dataset import toy_call
from nnblocks.playground.run import Run
from nnblocks.train import loader_generators, save_checkpoint

KIND = "nnblocks-playground"  # what the checkpoint's config says it is (``nnblocks train`` writes "nnblocks-train")


def checkpoint_bytes(run: Run) -> bytes:
    """The run as a checkpoint file: weights, optimizer state, random states, the settings as its config, and the
    fitted scaling and the loss curve as extra data."""
    config = {"kind": KIND, "settings": run.settings.to_dict(), "loss": run.loss_name,
              "sizes": list(run.model.sizes)}
    extra = {"scaler": run.points.splits.scaling, "curve": run.curve.to_dict()}
    with tempfile.TemporaryDirectory(prefix="nnblocks-playground-") as folder:
        path = os.path.join(folder, "model.npz")
        save_checkpoint(path, run.model, run.optimizer, epoch=run.epoch,
                        rng=loader_generators(train=run.train_loader), config=config, extra=extra)
        with open(path, "rb") as f:
            return f.read()


def _data_lines(run: Run) -> list[str]:
    s = run.settings
    if s.dataset == "upload":
        return [f"table = data.read_table({run.points.name!r})  # your CSV: two feature columns, labels last",
                "X, labels = table.features, table.labels"]
    function, kwargs = toy_call(s)
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return [f"X, labels = toy.{function}({args})"]


def _loss_line(run: Run) -> str:
    s, terms = run.settings, ["loss_fn(model(x), target)"]
    if s.l1:
        terms.append(f"{s.l1!r} * l1_penalty(weights)")
    if s.l2:
        terms.append(f"{s.l2!r} * l2_penalty(weights)")
    return "        loss = " + " + ".join(terms)


def python_code(run: Run, epochs: int = 100) -> str:
    """A script that builds and trains the run's model with nnblocks (``epochs`` epochs, printing the losses)."""
    s, c = run.settings, run.config
    metrics = '("accuracy",)' if run.points.task == "classification" else "None"
    lines = [
        f'"""The nnblocks playground\'s network: {s.dataset}, hidden layers {list(s.hidden)}, {s.output} output '
        f'({run.loss_name}), {s.optimizer} at lr {s.lr:g}.',
        "",
        "The same points, initial weights (seed " + str(s.seed) + ") and batches as the playground: after the same",
        'number of epochs, the same weights."""',
        "import numpy as np",
        "",
        "from nnblocks import data, nn, recipe",
        "from nnblocks.data import toy",
        "from nnblocks.train import evaluate",
        "from nnblocks.train.penalty import l1_penalty, l2_penalty",
        "",
        f"EPOCHS = {int(epochs)}",
        "",
        "# data: the pipeline's steps (what data.prepare does), one by one",
        *_data_lines(run),
        "y, task, classes = data.labels_to_task(labels)",
        f"splits = data.split_dataset(data.RawData({run.points.name!r}, X, y, task, classes),",
        f"                            data.SplitPlan(val_fraction={s.test_share!r}, test_fraction=0.0), "
        f"seed={s.data_seed})",
        'splits = data.scale_splits(splits, "standard")  # mean and std of the training points only',
        "",
        "# model, loss, optimizer, loaders: weights from seed [seed, 1], dropout masks [seed, 2], shuffling [seed, 3]",
        f"model = nn.MLP({list(run.model.sizes)}, activation={list(s.activation)}, dropout={s.dropout!r},",
        f"               seed=np.random.default_rng([{s.seed}, 1]), dropout_seed=np.random.default_rng([{s.seed}, 2]))",
        f"config = recipe.TrainConfig(dataset={s.dataset!r}, optimizer={c.optimizer!r}, lr={c.lr!r}, "
        f"momentum={c.momentum!r},",
        f"                            batch_size={c.batch_size}, seed={c.seed}, loss={c.loss!r})",
        "loss_fn = recipe.make_loss(config.loss)",
        "optimizer = recipe.make_optimizer(config, model.parameters())",
        "train_loader, test_loader, _ = recipe.make_loaders(splits, config)  # the held-out part is the test set",
        "weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]  # L1/L2 act on weights, not biases",
        "",
        "model.train()",
        "for epoch in range(1, EPOCHS + 1):",
        "    for x, target in train_loader:",
        "        optimizer.zero_grad()",
        _loss_line(run),
        "        loss.backward()",
        "        optimizer.step()",
        "    if epoch % 10 == 0 or epoch == EPOCHS:",
        f"        test = evaluate(model, test_loader, loss_fn, {metrics})",
        '        print(f"epoch {epoch}: last batch loss {loss.item():.4f}, test loss {test[\'loss\']:.4f}")',
        "",
    ]
    return "\n".join(lines)


def filename(run: Run, suffix: str) -> str:
    """``playground-spirals-8-8.npz``: the data set and the hidden widths."""
    widths = "-".join(str(h) for h in run.settings.hidden) or "linear"
    return f"playground-{run.settings.dataset}-{widths}{suffix}"
