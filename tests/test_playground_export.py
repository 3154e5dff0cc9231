"""What a run exports: the Python code trains the same model bit for bit; the checkpoint loads and resumes."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import nn, recipe
from nnblocks.playground import export
from nnblocks.playground.session import Session
from nnblocks.playground.settings import Limits
from nnblocks.train import load_checkpoint

CASES = {
    "defaults": {},
    "plane, penalties, adam": {"dataset": "plane", "output": "linear", "l1": 0.001, "l2": 0.01, "optimizer": "adam",
                               "lr": 0.01},
    "blobs, dropout, mixed activations": {"dataset": "blobs", "classes": 3, "dropout": 0.2, "optimizer": "momentum",
                                          "hidden": [5, 4, 3], "activation": ["relu", "linear", "leaky_relu"]},
    "moons, sigmoid": {"dataset": "moons", "output": "sigmoid", "batch_size": 7, "seed": 4, "data_seed": 2},
    "circles, mse, no hidden layer": {"dataset": "circles", "output": "linear", "hidden": [], "noise": 0.5},
}


def run_code(code, epochs, namespace=None):
    namespace = {} if namespace is None else namespace
    code = code.replace("EPOCHS = 100", f"EPOCHS = {epochs}")
    exec(compile(code, "exported.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("changes", CASES.values(), ids=CASES)
def test_the_exported_code_ends_with_the_playgrounds_weights(changes, capsys):
    session = Session("t", Limits())
    session.update(changes)
    session.step(3 * len(session.run.train_loader))
    assert session.run.epoch == 3
    namespace = run_code(export.python_code(session.run), 3)
    ours, theirs = session.run.model.state_dict(), namespace["model"].state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        np.testing.assert_array_equal(theirs[key], ours[key])  # bit for bit
    printed = capsys.readouterr().out
    assert f"test loss {session.run.losses['test']:.4f}" in printed


def test_the_exported_code_of_an_upload_reads_the_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{x:.5f},{y:.5f},{int(x * y > 0)}" for x, y in rng.normal(size=(80, 2)))
    body = ("u,v,label\n" + rows + "\n").encode()
    session = Session("t", Limits())
    session.upload_csv(body, "quadrants.csv")
    session.step(2 * len(session.run.train_loader))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quadrants.csv").write_bytes(body)
    code = export.python_code(session.run)
    assert "data.read_table('quadrants.csv')" in code
    namespace = run_code(code, 2)
    np.testing.assert_array_equal(namespace["model"][0].weight.data, session.run.model[0].weight.data)


def test_the_checkpoint_resumes_the_run(tmp_path):
    session = Session("t", Limits())
    session.update({"optimizer": "adam", "lr": 0.01})
    session.step(30)
    path = tmp_path / export.filename(session.run, ".npz")
    path.write_bytes(export.checkpoint_bytes(session.run))
    # rebuild from the checkpoint alone, resume, and take the same next step as the session
    run = session.run
    model = nn.MLP(run.model.sizes, activation=list(run.settings.activation))
    optimizer = recipe.make_optimizer(run.config, model.parameters())
    ckpt = load_checkpoint(path, model, optimizer)
    assert ckpt.epoch == 1 and ckpt.config["settings"] == run.settings.to_dict()
    x, target = next(iter(run.train_loader))  # any batch: the same update on both
    for m, opt in ((model, optimizer), (run.model, run.optimizer)):
        opt.zero_grad()
        run.loss_fn(m(x), target).backward()
        opt.step()
    for key, value in run.model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value)
