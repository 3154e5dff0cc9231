"""Writing a study down: a Markdown report, its figures (every variant on one figure), and a JSON of the numbers.

Files written to the study's folder:

- ``report.md``: configuration, final metrics, what to notice, measured notes, and a per-epoch table per variant;
- ``curves.png``: training and validation loss and accuracy, one line per variant (a diverged variant's line stops
  where it diverged, marked with an x); ``learning-rate.png`` when a variant's rate changes during training;
- ``weights.png`` (studies about weights): a histogram of each layer's weights, one row per variant;
- ``activations.png`` (batch norm): hidden-layer outputs on validation images, one row per variant;
- ``results.json``: every history and final number, to compare runs without parsing Markdown.

``summary_markdown`` / ``summary_text`` make the one table of ``nnblocks experiment run all``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from nnblocks.experiments.base import ExperimentResult, VariantResult
from nnblocks.experiments.figures import activations_figure, curves_figure, learning_rate_figure, weights_figure
from nnblocks.experiments.report_book import book_section, verdict_rows
from nnblocks.viz.figures import save_figure


# ---- small formatting helpers ----------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table: 4 significant digits, 'nan'/'inf' spelled out, None as an em dash."""
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def pct(value: Any) -> str:
    """A fraction as a percentage; None (not measured: toy-sum has no accuracy) as an em dash, NaN (a diverged
    run) as 'nan'."""
    if value is None:
        return "—"
    return "nan" if not math.isfinite(float(value)) else f"{100 * float(value):.2f} %"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- the report ------------------------------------------------------------------------------------------------------
def results_rows(variants: Sequence[VariantResult]) -> list[list[str]]:
    rows = []
    for v in variants:
        f = v.final
        best = f"{pct(f.get('best_val_accuracy'))} (epoch {int(f['best_epoch'])})" if "best_epoch" in f else "—"
        rows.append([v.name, v.status, str(len(v.history)), fmt(f.get("loss")),
                     fmt(f.get("data_loss")) if "data_loss" in f else "—",
                     fmt(f.get("penalty")) if "penalty" in f else "—",
                     fmt(f.get("train_loss_eval")), pct(f.get("train_accuracy_eval")),
                     fmt(f.get("val_loss")), pct(f.get("val_accuracy")), best, f"{v.seconds:.1f} s"])
    return rows


RESULTS_HEADER = ["variant", "status", "epochs run", "train loss (logged)", "of which data", "of which penalty",
                  "train loss (eval)", "train acc (eval)", "val loss", "val acc", "best val acc", "time"]

COLUMNS_EXPLAINED = (
    "*train loss (logged)* is what `fit` recorded during the last epoch: the sample-weighted mean of the batch losses "
    "with the weights changing along the way, in training mode (dropout active, batch norm on batch statistics), "
    "and **including the penalty** for penalized variants (*of which data* / *of which penalty* split it); the "
    "curves' training loss is the same number. *train loss / acc (eval)* measure the final weights on the whole "
    "training set in eval mode without any penalty; compare those with *val loss / acc* (also eval mode, no "
    "penalty) to judge overfitting. In the per-epoch tables, *accuracy* is counted **during** the epoch, on "
    "batches seen while the weights changed (so after epoch 1 it can fall below the validation accuracy); "
    "*train_accuracy* (with `--protocol book`) is the book's second pass over the training set after the epoch.")


def notice_lines(result: ExperimentResult) -> list[str]:
    """The study's "what to notice": fixed sentences as they are, computed ones (functions) evaluated on this run."""
    lines = []
    for item in result.notice:
        if callable(item):
            try:
                item = item(result)
            except (KeyError, StopIteration, ValueError, ZeroDivisionError) as exc:  # a variant missing or diverged
                item = f"(a note could not be computed from this run: {type(exc).__name__} {exc})"
        lines.append(f"- {item}")
    return lines


EPOCH_KEYS = ("loss", "data_loss", "penalty", "accuracy", "train_accuracy", "val_loss", "val_accuracy",
              "val_accuracy_train_mode", "lr")


def epoch_rows(v: VariantResult) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in EPOCH_KEYS if k in v.history]
    header = ["epoch"] + keys + (["seconds"] if len(v.history.times) == len(v.history) else [])
    rows = []
    for i in range(len(v.history)):
        row = [str(v.history["epoch"][i])]
        for k in keys:
            value = v.history[k][i]
            row.append(pct(value) if "accuracy" in k else fmt(value, 3 if k == "lr" else 5))
        if len(header) > len(keys) + 1:
            row.append(f"{v.history.times[i]:.2f}")
        rows.append(row)
    return header, rows


def report_markdown(result: ExperimentResult, figures: Sequence[str] = ()) -> str:
    """The study's report as Markdown text (figures referenced by relative file name)."""
    out = [f"# `{result.name}`: {result.title}", "", result.description, "", "## Configuration", "",
           f"- data: {result.data}", f"- epochs: {result.epochs}; seed {result.seed} (every variant starts from the "
           "same initial weights where the architectures match, and sees the same sequence of shuffled batches)",
           "- loss: cross-entropy on the logits; validation in eval mode after every epoch", ""]
    variants = result.variants
    if variants and variants[0].config:
        keys = list(variants[0].config)
        out += [markdown_table(["variant"] + keys, [[v.name] + [v.config.get(k, "") for k in keys] for v in variants]),
                ""]
    out += ["## Results", "", markdown_table(RESULTS_HEADER, results_rows(variants)), "", COLUMNS_EXPLAINED, ""]
    out += [f"![{name}]({name})" for name in figures] + [""]
    out += book_section(result.name, result.extra.get("verdict"), result.extra.get("protocol", "nnblocks"),
                        result.extra.get("book_protocol", ()))
    if result.notice:
        out += ["## What to notice", ""]
        if "fashion-mnist" not in result.data.lower() and result.name != "toy-sum":
            # The notes describe the book's data; on other data the measured results below are what to trust.
            example = (" (e.g. digits' raw pixels only reach 16, which changes the scaling and learning-rate studies)"
                       if result.extra.get("dataset") == "digits" else "")
            out += [f"These notes describe the book's setting (Fashion-MNIST, pixels 0..255). This run used "
                    f"{result.data}, so where the measured results below disagree with them, the measurements are "
                    f"the finding{example}. Notes that begin with *Expected* are computed from this run.", ""]
        out += notice_lines(result) + [""]
    if result.notes:
        out += ["## Measured in this run", ""] + [f"- {line}" for line in result.notes] + [""]
    out += ["## Per-epoch values", ""]
    for v in variants:
        out += [f"### {v.name}", ""]
        if v.diverged:
            out += [f"**Diverged** after {len(v.history)} complete epoch(s): {v.diverged}", ""]
        if v.cuts:
            out += ["Learning-rate cuts (ReduceLROnPlateau, after the epoch named; the next epoch uses the new rate):", ""]
            out += [f"- after epoch {e}: {old:.4g} -> {new:.4g}" for e, old, new in v.cuts] + [""]
        if len(v.history):
            header, rows = epoch_rows(v)
            out += [markdown_table(header, rows), ""]
    return "\n".join(out).rstrip() + "\n"


def _json_number(x: float) -> Any:
    return x if math.isfinite(x) else str(x)


def results_json(result: ExperimentResult) -> dict[str, Any]:
    verdict = result.extra.get("verdict")
    return {"name": result.name, "title": result.title, "data": result.data, "epochs": result.epochs,
            "seed": result.seed, "seconds": result.seconds, "notes": result.notes,
            "protocol": result.extra.get("protocol", "nnblocks"),
            "verdict": None if verdict is None else {"status": verdict.status, "measured": verdict.measured,
                                                     "why": verdict.why},
            "variants": [{"name": v.name, "config": v.config, "status": v.status, "diverged": v.diverged,
                          "seconds": v.seconds, "final": {k: _json_number(x) for k, x in v.final.items()},
                          "cuts": [list(c) for c in v.cuts],
                          "history": {k: [_json_number(x) for x in col] for k, col in v.history.history.items()}}
                         for v in result.variants]}


def write_study_outputs(result: ExperimentResult, out: Path, data: Any = None) -> list[Path]:
    """Draw the study's figures and write ``report.md`` and ``results.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pictures = result.extra.get("pictures", ())
    figures = {"curves.png": curves_figure(result.variants, f"{result.name}: {result.title}")}
    if any(len(set(v.history["lr"])) > 1 for v in result.variants if "lr" in v.history):
        figures["learning-rate.png"] = learning_rate_figure(result.variants, f"{result.name}: learning rate")
    if "weights" in pictures:
        figures["weights.png"] = weights_figure(result.variants)
    if "activations" in pictures and data is not None:
        n = min(len(data.X_val), 1000)
        inputs = result.extra.get("inputs", {})  # variant name -> its Inputs (how its pixels were scaled)
        X = {v.name: inputs[v.name](data.X_val[:n], data.pixel_max) if v.name in inputs else data.X_val[:n]
             for v in result.variants}
        figures["activations.png"] = activations_figure(result.variants, X)
    files = [save_figure(fig, out / name) for name, fig in figures.items()]
    report = out / "report.md"
    report.write_text(report_markdown(result, list(figures)), encoding="utf-8")
    with open(out / "results.json", "w", encoding="utf-8") as f:
        json.dump(results_json(result), f, indent=1)
    result.out = out
    result.files = files + [report, out / "results.json"]
    return result.files


# ---- the summary of `run all` ------------------------------------------------------------------------------------------
SUMMARY_HEADER = ["study", "variant", "status", "train loss (eval)", "train acc (eval)", "val loss", "val acc",
                  "time"]


def summary_rows(results: Sequence[ExperimentResult]) -> list[list[str]]:
    rows = []
    for r in results:
        for v in r.variants:
            f = v.final
            rows.append([r.name, v.name, v.status, fmt(f.get("train_loss_eval")), pct(f.get("train_accuracy_eval")),
                         fmt(f.get("val_loss")), pct(f.get("val_accuracy")), f"{v.seconds:.1f} s"])
    return rows


def summary_markdown(results: Sequence[ExperimentResult], seconds: float, heading: str = "") -> str:
    lines = [f"# nnblocks experiments: summary", ""] + ([heading, ""] if heading else [])
    verdicts = verdict_rows(results)
    if verdicts:
        lines += ["## Beside the book", "", markdown_table(["study", "the book's conclusion", "verdict", "this run"],
                                                           verdicts), ""]
    lines += ["## Every variant", "", markdown_table(SUMMARY_HEADER, summary_rows(results)), "",
              "Train loss/accuracy: the final weights on the training set in eval mode, without penalty (toy-sum: "
              "the MSE of the final model on the four samples; it has no accuracy and no validation set, so those "
              "columns show —; nan means a diverged run). Time: training wall time of the variant.", "",
              "| study | wall time | report |", "|---|---|---|"]
    lines += [f"| {r.name} | {r.seconds:.1f} s | {r.out / 'report.md' if r.out else '—'} |" for r in results]
    lines += ["", f"Total wall time: {seconds:.1f} s", ""]
    return "\n".join(lines)


def summary_text(results: Sequence[ExperimentResult], seconds: float) -> str:
    verdicts = [[r[0], r[2]] for r in verdict_rows(results)]
    text = text_table(SUMMARY_HEADER, summary_rows(results))
    if verdicts:
        text += "\n\n" + text_table(["study", "beside the book"], verdicts)
    return text + f"\n\ntotal wall time {seconds:.1f} s"
