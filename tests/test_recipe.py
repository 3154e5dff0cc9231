"""The recipe: a run's config and its JSON form, what its names build, the seeds, and checkpoints of older versions."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nnblocks import data, nn, optim, recipe
from nnblocks.cli import main
from nnblocks.errors import InvalidValueError
from nnblocks.experiments import chapter3
from nnblocks.optim import lr_scheduler
from nnblocks.train import fit, loader_generators, read_checkpoint, save_checkpoint

V1 = Path(__file__).parent / "data" / "v1_checkpoints"  # written by `nnblocks train` before configs had a version


def kinds(model):
    return [type(m).__name__ for m in model]


def sized(**settings) -> recipe.TrainConfig:
    return recipe.TrainConfig(in_features=784, out_features=10, **settings)


# ---- the config ------------------------------------------------------------------------------------------------------
def test_learning_rate_defaults_per_optimizer_and_names_are_checked():
    assert recipe.TrainConfig().lr == 1e-3 and recipe.TrainConfig(optimizer="sgd").lr == 0.01
    assert recipe.TrainConfig(optimizer="sgd", lr=0.5).lr == 0.5
    with pytest.raises(InvalidValueError, match="unknown optimizer 'lbfgs'; choose from sgd, adam"):
        recipe.TrainConfig(optimizer="lbfgs")
    with pytest.raises(InvalidValueError, match="unknown loss 'hinge'"):
        recipe.TrainConfig(loss="hinge")


def test_config_round_trips_through_json_and_reads_unversioned_configs():
    config = recipe.TrainConfig(dataset="moons", hidden=[16, 16], dropout=0.2, classes=["a", "b"])
    stored = json.loads(json.dumps(config.to_dict()))
    assert stored["kind"] == "nnblocks-train" and stored["version"] == recipe.VERSION == 3
    assert recipe.TrainConfig.from_dict(stored) == config
    old = read_checkpoint(V1 / "moons-2-epochs.npz").config
    assert "version" not in old and recipe.TrainConfig.from_dict(old).version == 1
    with pytest.raises(InvalidValueError, match=r"unknown settings \['colour'\]"):
        recipe.TrainConfig.from_dict({**stored, "colour": "blue"})


def test_with_data_fills_in_the_task_and_refuses_a_loss_that_does_not_fit():
    digits = recipe.load_data(recipe.TrainConfig())
    config = recipe.TrainConfig().with_data(digits)
    assert (config.loss, config.task, config.in_features, config.out_features, config.num_classes) == \
        ("cross-entropy", "classification", 64, 10, 10)
    assert config.metrics == ("accuracy",)
    line = recipe.TrainConfig(dataset="line")
    regression = line.with_data(recipe.load_data(line))
    assert regression.loss == "mse" and regression.out_features == 1 and regression.metrics is None
    with pytest.raises(InvalidValueError, match="cross-entropy needs class labels, but line has real-valued targets"):
        recipe.TrainConfig(dataset="line", loss="cross-entropy").with_data(recipe.load_data(line))
    with pytest.raises(InvalidValueError, match="bce needs exactly 2 classes, digits has 10"):
        recipe.TrainConfig(loss="bce").with_data(digits)
    circles = recipe.TrainConfig(dataset="circles", loss="bce")
    assert circles.with_data(recipe.load_data(circles)).out_features == 1  # one logit for two classes


# ---- what the names build --------------------------------------------------------------------------------------------
def test_the_weights_come_from_seed_1_as_a_hand_built_sequential():
    config = sized(hidden=[32, 16], seed=7)
    rng = np.random.default_rng([7, 1])
    by_hand = nn.Sequential(nn.Linear(784, 32, seed=rng), nn.ReLU(), nn.Linear(32, 16, seed=rng), nn.ReLU(),
                            nn.Linear(16, 10, seed=rng))
    built = recipe.build_model(config)
    for (key, a), (_, b) in zip(by_hand.state_dict().items(), built.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    # dropout adds Dropout modules, not different weights
    dropped = recipe.build_model(sized(hidden=[32, 16], seed=7, dropout=0.5))
    np.testing.assert_array_equal(dropped[1].weight.data, built[0].weight.data)


@pytest.mark.parametrize("hidden, batchnorm", [((1000,), False), ((64, 32), True)])
def test_train_dropout_builds_the_dropout_studys_network(hidden, batchnorm):
    """``nnblocks train --dropout 0.25`` and the chapter-3 dropout study: the same layers in the same order."""
    study = next(v for v in chapter3.DROPOUT.variants if v.model.dropout)
    study_model = replace(study.model, hidden=hidden, batchnorm=batchnorm)(784, 10, seed=0)
    cli_model = recipe.build_model(sized(hidden=list(hidden), dropout=0.25, batchnorm=batchnorm))
    assert kinds(cli_model) == kinds(study_model)
    assert kinds(cli_model)[:2] == ["Dropout", "Linear"]  # the book's order: dropout on the inputs too
    assert [m.p for m in cli_model if isinstance(m, nn.Dropout)] == [0.25] * (len(hidden) + 1)
    assert {k: v.shape for k, v in cli_model.state_dict().items()} == \
        {k: v.shape for k, v in study_model.state_dict().items()}


def test_one_mask_generator_seeded_with_seed_2():
    model = recipe.build_model(sized(hidden=[8], dropout=0.5, seed=3))
    generators = {id(m.rng) for m in model if isinstance(m, nn.Dropout)}
    assert len(generators) == 1
    assert model[0].rng.random() == np.random.default_rng([3, 2]).random()


def test_losses_optimizers_and_schedulers_by_name():
    assert [type(recipe.make_loss(n)).__name__ for n in recipe.LOSSES] == [
        "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "L1Loss"]
    model = recipe.build_model(sized(hidden=[]))
    sgd = recipe.make_optimizer(sized(optimizer="sgd", momentum=0.9, weight_decay=0.1), model.parameters())
    assert isinstance(sgd, optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    assert sgd.param_groups[0]["lr"] == 0.01 and sgd.param_groups[0]["weight_decay"] == 0.1
    assert isinstance(recipe.make_optimizer(sized(optimizer="adamw"), model.parameters()), optim.AdamW)
    step = recipe.make_scheduler(sized(scheduler="step", epochs=10), sgd)
    assert isinstance(step, lr_scheduler.StepLR) and step.step_size == 3 and step.gamma == 0.1  # a third of 10
    cosine = recipe.make_scheduler(sized(scheduler="cosine", epochs=0), sgd)
    assert cosine.T_max == 1  # a 0-epoch run still gets a valid schedule
    assert recipe.make_scheduler(sized(), sgd) is None


def test_targets_take_the_form_the_loss_wants():
    y = np.array([2, 0])
    assert recipe.targets_for_loss(y, "cross-entropy", 3) is y
    np.testing.assert_array_equal(recipe.targets_for_loss(y, "mse", 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(recipe.targets_for_loss(np.array([1, 0]), "bce", 2), [[1.0], [0.0]])
    targets = np.array([[0.5]], np.float32)
    assert recipe.targets_for_loss(targets, "l1", 0) is targets


def test_loaders_shuffle_from_seed_3_and_evaluate_in_big_batches():
    config = recipe.TrainConfig(dataset="moons", batch_size=16, seed=4)
    splits = recipe.load_data(config)
    config = config.with_data(splits)
    train, val, test = recipe.make_loaders(splits, config)
    assert train.batch_size == 16 and val.batch_size == test.batch_size == 512
    first_x, _ = next(iter(train))
    order = np.random.default_rng([4, 3]).permutation(len(splits.train[1]))[:16]
    np.testing.assert_array_equal(first_x.data, splits.train[0][order])
    book = data.split_dataset(data.load_dataset("moons"), data.BOOK_SPLIT)
    assert recipe.make_loaders(book, config)[2] is None  # no test part, no test loader


def test_a_config_needs_its_data_before_it_builds_a_model():
    with pytest.raises(InvalidValueError, match=r"complete it with config.with_data\(splits\) first"):
        recipe.build_model(recipe.TrainConfig())


def test_the_recipe_in_python_is_nnblocks_train_bit_for_bit(tmp_path, capsys):
    config = recipe.TrainConfig(dataset="moons", hidden=[16, 16], optimizer="sgd", scheduler="cosine", epochs=3)
    splits = recipe.load_data(config)
    config = config.with_data(splits)
    model = recipe.build_model(config)
    loss_fn = recipe.make_loss(config.loss)
    optimizer = recipe.make_optimizer(config, model.parameters())
    scheduler = recipe.make_scheduler(config, optimizer)
    train_loader, val_loader, _ = recipe.make_loaders(splits, config)
    fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=config.epochs, scheduler=scheduler,
        metrics=config.metrics, progress=False)
    assert main(["train", "--dataset", "moons", "--hidden", "16", "16", "--optimizer", "sgd", "--scheduler", "cosine",
                 "--epochs", "3", "--out", str(tmp_path), "--quiet", "--no-boundary"]) == 0
    saved = read_checkpoint(tmp_path / "model.npz").model_state
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)


# ---- checkpoints written before the config had a version -------------------------------------------------------------
def test_a_version_1_dropout_network_is_rebuilt_as_it_was():
    config = recipe.TrainConfig.from_dict(read_checkpoint(V1 / "moons-dropout-1-epoch.npz").config)
    model = recipe.build_model(config)
    assert kinds(model) == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert model[3].rng.random() == np.random.default_rng([0, 2, 0]).random()  # one generator per hidden layer


def test_version_1_checkpoints_still_evaluate(capsys):
    for name, line in [("moons-dropout-2-epochs.npz", "moons: test accuracy 56.2% (loss 0.72) on 16 samples"),
                       ("moons-2-epochs.npz", "moons: test accuracy 43.8% (loss 0.729) on 16 samples")]:
        assert main(["evaluate", str(V1 / name)]) == 0
        assert line in capsys.readouterr().out


def v1_run_here(tmp_path, epochs):
    """The version-1 dropout run of V1 trained on this machine from scratch, as `nnblocks train` ran it, saved as it
    saved it: ``(path, checkpoint)``."""
    config = recipe.TrainConfig.from_dict({**read_checkpoint(V1 / "moons-dropout-1-epoch.npz").config,
                                           "epochs": epochs})
    splits = recipe.load_data(config)
    model = recipe.build_model(config)
    optimizer = recipe.make_optimizer(config, model.parameters())
    train_loader, val_loader, _ = recipe.make_loaders(splits, config)
    history = fit(model, recipe.make_loss(config.loss), optimizer, train_loader, val_loader, epochs=epochs,
                  metrics=config.metrics, progress=False)
    path = save_checkpoint(tmp_path / f"here-{epochs}" / "model.npz", model, optimizer, epoch=epochs,
                           history=history, rng=loader_generators(train=train_loader), config=config.to_dict(),
                           extra={"scaler": splits.scaling})
    return path, read_checkpoint(path)


def resume_to_2(path, capsys):
    assert main(["train", "--resume", str(path), "--epochs", "2", "--out", str(path.parent), "--quiet",
                 "--no-boundary"]) == 0
    capsys.readouterr()
    return read_checkpoint(path.parent / "model.npz")


def test_a_version_1_checkpoint_resumes_bit_identically(tmp_path, capsys):
    # Bit for bit only on the same arithmetic: another CPU's exp and BLAS kernels round differently, and Adam's
    # first steps (lr * m / sqrt(v), about lr * sign(g)) turn those last-bit differences into 1e-4-sized ones. So the
    # bit-identity is checked between a run uninterrupted and a run resumed here, and against the files written on
    # the reference machine only when this machine reproduces their first epoch exactly.
    here1, first = v1_run_here(tmp_path, 1)
    _, whole = v1_run_here(tmp_path, 2)
    resumed = resume_to_2(here1, capsys)
    assert resumed.config["version"] == 1 and resumed.epoch == 2
    assert resumed.model_state.keys() == whole.model_state.keys()
    for key, value in whole.model_state.items():
        np.testing.assert_array_equal(resumed.model_state[key], value, err_msg=key)
    assert resumed.history["loss"] == whole.history["loss"]

    shutil.copy(V1 / "moons-dropout-1-epoch.npz", tmp_path / "model.npz")
    resumed, stored = resume_to_2(tmp_path / "model.npz", capsys), read_checkpoint(V1 / "moons-dropout-2-epochs.npz")
    reference = read_checkpoint(V1 / "moons-dropout-1-epoch.npz").model_state
    same_arithmetic = all(np.array_equal(first.model_state[k], v) for k, v in reference.items())
    for key, value in stored.model_state.items():
        if same_arithmetic:
            np.testing.assert_array_equal(resumed.model_state[key], value, err_msg=key)
        elif key.endswith(("weight", "bias")):
            # 4 Adam steps of lr 1e-3, each moving a weight by about lr (at most (1 - b1) / sqrt(1 - b2) lr = 3.2 lr
            # on the first): two runs of epoch 2 differ by at most the sum of both runs' moves, 2 x 4 x 3.2e-3
            np.testing.assert_allclose(resumed.model_state[key], value, rtol=0, atol=2.6e-2, err_msg=key)
