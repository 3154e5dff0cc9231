"""What chapter 3's studies found, computed from a run: the "what to notice" sentences that make a measurable
claim, and each study's verdict beside the book (``verdict.Verdict``).

Every function takes an ``ExperimentResult`` of its study; ``chapter3`` puts them into the declarations. A notice
states the expectation and then what this run measured, so the report never asserts what the run did not show.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnblocks.experiments.verdict import (DIFFERS, REPRODUCED, UNVERIFIED, Verdict, final, gap, ordered, pct,
                                          train_accuracy, variant, with_setting)


def _seen(ok: bool) -> str:
    return "seen in this run" if ok else "NOT seen in this run"


# ---- computed notices ----------------------------------------------------------------------------------------------
def depth_fit_notice(result: Any) -> str:
    one, two = variant(result, "1 hidden"), variant(result, "2 hidden")
    l1, l2 = one.final["train_loss_eval"], two.final["train_loss_eval"]
    g1, g2 = gap(one), gap(two)
    return (f"Expected: the second hidden layer fits the training set faster (lower training loss, wider gap to "
            f"validation). This run: training loss (eval) 1 hidden {l1:.4g} against 2 hidden {l2:.4g}, gap "
            f"{100 * g1:+.2f} against {100 * g2:+.2f} points: {_seen(l2 < l1 and g2 > g1)}.")


def weight_change(v: Any, result: Any) -> float:
    """||W - W0|| / ||W0|| of the first Linear layer: how far training moved it from the seeded initial weights."""
    config = result.extra["configs"][v.name]
    first = next(p for name, p in v.model.named_parameters() if p.ndim == 2)
    n_in = first.shape[1]
    initial = config.model(n_in, next(p for p in reversed(list(v.model.parameters()))).shape[0], result.seed)
    w0 = next(p for name, p in initial.named_parameters() if p.ndim == 2).data
    return float(np.linalg.norm(first.data - w0) / np.linalg.norm(w0))


def low_lr_notice(result: Any) -> str:
    lows = [v for v in result.variants if "lr=1e-05" in v.name and len(v.history)]
    changes = {v.name: weight_change(v, result) for v in lows}
    still = [n for n, c in changes.items() if c < 0.05]
    return ("Expected: at lr 1e-5 the weights barely leave their initialisation in 5 epochs (histograms like the "
            "uniform start). This run, relative change of the first layer's weights: "
            + ", ".join(f"{n} {100 * c:.2f} %" for n, c in changes.items())
            + (f"; under 5 % (still the initialisation) for: {', '.join(still)}" if still else "; none under 5 %")
            + ". Raw inputs multiply the first layer's gradient by the pixel values, so the same rate moves it more.")


def dropout_gap_notice(result: Any) -> str:
    plain, drop = variant(result, "no dropout"), variant(result, "dropout 0.25")
    g0, g1 = gap(plain), gap(drop)
    return (f"Expected: with dropout the gap between training and validation accuracy is smaller. This run: "
            f"{100 * g0:+.2f} points without, {100 * g1:+.2f} with dropout: {_seen(g1 < g0)}"
            + (" (on a small subset or few epochs neither network overfits much yet)" if not g1 < g0 else "") + ".")


def penalty_gap_notice(result: Any) -> str:
    base = gap(variant(result, "none"))
    rows = [(v.name, gap(v)) for v in result.variants if v.name != "none" and math.isfinite(gap(v))]
    narrower = [n for n, g in rows if g < base]
    return (f"Expected: the penalties reduce the gap between training and validation accuracy. This run: none "
            f"{100 * base:+.2f} points; " + ", ".join(f"{n} {100 * g:+.2f}" for n, g in rows)
            + f": narrower for {', '.join(narrower) if narrower else 'none of them'}.")


def annealing_notice(result: Any) -> str:
    plateau = variant(result, "reduce on plateau")
    if not plateau.cuts:
        return (f"No epoch failed to improve the validation loss by 0.001 in these {result.epochs} epochs, so the "
                "scheduler never cut the rate and both runs are the same run (same seed, same batches).")
    return (f"The first cut came after epoch {plateau.cuts[0][0]}; with patience 0 every epoch that does not lower the "
            f"best validation loss by 0.001 halves the rate ({len(plateau.cuts)} cuts here, final rate "
            f"{plateau.cuts[-1][2]:.3g}). The rate of every epoch is in the per-epoch table"
            + (" and in learning-rate.png." if len(set(plateau.history["lr"])) > 1 else "."))


# ---- verdicts beside the book ----------------------------------------------------------------------------------------
def scaling_verdict(result: Any) -> Verdict:
    return ordered(result, "scaled", "raw", 5, "training accuracy (final weights)", key=train_accuracy)


def batch_size_verdict(result: Any) -> Verdict:
    return ordered(result, "batch-32", "batch-10000", 2,
                   why_not="with few training images both batch sizes make similar numbers of updates")


def optimizer_verdict(result: Any) -> Verdict:
    sgd, adam = final(result, "SGD"), final(result, "Adam")
    best = "Adam" if adam > sgd else "SGD"
    return Verdict(UNVERIFIED, f"validation accuracy: SGD {pct(sgd)}, Adam {pct(adam)}; {best} ahead",
                   with_setting("the book's result is only plotted and was not read", result))


def learning_rate_verdict(result: Any) -> Verdict:
    scaled = {v.name: final(result, v.name) for v in result.variants if v.name.startswith("scaled")}
    best = max(scaled, key=lambda n: scaled[n] if math.isfinite(scaled[n]) else -1.0)
    measured = "validation accuracy on scaled inputs: " + ", ".join(f"{n.split(' ')[1]} {pct(a)}"
                                                                     for n, a in scaled.items())
    ok = best == "scaled lr=0.001"
    return Verdict(REPRODUCED if ok else DIFFERS, measured, with_setting("" if ok else f"{best} did best", result))


def annealing_verdict(result: Any, book_cuts: tuple[int, ...] = (2, 8, 11, 14, 15, 16, 17)) -> Verdict:
    plateau = variant(result, "reduce on plateau")
    cuts = [e for e, _, _ in plateau.cuts]
    floor = bool(plateau.cuts) and math.isclose(plateau.cuts[-1][2], 1e-5)
    measured = (f"cuts after epochs {', '.join(map(str, cuts)) or 'none'} (book: {', '.join(map(str, book_cuts))}); "
                f"final rate {plateau.history['lr'][-1] if not plateau.cuts else plateau.cuts[-1][2]:.3g} (book: 1e-05)")
    why = "" if floor else "the rate did not reach the floor 1e-5"
    if floor and cuts != list(book_cuts):
        why = "same schedule behaviour; the cut epochs depend on the run's validation losses"
    return Verdict(REPRODUCED if floor else DIFFERS, measured, with_setting(why, result))


def depth_verdict(result: Any) -> Verdict:
    return ordered(result, "1 hidden", "0 hidden", 1)


def batchnorm_verdict(result: Any) -> Verdict:
    plain = final(result, "no batch norm")
    bn = result.extra.get("batchnorm_accuracy", {}).get("batch norm", (math.nan, math.nan))
    measured = (f"validation accuracy: no batch norm {pct(plain)}; batch norm {pct(bn[0])} in eval mode, "
                f"{pct(bn[1])} with the validation batch's own statistics (book, current notebook: ~86 %, approximate)")
    ok = 100 * (bn[0] - plain) >= 5
    why = ""
    if not ok and 100 * (bn[1] - plain) >= 5:
        why = ("batch norm helps only with batch statistics: in eval mode the hidden Linear's bias, jittering faster "
               "than the running mean follows, swamps a signal 1e-4 wide; the book's notebook trains in eval mode "
               "from epoch 2 (run --protocol book), where the running statistics are frozen and training adapts to them")
    return Verdict(REPRODUCED if ok else DIFFERS, measured, with_setting(why, result))


def dropout_verdict(result: Any) -> Verdict:
    g0, g1 = gap(variant(result, "no dropout")), gap(variant(result, "dropout 0.25"))
    ok = g1 < g0
    why = ""
    if not ok:
        why = (f"no overfitting for dropout to reduce (gap without dropout {100 * g0:+.2f} points)" if g0 < 0.01 else
               "the gap did not narrow in this run")
        if result.extra.get("protocol") == "book":
            why += "; both accuracies measured with dropout active, as the notebook does"
    return Verdict(REPRODUCED if ok else DIFFERS,
                   f"train - validation accuracy: {100 * g0:+.2f} points without dropout, {100 * g1:+.2f} with",
                   with_setting(why, result))


def regularization_verdict(result: Any) -> Verdict:
    g0, g1 = gap(variant(result, "none")), gap(variant(result, "L1 1e-4"))
    ok = g1 < g0
    l2 = variant(result, "L2 1e-2")
    squared = "unsquared" not in l2.config.get("penalty", "")
    return Verdict(REPRODUCED if ok else DIFFERS,
                   f"train - validation accuracy: none {100 * g0:+.2f} points, L1 {100 * g1:+.2f}, L2 "
                   f"{100 * gap(l2):+.2f} ({'squared' if squared else 'unsquared, as the book'})",
                   with_setting(("" if ok else "L1 did not narrow the gap")
                                + ("; the L2 here is squared on purpose, the book's is not: --protocol book"
                                   if squared else ""), result).lstrip("; "))
