"""One ``nnblocks train`` run once its data is loaded: its parts, and how it ends - finished, diverged or interrupted.

Every way of ending leaves a folder that means something and says what to do next:

- finished: ``model.npz`` (the last epoch), ``best.npz`` (the epoch of the lowest validation loss), history, plots;
- diverged: ``TrainingDiverged``'s facts turned into advice in flag terms (``--lr``, ``--momentum``, ``--scale``), and
  the epochs before it kept: the history and plots, ``model.npz`` (the last complete epoch) and ``best.npz``;
- interrupted (Ctrl-C): the history and plots of the complete epochs, the epoch ``model.npz`` holds, and the
  ``--resume`` command that continues it (exit status 130, as a shell reports a SIGINT).

Nothing is created before the first file is written, so a run that fails before its first epoch leaves no folder.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from nnblocks import data, recipe

PROG = "nnblocks train"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
LARGE_TARGET = 1e6  # regression targets beyond this make mse losses of 1e12 and more: worth naming when it diverges
LARGE_INPUT = 10.0  # unscaled inputs beyond this (raw pixels: 255) make large first-layer outputs and gradients
HIGH_STEP = 0.1  # a learning rate (over 1 - momentum) from here on is named even when the data explain a divergence


class Run:
    """The parts of one run (model, loss, optimizer, scheduler, loaders, history) and its checkpoints."""

    def __init__(self, args: argparse.Namespace, name: str, out: Path, config: recipe.TrainConfig,
                 splits: data.Splits, resumed: Any) -> None:
        from nnblocks.train import History

        self.args, self.name, self.out, self.config = args, name, out, config
        self.splits, self.resumed = splits, resumed
        self.model = recipe.build_model(config)
        self.loss_fn = recipe.make_loss(config.loss)
        self.optimizer = recipe.make_optimizer(config, self.model.parameters())
        self.scheduler = recipe.make_scheduler(config, self.optimizer)
        self.train_loader, self.val_loader, self.test_loader = recipe.make_loaders(splits, config)
        self.history, self.start_epoch = History(), 0
        self.stored = {"config": config.to_dict(), "extra": {"scaler": splits.scaling}}
        self.boundary = None if args.no_boundary else recipe.boundary_snapshots(config, config.epochs)
        self.best: Any = None  # the ModelCheckpoints of best.npz and model.npz, once callbacks() made them
        self.latest: Any = None

    def callbacks(self) -> list[Any]:
        """Checkpoints every epoch (``model.npz``) and at each new lowest validation loss (``best.npz``, which a
        resumed run keeps unless it does better); the decision-boundary snapshots on 2-D classification data."""
        from nnblocks.train import ModelCheckpoint

        seen = [v for v in (self.history["val_loss"] if "val_loss" in self.history else []) if math.isfinite(v)]
        self.best = ModelCheckpoint(self.out / "best.npz", save_best_only=True, monitor="val_loss",
                                    initial_best=min(seen) if seen else None, **self.stored)
        self.latest = ModelCheckpoint(self.out / "model.npz", **self.stored)
        return [self.latest, self.best] + ([self.boundary] if self.boundary is not None else [])

    def fit(self, callbacks: list[Any]) -> int | None:
        """Train; None when every epoch ran, else the exit status after reporting a divergence or an interruption."""
        from nnblocks.train import TrainingDiverged, fit

        tty = sys.stdout.isatty() and sys.stderr.isatty()
        try:
            fit(self.model, self.loss_fn, self.optimizer, self.train_loader, self.val_loader,
                epochs=self.config.epochs, metrics=self.config.metrics, callbacks=callbacks, scheduler=self.scheduler,
                progress=not self.args.quiet and tty, start_epoch=self.start_epoch, history=self.history,
                check_gradients=self.args.check_gradients)
        except TrainingDiverged as exc:
            return self._diverged(exc)
        except KeyboardInterrupt:
            return self._interrupted()
        return None

    def save_final(self) -> None:
        from nnblocks.train import loader_generators, save_checkpoint

        save_checkpoint(self.out / "model.npz", self.model, self.optimizer, self.scheduler, epoch=len(self.history),
                        history=self.history, rng=loader_generators(train=self.train_loader), **self.stored)

    def _ours(self, checkpoint: Any, path: Path) -> bool:
        """Whether ``path`` holds this run's checkpoint (written by it, or the one it resumed from the same folder),
        not a file an earlier run left in the output folder."""
        resumed_here = self.resumed is not None and (Path(self.args.resume).resolve().parent == path.resolve().parent)
        return path.is_file() and (getattr(checkpoint, "last_path", None) is not None or resumed_here)

    def best_path(self) -> dict[str, Path]:
        """``{"best checkpoint (epoch 7, val loss 0.08)": best.npz}`` when this run has one."""
        path = self.out / "best.npz"
        if "val_loss" not in self.history or not self._ours(self.best, path):
            return {}
        epoch, value = self.history.best("val_loss")
        return {f"best checkpoint (epoch {epoch}, val loss {value:.3g})": path}

    def _saved_epoch(self) -> int | None:
        """The epoch count of this run's ``model.npz`` (None when it has none yet, or it cannot be read)."""
        from nnblocks.errors import CheckpointError
        from nnblocks.train import read_checkpoint

        path = self.out / "model.npz"
        if not self._ours(self.latest, path):
            return None
        try:
            return read_checkpoint(path).epoch
        except (CheckpointError, OSError):
            return None

    # ---- how a run that did not finish ends --------------------------------------------------------------------------
    def _kept(self) -> list[str]:
        """Write what the complete epochs allow (history, plots); name every file the run leaves."""
        paths = recipe.write_history(self.out, self.name, self.history)
        saved = self._saved_epoch()
        lines = [f"  {label}: {path}" for label, path in paths.items()]
        if saved is not None:
            lines.insert(0, f"  checkpoint: {self.out / 'model.npz'} (epoch {saved})")
            lines[1:1] = [f"  {label}: {path}" for label, path in self.best_path().items()]
        return lines or ["  nothing was written: no epoch completed"]

    def _diverged(self, exc: Any) -> int:
        where = f"after epoch {exc.epoch} (validation)" if exc.batch is None else \
            f"in epoch {exc.epoch}, batch {exc.batch} of {len(self.train_loader)}"
        if exc.batch is not None and math.isfinite(exc.loss) and len(exc.history):
            what = f"the loss grew to {exc.loss:.3g} {where}, orders of magnitude above its best epoch"
        else:
            what = f"the {'validation ' if exc.batch is None else ''}loss became {exc.loss} {where}"
        print(f"{PROG}: error: training diverged: {what}. Likely cause: {'; '.join(self._advice(exc))}.",
              file=sys.stderr)
        for line in self._kept():
            print(line, file=sys.stderr)
        return 1

    def _advice(self, exc: Any) -> list[str]:
        """The likely causes, from the run's facts, in flag terms: the data's own first, then the learning rate
        (named whenever the step is large, and whenever nothing else explains it)."""
        config, advice = self.config, []
        if exc.input_finite is False:
            advice.append("the inputs hold NaN or inf values")
        kind = (self.splits.scaling or {}).get("kind")
        if kind == "none" and (exc.max_abs_input or 0) > LARGE_INPUT:
            advice.append(f"the inputs are not scaled (--scale none, and |x| reaches {exc.max_abs_input:g}): try "
                          "--scale auto")
        targets = self.splits.train[1]
        if config.task == "regression" and targets.size and float(np.abs(targets).max()) > LARGE_TARGET:
            advice.append(f"the targets reach |y| = {float(np.abs(targets).max()):.3g}, so {config.loss} losses "
                          "overflow float32: rescale the label column to a few units")
        momentum = config.momentum if config.optimizer in ("sgd", "rmsprop") and 0 < config.momentum < 1 else 0.0
        if exc.lr / (1 - momentum) >= HIGH_STEP or not advice:
            with_momentum = f" with --momentum {momentum:g} (steps up to {1 / (1 - momentum):.3g}x larger)" \
                if momentum else ""
            advice.append(f"--lr {exc.lr:g}{with_momentum} is too high: try --lr {exc.lr / 10:g}" +
                          (" or --momentum 0" if momentum else ""))
        if exc.weights_finite is False:
            advice.append("(some weights were already NaN/inf before that step)")
        return advice

    def _interrupted(self) -> int:
        done = len(self.history)
        print(f"\n{PROG}: interrupted in epoch {done + 1} of {self.config.epochs}", file=sys.stderr)
        for line in self._kept():
            print(line, file=sys.stderr)
        saved = self._saved_epoch()
        if saved is not None:
            command = ["nnblocks", "train", "--resume", str(self.out / "model.npz"), "--epochs",
                       str(self.config.epochs), "--out", str(self.out)]
            print(f"  continue from epoch {saved} with: {' '.join(shlex.quote(c) for c in command)}", file=sys.stderr)
        return INTERRUPTED

