"""Learning-rate schedulers: rates step by step against torch.optim.lr_scheduler, plateau cuts, state_dict, errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nnblocks as nb
from nnblocks.errors import CheckpointError, InvalidValueError
from nnblocks.optim import SGD, Adam
from nnblocks.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR

N_STEPS = 35
LRS = (0.1, 0.03)  # two param groups with their own rates

SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=7)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
]
CLASSES = {"StepLR": StepLR, "ExponentialLR": ExponentialLR, "CosineAnnealingLR": CosineAnnealingLR,
           "ReduceLROnPlateau": ReduceLROnPlateau}


def nb_optimizer() -> SGD:
    return SGD([{"params": [nb.Tensor(np.ones(2))], "lr": LRS[0]}, {"params": [nb.Tensor(np.ones(3))], "lr": LRS[1]}],
               lr=0.5, momentum=0.9)


def torch_optimizer(torch):
    return torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)], "lr": LRS[0]},
                            {"params": [torch.ones(3, requires_grad=True)], "lr": LRS[1]}], lr=0.5, momentum=0.9)


def rel_err(ours: list[float], ref: list[float]) -> float:
    return max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, ref, strict=True))


def schedule_parity_error(name: str, kwargs: dict) -> float:
    torch = pytest.importorskip("torch")
    opt, ref_opt = nb_optimizer(), torch_optimizer(torch)
    sched = CLASSES[name](opt, **kwargs)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **kwargs)
    worst = rel_err(sched.get_last_lr(), ref.get_last_lr())
    for _ in range(N_STEPS):
        opt.step()
        ref_opt.step()
        sched.step()
        ref.step()
        worst = max(worst, rel_err(sched.get_last_lr(), ref.get_last_lr()))
        worst = max(worst, rel_err([g["lr"] for g in opt.param_groups], [g["lr"] for g in ref_opt.param_groups]))
    assert sched.last_epoch == ref.last_epoch == N_STEPS
    return worst


@pytest.mark.parametrize("name,kwargs", SCHEDULERS)
def test_schedules_match_torch(name, kwargs):
    assert schedule_parity_error(name, kwargs) <= 1e-6


def test_closed_forms_by_hand():
    opt = nb_optimizer()
    step, expo, cos = StepLR(opt, 3, gamma=0.5), None, None
    seen = [step.get_last_lr()[0]]
    for _ in range(7):
        step.step()
        seen.append(step.get_last_lr()[0])
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], rel=1e-12)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and step.base_lrs == [0.1, 0.03]

    expo = ExponentialLR(nb_optimizer(), gamma=0.9)
    for _ in range(10):
        expo.step()
    assert expo.get_last_lr() == pytest.approx([0.1 * 0.9**10, 0.03 * 0.9**10], rel=1e-12)

    cos = CosineAnnealingLR(nb_optimizer(), T_max=10, eta_min=0.01)
    for e in range(1, 31):
        cos.step()
        closed = [0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 10)) / 2 for b in LRS]
        assert cos.get_last_lr() == pytest.approx(closed, rel=1e-6)
    assert cos.get_last_lr()[0] == pytest.approx(0.01)  # e = 30 = 3 T_max: at the bottom again


def test_scheduler_sets_initial_lr_once():
    opt = nb_optimizer()
    StepLR(opt, 2)
    opt.param_groups[0]["lr"] = 0.7
    second = ExponentialLR(opt, 0.5)  # a second scheduler keeps the first's initial_lr, like torch
    assert second.base_lrs == [0.1, 0.03] and second.get_last_lr() == [0.7, 0.03]


# ---- ReduceLROnPlateau --------------------------------------------------------------------------------------------
METRICS = [1.0, 0.9, 0.9, 0.8999, 0.95, 0.91, 0.89, 0.88, 0.88, 0.88, 0.88, 0.87995, 0.87, 0.9, 0.9, 0.9, 0.9, 0.9,
           0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
PLATEAU_CONFIGS = [
    dict(patience=2),
    dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(patience=0, factor=0.5, threshold=0.01, cooldown=1, min_lr=0.01),
    dict(patience=1, factor=0.5, min_lr=[0.02, 0.005]),
    dict(mode="max", patience=2, factor=0.3),
    dict(mode="max", patience=1, threshold=0.02, threshold_mode="abs", cooldown=3, eps=1e-3),
]


def plateau_run(kwargs: dict):
    """(our rates per epoch, torch's rates per epoch, our cuts, cuts inferred from torch's rate changes)."""
    torch = pytest.importorskip("torch")
    opt, ref_opt = nb_optimizer(), torch_optimizer(torch)
    sched = ReduceLROnPlateau(opt, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [2.0 - m for m in METRICS]
    ours, theirs, ref_cuts = [], [], []
    for metric in metrics:
        before = [g["lr"] for g in ref_opt.param_groups]
        sched.step(metric)
        ref.step(metric)
        ours.append(sched.get_last_lr())
        theirs.append(ref.get_last_lr())
        ref_cuts += [(ref.last_epoch, a, b) for a, b in zip(before, theirs[-1]) if a != b]
    assert sched.last_epoch == ref.last_epoch == len(metrics)
    assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == (ref.best, ref.num_bad_epochs,
                                                                          ref.cooldown_counter)
    return ours, theirs, sched.cuts, ref_cuts


@pytest.mark.parametrize("kwargs", PLATEAU_CONFIGS)
def test_reduce_on_plateau_matches_torch_and_logs_cuts(kwargs):
    ours, theirs, cuts, ref_cuts = plateau_run(kwargs)
    for a, b in zip(ours, theirs, strict=True):
        assert rel_err(a, b) <= 1e-6
    assert len(cuts) == len(ref_cuts) >= 2, "the scripted metrics must trigger several cuts"
    for (e, old, new), (re, rold, rnew) in zip(cuts, ref_cuts):
        assert e == re and old == pytest.approx(rold, rel=1e-12) and new == pytest.approx(rnew, rel=1e-12)


def test_reduce_on_plateau_by_hand(capsys):
    opt = nb_optimizer()
    sched = ReduceLROnPlateau(opt, patience=1, factor=0.5, min_lr=0.04, verbose=True)
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:  # bad epochs 1, 2 -> cut at epoch 3, then at 5
        sched.step(metric)
    # group 0: 0.1 -> 0.05 -> 0.04 (floored); group 1 already below min_lr: max(0.015, 0.04) > 0.03, never cut
    assert sched.cuts == [(3, 0.1, 0.05), (5, 0.05, 0.04)]
    assert sched.get_last_lr() == [0.04, 0.03]
    out = capsys.readouterr().out.splitlines()
    assert out == ["Epoch 3: reducing learning rate of group 0 from 1.0000e-01 to 5.0000e-02.",
                   "Epoch 5: reducing learning rate of group 0 from 5.0000e-02 to 4.0000e-02."]


# ---- state_dict -----------------------------------------------------------------------------------------------------
def make_scheduler(name, kwargs):
    opt = nb_optimizer()
    return opt, CLASSES[name](opt, **kwargs)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS + [("ReduceLROnPlateau", c) for c in PLATEAU_CONFIGS[:4]])
def test_state_dict_round_trip(name, kwargs):
    def advance(sched, epochs):
        for e in epochs:
            sched.step(METRICS[e]) if name == "ReduceLROnPlateau" else sched.step()
            rates.append(sched.get_last_lr())

    rates: list = []
    _, whole = make_scheduler(name, kwargs)
    advance(whole, range(25))
    expected, rates = rates, []

    opt, first = make_scheduler(name, kwargs)
    advance(first, range(10))
    assert rates == expected[:10]
    rates.clear()
    saved_opt, saved = opt.state_dict(), json.loads(json.dumps(first.state_dict()))  # JSON-friendly
    opt2, second = make_scheduler(name, kwargs)
    opt2.load_state_dict(saved_opt)
    second.load_state_dict(saved)
    advance(second, range(10, 25))
    assert rates == expected[10:]
    assert second.last_epoch == whole.last_epoch
    if name == "ReduceLROnPlateau":
        assert second.cuts == whole.cuts



@pytest.mark.parametrize("name,kwargs,damage,complaint", [
    ("StepLR", dict(step_size=3), lambda s: s.pop("gamma"), r"StepLR.load_state_dict: missing keys \['gamma'\]"),
    ("StepLR", dict(step_size=3), lambda s: s.update(step_size=2.5), r"'step_size' must be an int, got 2.5"),
    ("CosineAnnealingLR", dict(T_max=5), lambda s: s["_last_lr"].pop(),
     r"'_last_lr' has 1 entries, but the optimizer has 2 param group"),
    ("ExponentialLR", dict(gamma=0.9), lambda s: s.update(base_lrs="0.1"), r"'base_lrs' must be a list of numbers"),
    ("ReduceLROnPlateau", dict(), lambda s: s.update(mode=1), r"'mode' must be a string, got 1"),
    ("ReduceLROnPlateau", dict(), lambda s: s.update(cuts=[[3, 0.1]]), r"'cuts' must be \(epoch, old_lr, new_lr\)"),
    ("ReduceLROnPlateau", dict(), lambda s: s.update(min_lrs=[0.0, "0"]), r"'min_lrs' must be a list of numbers"),
])
def test_a_bad_state_is_refused_naming_what_is_wrong_and_changes_nothing(name, kwargs, damage, complaint):
    _, source = make_scheduler(name, kwargs)
    for e in range(4):
        source.step(METRICS[e]) if name == "ReduceLROnPlateau" else source.step()
    saved = json.loads(json.dumps(source.state_dict()))
    damage(saved)
    _, target = make_scheduler(name, kwargs)
    target.step(1.0) if name == "ReduceLROnPlateau" else target.step()
    before = target.state_dict()
    for method in (target.check_state_dict, target.load_state_dict):
        with pytest.raises(CheckpointError, match=complaint):  # a CheckpointError, where a KeyError used to escape
            method(saved)
        assert target.state_dict() == before

# ---- errors ---------------------------------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    opt = nb_optimizer()
    with pytest.raises(ValueError, match="factor should be < 1.0, got 1.5"):
        ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="'median'"):
        ReduceLROnPlateau(opt, mode="median")
    with pytest.raises(ValueError, match="'relative'"):
        ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(ValueError, match="expected 2 min_lrs.*got 3"):
        ReduceLROnPlateau(opt, min_lr=[0.1, 0.1, 0.1])
    with pytest.raises(TypeError, match="needs the metric"):
        ReduceLROnPlateau(opt).step()
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive integer, got -3"):
        CosineAnnealingLR(opt, T_max=-3)
    with pytest.raises(TypeError, match="expected an nnblocks Optimizer, got list"):
        StepLR([0.1], 2)
    with pytest.raises(InvalidValueError, match="initial_lr"):
        StepLR(Adam([nb.Tensor(np.ones(2))]), 2, last_epoch=4)
