"""Checkpoints: exact round trips, bit-identical resumption, atomic writes, and clear refusals of bad files."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, optim
from nnblocks.data import DataLoader, TensorDataset, moons
from nnblocks.errors import CheckpointError
from nnblocks.optim.lr_scheduler import CosineAnnealingLR, StepLR
from nnblocks.train import (
    History,
    ModelCheckpoint,
    fit,
    load_checkpoint,
    loader_generators,
    read_checkpoint,
    save_checkpoint,
)
from nnblocks.train import checkpoint as ckpt_module


def build(seed: int, hidden: int = 16):
    """A model whose training depends on three random streams: init, dropout masks, shuffling."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(2, hidden, seed=rng), nn.ReLU(), nn.Dropout(0.3, seed=np.random.default_rng(seed + 1)),
                          nn.BatchNorm1d(hidden), nn.Linear(hidden, 2, seed=rng))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    X, y = moons(160, seed=0)
    train = DataLoader(TensorDataset(X[:120], y[:120]), batch_size=16, shuffle=True, seed=np.random.default_rng(seed + 2))
    val = DataLoader(TensorDataset(X[120:], y[120:]), batch_size=40)
    return model, opt, sched, train, val


def trained_once(tmp_path):
    model, opt, sched, train, val = build(0)
    fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=2, scheduler=sched,
        callbacks=[ModelCheckpoint(tmp_path / "ck.npz")], progress=False)
    return model, opt, sched, tmp_path / "ck.npz"


def test_round_trip_restores_model_optimizer_scheduler_exactly(tmp_path):
    model, opt, sched, path = trained_once(tmp_path)
    model2, opt2, sched2, _, _ = build(7)
    ckpt = load_checkpoint(path, model2, opt2, sched2, restore_rng=False)
    assert ckpt.epoch == 2 and len(ckpt.history) == 2
    for key, value in model.state_dict().items():
        got = model2.state_dict()[key]
        assert got.dtype == value.dtype
        np.testing.assert_array_equal(got, value)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert sorted(a["state"]) == sorted(b["state"]) == list(range(6))  # int keys survive
    for i in a["state"]:
        assert a["state"][i]["step"] == b["state"][i]["step"]
        np.testing.assert_array_equal(a["state"][i]["exp_avg_sq"], b["state"][i]["exp_avg_sq"])
    assert sched.state_dict() == sched2.state_dict()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.005)
    with np.load(path, allow_pickle=False) as archive:  # plain arrays only: readable without pickle
        assert archive["__nnblocks__"].dtype.kind == "U"
        assert "model/0.weight" in archive.files and "model/3.running_mean" in archive.files


def test_resume_after_epoch_k_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    loss_fn = nn.CrossEntropyLoss()
    model, opt, sched, train, val = build(0)
    full = fit(model, loss_fn, opt, train, val, epochs=5, scheduler=sched, record_batches=True,
               callbacks=[ModelCheckpoint(tmp_path / "ck-{epoch}.npz")], progress=False)

    # A fresh process would build everything anew, with other seeds even: the checkpoint must override it all.
    model2, opt2, sched2, train2, val2 = build(123)
    ckpt = load_checkpoint(tmp_path / "ck-2.npz", model2, opt2, sched2, rng=loader_generators(train=train2))
    resumed = fit(model2, loss_fn, opt2, train2, val2, epochs=5, scheduler=sched2, record_batches=True,
                  start_epoch=ckpt.epoch, history=ckpt.history, progress=False)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(model2.state_dict()[key], value, err_msg=key)
    assert resumed == full and resumed["epoch"] == [1, 2, 3, 4, 5]
    assert resumed["lr"] == full["lr"] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])

    # The random states matter: without restoring them, the same resumption drifts away.
    model3, opt3, sched3, train3, val3 = build(123)
    ckpt = load_checkpoint(tmp_path / "ck-2.npz", model3, opt3, sched3, restore_rng=False)
    fit(model3, loss_fn, opt3, train3, val3, epochs=5, scheduler=sched3, start_epoch=2, history=ckpt.history,
        progress=False)
    assert not np.array_equal(model3.state_dict()["0.weight"], model.state_dict()["0.weight"])


def test_global_generator_state_is_saved_and_restored(tmp_path):
    nb.random.manual_seed(5)
    model = nn.Sequential(nn.Linear(2, 3))
    save_checkpoint(tmp_path / "g.npz", model)
    expected = nb.random.get_generator().random(4)
    nb.random.get_generator().random(10)  # move on
    load_checkpoint(tmp_path / "g.npz", model)
    np.testing.assert_array_equal(nb.random.get_generator().random(4), expected)


def test_interrupted_save_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    model, opt, sched, path = trained_once(tmp_path)
    old_bytes = path.read_bytes()
    old_weight = model.state_dict()["0.weight"].copy()
    real_savez = np.savez

    def savez_then_crash(file, **arrays):
        real_savez(file, **{k: arrays[k] for k in list(arrays)[:3]})  # part of the archive reaches the disk ...
        raise OSError("disk full")  # ... then the write fails

    monkeypatch.setattr(np, "savez", savez_then_crash)
    model.state_dict()  # the model has moved on since; try to overwrite the checkpoint
    for p in model.parameters():
        p.data += 1.0
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, sched, epoch=3)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]
    model2, opt2, sched2, _, _ = build(1)
    assert load_checkpoint(path, model2, opt2, sched2).epoch == 2
    np.testing.assert_array_equal(model2.state_dict()["0.weight"], old_weight)


def test_interrupted_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    model = nn.Linear(2, 2, seed=0)
    monkeypatch.setattr(ckpt_module.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m.npz", model)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "random", "empty", "flipped"])
def test_corrupt_files_are_refused_naming_the_file(tmp_path, damage):
    model, opt, sched, path = trained_once(tmp_path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # flip bytes inside the first stored array: the zip CRC check catches it
        start = data.index(b"model/0.weight.npy") + 200
        path.write_bytes(data[:start] + bytes(b ^ 0xFF for b in data[start:start + 64]) + data[start + 64:])
    target, _, _, _, _ = build(3)
    before = target.state_dict()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, target)
    assert str(path) in str(info.value)
    expected = {"random": "not an nnblocks checkpoint: not an .npz (zip) archive: the file starts with binary data",
                "empty": "not an nnblocks checkpoint: an empty file"}.get(damage, "truncated or corrupt")
    assert expected in str(info.value)
    assert "allow_pickle" not in str(info.value)  # NumPy's own words would suggest loading it unsafely
    for key, value in target.state_dict().items():  # nothing was loaded
        np.testing.assert_array_equal(value, before[key])


def test_wrong_architecture_is_refused_with_keys_and_shapes(tmp_path):
    model, opt, sched, path = trained_once(tmp_path)
    wider, _, _, _, _ = build(0, hidden=32)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, wider)
    message = str(info.value)
    assert str(path) in message and "0.weight (16, 2) in the state dict vs (32, 2) in the model" in message
    deeper = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"missing keys \['2.weight', '2.bias'\], unexpected keys \['3.weight'.*"
                                              r"'3.num_batches_tracked'\], shape mismatches: 4.weight \(2, 16\)"):
        load_checkpoint(path, deeper)
    with pytest.raises(CheckpointError, match="optimizer: the checkpoint holds Adam state, the optimizer given is SGD"):
        m, _, _, _, _ = build(0)
        load_checkpoint(path, m, optim.SGD(m.parameters(), lr=0.1))


def test_foreign_npz_and_npy_files_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match=r"other.npz: a .npz file but not an nnblocks checkpoint.*weights"):
        read_checkpoint(tmp_path / "other.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(CheckpointError, match="single.npy: not an nnblocks checkpoint: a single .npy array"):
        read_checkpoint(tmp_path / "single.npy")
    np.savez(tmp_path / "pickled.npz", __nnblocks__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickled.npz.*a Python object array.*could run code") as info:
        read_checkpoint(tmp_path / "pickled.npz")
    assert "allow_pickle" not in str(info.value)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes.txt: not an nnblocks checkpoint: not an .npz \(zip\) archive: "
                                              r"the file starts with text b'hello'"):
        read_checkpoint(tmp_path / "notes.txt")
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match=r"run is a folder, not a checkpoint file \(give the .npz"):
        read_checkpoint(tmp_path / "run")
    save_checkpoint(tmp_path / "run" / "model.npz", nn.Linear(2, 2, seed=0))
    with pytest.raises(CheckpointError, match=r"run is a folder, not a checkpoint file; did you mean .*model.npz\?"):
        read_checkpoint(tmp_path / "run")
    np.savez(tmp_path / "badmeta.npz", __nnblocks__=np.array("{not json"))
    with pytest.raises(CheckpointError, match="badmeta.npz.*not valid JSON"):
        read_checkpoint(tmp_path / "badmeta.npz")
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        read_checkpoint(tmp_path / "nothere.npz")


def test_missing_model_entries_are_detected(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3, seed=0))
    save_checkpoint(tmp_path / "m.npz", model)
    with zipfile.ZipFile(tmp_path / "m.npz") as src, zipfile.ZipFile(tmp_path / "cut.npz", "w") as dst:
        for item in src.infolist():
            if item.filename != "model/0.bias.npy":
                dst.writestr(item, src.read(item.filename))
    with pytest.raises(CheckpointError, match=r"cut.npz: incomplete checkpoint.*0.bias"):
        load_checkpoint(tmp_path / "cut.npz", model)


def test_config_extra_and_history_are_stored(tmp_path):
    model = nn.Sequential(nn.Linear(4, 2, seed=0))
    h = History()
    h.append({"epoch": 1, "loss": 0.25, "lr": 0.1}, seconds=0.5)
    config = {"hidden": [], "activation": "relu", "classes": ["a", "b"]}
    extra = {"scaler": {"kind": "standard", "mean": np.arange(4, dtype=np.float32), "std": np.ones(4)},
             "pair": (1, 2.5), "by_index": {0: "zero", 7: np.float32(1.5)}}
    save_checkpoint(tmp_path / "c.npz", model, epoch=1, history=h, config=config, extra=extra)
    ckpt = read_checkpoint(tmp_path / "c.npz")
    assert ckpt.config == config and ckpt.history == h and ckpt.epoch == 1
    np.testing.assert_array_equal(ckpt.extra["scaler"]["mean"], np.arange(4, dtype=np.float32))
    assert ckpt.extra["scaler"]["mean"].dtype == np.float32 and ckpt.extra["pair"] == (1, 2.5)
    assert ckpt.extra["by_index"] == {0: "zero", 7: np.float32(1.5)}
    assert type(ckpt.extra["by_index"][7]) is np.float32
    with pytest.raises(CheckpointError, match="cannot store a set"):
        save_checkpoint(tmp_path / "d.npz", model, extra={"bad": {1, 2}})
    assert not (tmp_path / "d.npz").exists()
    meta = json.loads(str(np.load(tmp_path / "c.npz")["__nnblocks__"]))
    assert meta["format"] == "nnblocks-checkpoint" and meta["model_shapes"] == {"0.weight": [2, 4], "0.bias": [2]}


# ---- all or nothing: a refused load changes nothing ----------------------------------------------------------------
def trained_target(seed: int = 7, groups: int = 1, scheduler: str = "step"):
    """A model, optimizer and scheduler that already hold state of their own (one epoch trained)."""
    model, _, _, train, val = build(seed)
    params = list(model.parameters())
    opt = optim.Adam(params if groups == 1 else [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}], lr=0.01)
    sched = StepLR(opt, step_size=1, gamma=0.5) if scheduler == "step" else CosineAnnealingLR(opt, T_max=4)
    fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=1, scheduler=sched, progress=False)
    return model, opt, sched


def snapshot(model, opt, sched):
    return (model.state_dict(), opt.state_dict(), sched.state_dict(), nb.random.get_generator().bit_generator.state,
            [p for group in opt.param_groups for p in group["params"]])


def assert_unchanged(before, model, opt, sched):
    model_state, opt_state, sched_state, rng_state, params = before
    now = model.state_dict()
    assert list(now) == list(model_state)
    for key, value in model_state.items():
        assert now[key].dtype == value.dtype
        np.testing.assert_array_equal(now[key], value, err_msg=key)
    now = opt.state_dict()
    assert now["param_groups"] == opt_state["param_groups"]
    assert sorted(now["state"]) == sorted(opt_state["state"]) and opt_state["state"]  # it had state to lose
    for i, entry in opt_state["state"].items():
        assert now["state"][i]["step"] == entry["step"]
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(now["state"][i][k], entry[k], err_msg=f"{i}.{k}")
    assert [p for group in opt.param_groups for p in group["params"]] == params  # still the model's own tensors
    assert all(a is b for a, b in zip(list(model.parameters()), params))
    assert sched.state_dict() == sched_state
    assert nb.random.get_generator().bit_generator.state == rng_state


def test_optimizer_with_other_groups_is_refused_and_nothing_changes(tmp_path):
    _, _, _, path = trained_once(tmp_path)  # one parameter group of 6 tensors
    model, opt, sched = trained_target(groups=2)
    before = snapshot(model, opt, sched)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, model, opt, sched)
    assert_unchanged(before, model, opt, sched)
    assert str(info.value) == (f"{path}: cannot load the optimizer state, nothing was changed: Adam.load_state_dict: "
                               "the saved state has 1 parameter group(s), this optimizer has 2")


def test_optimizer_of_another_class_is_refused_and_nothing_changes(tmp_path):
    model, _, _, train, val = build(0)
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, nn.CrossEntropyLoss(), sgd, train, val, epochs=1, progress=False)
    save_checkpoint(tmp_path / "sgd.npz", model, sgd, epoch=1)
    model2, opt2, sched2 = trained_target()
    before = snapshot(model2, opt2, sched2)
    with pytest.raises(CheckpointError, match=r"sgd\.npz: optimizer: the checkpoint holds SGD state, the optimizer "
                                              "given is Adam"):
        load_checkpoint(tmp_path / "sgd.npz", model2, opt2)
    assert_unchanged(before, model2, opt2, sched2)


def test_scheduler_of_another_class_is_refused_naming_both_and_nothing_changes(tmp_path):
    _, _, _, path = trained_once(tmp_path)  # holds StepLR state
    model, opt, sched = trained_target(scheduler="cosine")
    before = snapshot(model, opt, sched)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, model, opt, sched)
    assert_unchanged(before, model, opt, sched)
    assert str(info.value) == (f"{path}: scheduler: the checkpoint holds StepLR state, the scheduler given is "
                               "CosineAnnealingLR")


def rewrite_meta(path, change):
    """Rewrite a checkpoint's metadata with ``change(meta)``: a file damaged in a way only one part can see."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["__nnblocks__"][()]))
    change(meta)
    arrays["__nnblocks__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage,complaint", [
    (lambda s: s.pop("gamma"), r"StepLR.load_state_dict: missing keys \['gamma'\]"),
    (lambda s: s["base_lrs"].append(1.0), r"'base_lrs' has 2 entries, but the optimizer has 1 param group"),
    (lambda s: s.update(last_epoch="two"), r"'last_epoch' must be an int, got 'two'"),
])
def test_a_scheduler_state_only_the_scheduler_can_refuse_leaves_everything_unchanged(tmp_path, damage, complaint):
    _, _, _, path = trained_once(tmp_path)
    rewrite_meta(path, lambda meta: damage(meta["scheduler"]))
    model, opt, sched = trained_target()
    before = snapshot(model, opt, sched)
    # the model and the optimizer come first and are fine: checked, but not loaded, since the scheduler is refused
    with pytest.raises(CheckpointError, match=rf"ck\.npz: cannot load the scheduler state, nothing was changed: .*"
                                              rf"{complaint}"):
        load_checkpoint(path, model, opt, sched)
    assert_unchanged(before, model, opt, sched)
    _, _, _, path = trained_once(tmp_path)  # the objects still work: a correct load goes through
    load_checkpoint(path, model, opt, sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005) and sched.last_epoch == 2


def test_an_optimizer_moment_of_another_shape_is_refused_before_anything_is_loaded(tmp_path):
    _, _, _, path = trained_once(tmp_path)
    model, opt, sched = trained_target()
    before = snapshot(model, opt, sched)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["__nnblocks__"][()]))
    entry = meta["optimizer"]["state"]["__items__"][0][1]  # parameter 0's state: step, exp_avg, exp_avg_sq
    arrays[entry["exp_avg"]["__array__"]] = np.zeros((3, 3), dtype=np.float32)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=r"nothing was changed: Adam.load_state_dict: state 'exp_avg' of "
                                              r"parameter 0 has shape \(3, 3\), but the parameter has shape \(16, 2\)"):
        load_checkpoint(path, model, opt, sched)
    assert_unchanged(before, model, opt, sched)


def test_a_generator_that_cannot_take_its_state_is_refused_and_nothing_changes(tmp_path):
    model0, opt0, sched0, train0, _ = build(0)
    save_checkpoint(tmp_path / "r.npz", model0, opt0, sched0, epoch=0, rng=loader_generators(train=train0))
    model, opt, sched = trained_target()
    dropout_rng = model[2].rng  # a generator of the model, restored by the same load: untouched too
    before, dropout_state = snapshot(model, opt, sched), dropout_rng.bit_generator.state
    other_kind = np.random.Generator(np.random.MT19937(0))  # cannot take the saved PCG64 state
    with pytest.raises(CheckpointError, match=r"r\.npz: cannot load the random generator 'loader.train' state, "
                                              r"nothing was changed: a MT19937 generator cannot take this state"):
        load_checkpoint(tmp_path / "r.npz", model, opt, sched, rng={"loader.train": other_kind})
    assert_unchanged(before, model, opt, sched)
    assert dropout_rng.bit_generator.state == dropout_state
