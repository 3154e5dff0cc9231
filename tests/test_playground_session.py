"""The playground's engine side without a server: settings checks, a run's steps and reset, frames, the maths."""
from __future__ import annotations

import time

import numpy as np
import pytest

from nnblocks import nn
from nnblocks.autograd import no_grad
from nnblocks.playground import frames, maths
from nnblocks.playground.dataset import load_points
from nnblocks.playground.run import Curve, Run
from nnblocks.playground.session import Session
from nnblocks.playground.settings import Limits, Settings, SettingsError
from nnblocks.playground.store import SessionStore, TooManySessions, UnknownSession
from nnblocks.tensor import Tensor

LIMITS = Limits()


def make_run(**changes) -> Run:
    settings = Settings(dataset="spirals").updated(changes, LIMITS)
    return Run(settings, load_points(settings, None))


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


# ---- settings --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ([1, 2], "settings must be a JSON object"),
    ({"speed": 3}, r"unknown setting\(s\) \['speed'\]"),
    ({"lr": "fast"}, r"lr: expected a number in \[1e-06, 10\], got 'fast'"),
    ({"lr": 0}, r"lr: expected a number in"),
    ({"samples": 10}, r"samples: expected a whole number in \[20, 2000\], got 10"),
    ({"samples": 100.5}, r"samples: expected a whole number"),
    ({"classes": True}, r"classes: expected a whole number"),
    ({"hidden": [8] * 7}, r"hidden: expected a list of at most 6 layer widths"),
    ({"hidden": [8, 0]}, r"hidden\[1\]: expected a whole number in \[1, 16\], got 0"),
    ({"hidden": "8,8"}, r"hidden: expected a list"),
    ({"activation": ["tanh", "swish"]}, r"activation\[1\]: unknown value 'swish'; choose from tanh, relu"),
    ({"activation": ["tanh"]}, r"activation: one per hidden layer: 2 layer\(s\) \[8, 8\] but 1 activation"),
    ({"output": "softplus"}, r"output: unknown value 'softplus'; choose from softmax, sigmoid, linear"),
    ({"dataset": "mnist"}, r"dataset: unknown value 'mnist'"),
    ({"dropout": 0.95}, r"dropout: expected a number in \[0, 0.9\]"),
])
def test_refused_settings_name_the_setting(changes, message):
    with pytest.raises(SettingsError, match=message):
        Settings().updated(changes, LIMITS)


def test_new_layers_take_the_last_activation_and_caps_can_be_raised():
    s = Settings(activation=("relu", "tanh")).updated({"hidden": [8, 8, 4]}, LIMITS)
    assert s.activation == ("relu", "tanh", "tanh")
    assert s.updated({"hidden": [3]}, LIMITS).activation == ("relu",)
    assert Settings().updated({"hidden": [32] * 8}, Limits(max_layers=8, max_neurons=32)).hidden == (32,) * 8


@pytest.mark.parametrize("changes, message", [
    ({"dataset": "plane"}, "real-valued targets \\(regression\\): choose the linear output"),
    ({"classes": 3, "output": "sigmoid"}, "sigmoid output \\(BCE\\) tells 2 classes apart and spirals has 3"),
])
def test_outputs_that_do_not_fit_the_data_are_refused(changes, message):
    with pytest.raises(SettingsError, match=message):
        make_run(**changes)


# ---- a run -----------------------------------------------------------------------------------------------------------
def test_the_same_settings_give_the_same_initial_weights_and_steps():
    a, b = make_run(dropout=0.2), make_run(dropout=0.2)
    for k, v in weights(a.model).items():
        np.testing.assert_array_equal(v, b.model.state_dict()[k])
    for _ in range(45):  # past the end of an epoch (20 batches of 10)
        assert a.train_step() and b.train_step()
    assert a.epoch == 2 and a.batch == 5 and a.step == 45
    for k, v in weights(a.model).items():
        np.testing.assert_array_equal(v, b.model.state_dict()[k])
    assert a.curve.epochs == [0, 1, 2]
    assert a.losses == b.losses


def test_initial_weights_are_the_recipes_seed_stream():
    run = make_run(seed=5, hidden=[4])
    expected = nn.MLP([2, 4, 2], activation=["tanh"], seed=np.random.default_rng([5, 1]))
    for k, v in expected.state_dict().items():
        np.testing.assert_array_equal(run.model.state_dict()[k], v)


def test_a_step_moves_the_weights_by_the_optimizer_rule():
    run = make_run(hidden=[3], lr=0.1)
    before = weights(run.model)
    run.train_step()
    x, target = run.last_batch
    check = nn.MLP([2, 3, 2], activation=["tanh"], seed=np.random.default_rng([0, 1]))
    loss = run.loss_fn(check(x), target)
    loss.backward()
    for (name, p), (_, q) in zip(run.model.named_parameters(), check.named_parameters()):
        np.testing.assert_allclose(p.data, before[name] - 0.1 * q.grad, rtol=1e-6, atol=1e-7)
    assert [g["name"] for g in run.grad_norms] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert run.grad_norms[0]["norm"] == pytest.approx(np.linalg.norm(check[0].weight.grad), rel=1e-6)


def test_penalties_enter_the_objective():
    run = make_run(l1=0.01, l2=0.1)
    x, target = run.current_batch()
    out = run.model(x)
    data_loss = run.loss_fn(out, target).item()
    w = [m.weight.data.astype(np.float64) for m in run.model.modules() if isinstance(m, nn.Linear)]
    expected = data_loss + 0.01 * sum(np.abs(a).sum() for a in w) + 0.1 * sum((a * a).sum() for a in w)
    assert run.objective(out, target).item() == pytest.approx(expected, rel=1e-5)


def test_a_diverging_run_stops_with_a_message_and_keeps_its_last_finite_weights():
    run = make_run(dataset="plane", output="linear", lr=10.0, hidden=[8, 8], activation=["relu", "relu"])
    for _ in range(200):
        before = weights(run.model)
        if not run.train_step():
            break
    assert run.error is not None and "training diverged" in run.error and "learning rate 10" in run.error
    for k, v in before.items():
        np.testing.assert_array_equal(run.model.state_dict()[k], v)


def test_training_settings_change_the_running_model_in_place():
    run = make_run()
    run.train_step()
    kept = weights(run.model)
    run.apply_training(run.settings.updated({"lr": 0.1, "batch_size": 25, "optimizer": "adam"}, LIMITS))
    assert run.optimizer.param_groups[0]["lr"] == 0.1 and type(run.optimizer).__name__ == "Adam"
    assert run.train_loader.batch_size == 25 and len(run.train_loader) == 8
    for k, v in kept.items():
        np.testing.assert_array_equal(run.model.state_dict()[k], v)


def test_the_curve_keeps_its_shape_in_bounded_memory():
    curve = Curve(capacity=100)
    for epoch in range(10_000):
        curve.add(epoch, 1 / (epoch + 1), 2 / (epoch + 1))
    assert len(curve.epochs) < 100 and curve.epochs[0] == 0 and curve.stride == 128
    assert all(e % curve.stride == 0 for e in curve.epochs) and curve.epochs[-1] > 9_800
    assert curve.train[3] == 1 / (curve.epochs[3] + 1)


# ---- frames ----------------------------------------------------------------------------------------------------------
def test_the_frame_pictures_are_the_models_own_predictions():
    run = make_run(classes=3, hidden=[5, 4], activation=["relu", "sigmoid"])
    for _ in range(30):
        run.train_step()
    frame = frames.frame(run, run_id=3, data_version=1, playing=False)
    assert frame["network"]["sizes"] == [2, 5, 4, 3] and frame["step"] == 30 and frame["run"] == 3
    cells = frames.grid(run.points.domain, frames.BOUNDARY)
    with no_grad():
        run.model.eval()
        predicted = run.model(Tensor(run.points.scaling(cells))).data.argmax(axis=1)
        run.model.train()
    classes = np.frombuffer(__import__("base64").b64decode(frame["boundary"]["class"]), np.uint8)
    np.testing.assert_array_equal(classes, predicted)
    layers = frame["neurons"]["layers"]
    assert [len(layer) for layer in layers] == [5, 4]
    sigmoid_scale = [n["scale"] for n in layers[1]]
    assert all(0 < s <= 1 for s in sigmoid_scale)  # a sigmoid neuron's largest output on the grid
    assert frame["weights"][0]["w"] == run.model[0].weight.data.tolist()  # exact float32 values


def test_grid_cells_are_rows_from_the_top():
    g = frames.grid((0.0, 4.0, 0.0, 2.0), 2)
    np.testing.assert_allclose(g, [[1, 1.5], [3, 1.5], [1, 0.5], [3, 0.5]])


def test_points_frame_holds_raw_points_and_labels():
    run = make_run(dataset="plane", output="linear")
    p = frames.points(run, 4)
    assert p["task"] == "regression" and p["classes"] is None and p["data_version"] == 4
    assert len(p["train"]["x"]) == 200 and isinstance(p["train"]["y"][0], float)


# ---- the maths -------------------------------------------------------------------------------------------------------
def test_a_weights_chain_rule_lines_add_up_to_its_gradient_and_its_finite_difference():
    run = make_run(l2=0.01, l1=0.001)
    for _ in range(5):
        run.train_step()
    result = maths.explain_weight(run, 1, [3, 2])
    # every path from the loss to W2: the layer, the L1 term, and the L2 term's W2 * W2 twice (once per factor)
    paths = sorted(line["step"] for line in result["lines"])
    assert paths == ["abs2 = abs(W2)", "mul3 = mul(W2, W2)", "mul3 = mul(W2, W2)", "z2 = linear(h1, W2, b2)"]
    assert sum(line["value"] for line in result["lines"]) == pytest.approx(result["gradient"], rel=1e-12)
    assert result["relative_error"] < 1e-6
    assert result["title"].startswith("weight W2[3,2]")


def test_a_neurons_lines_show_how_its_gradient_arrives():
    run = make_run(hidden=[4, 3], activation=["relu", "linear"])
    result = maths.explain_neuron(run, 0, 2)
    steps = [line["step"] for line in result["upstream"]]
    assert steps == ["z2 = linear(h, W2, b2)", "h = relu(z1)"]
    assert result["lines"][0]["line"].startswith("dL/db1[2] = sum_n (over the 10 samples) dL/dz1[n,2] x 1")
    assert result["relative_error"] < 1e-6
    out = maths.explain_neuron(run, 2, 1)  # the output layer: a "linear" hidden layer before it adds no line
    assert out["title"].startswith("neuron 1 of the output layer") and out["relative_error"] < 1e-6


def test_explain_refuses_what_is_not_there():
    run = make_run()
    with pytest.raises(SettingsError, match=r"layer: expected a whole number in \[0, 2\]"):
        maths.explain_weight(run, 3, [0, 0])
    with pytest.raises(SettingsError, match=r"weight: index must be a list of 2 whole number\(s\) within shape \[8, 2"):
        maths.explain_weight(run, 0, [0, 2])
    with pytest.raises(SettingsError, match="unit: index"):
        maths.explain_neuron(run, 0, 8)


def test_the_gradient_check_agrees_with_dropout_on_and_leaves_the_run_alone():
    run = make_run(dropout=0.3)
    run.train_step()
    before, rng_state = weights(run.model), run.model[0].rng.bit_generator.state
    result = maths.gradient_check(run)
    assert [p["name"] for p in result["parameters"]] == ["1.weight", "1.bias", "4.weight", "4.bias", "7.weight",
                                                         "7.bias"]
    assert all(p["ok"] for p in result["parameters"]) and result["note"] is None
    assert max(p["max_rel_error"] for p in result["parameters"]) < 1e-3
    assert run.model[0].rng.bit_generator.state == rng_state  # the run's dropout masks were not drawn
    for k, v in before.items():
        np.testing.assert_array_equal(run.model.state_dict()[k], v)


# ---- a session and the store -----------------------------------------------------------------------------------------
def test_play_trains_in_the_background_and_pause_stops_it():
    session = Session("t", LIMITS, frame_rate=50)
    try:
        seq = session.frame_seq
        session.play()
        got = session.next_frame(seq, timeout=30)
        while got is not None and session.run.step == 0:
            got = session.next_frame(got[0], timeout=30)
        assert got is not None and session.run.step > 0
        session.pause()
        trainer = session._trainer
        trainer.join(timeout=30)
        assert not trainer.is_alive()
        step = session.run.step
        time.sleep(0.05)
        assert session.run.step == step and not session.playing
    finally:
        session.close()


def test_reset_and_new_weights():
    session = Session("t", LIMITS)
    initial = weights(session.run.model)
    session.step(30)
    session.reset()
    assert session.run.step == 0 and session.run_id == 1
    for k, v in initial.items():
        np.testing.assert_array_equal(session.run.model.state_dict()[k], v)
    assert session.new_weights().seed == 1 and session.run_id == 2
    assert not np.array_equal(session.run.model[0].weight.data, initial["0.weight"])
    assert session.data_version == 0  # the same points


def test_a_refused_update_changes_nothing():
    session = Session("t", LIMITS)
    seq, run = session.frame_seq, session.run
    with pytest.raises(SettingsError):
        session.update({"dataset": "plane"})  # a regression set with the softmax output
    assert session.run is run and session.settings.dataset == "circles" and session.frame_seq == seq


def test_the_store_caps_sessions_and_reaps_idle_ones():
    store = SessionStore(Limits(max_sessions=2), idle_timeout=60)
    a, b = store.create(), store.create({"hidden": [2]})
    assert b.settings.hidden == (2,)
    with pytest.raises(TooManySessions, match="all 2 sessions are in use"):
        store.create()
    a.listening(+1)
    assert store.reap(now=time.monotonic() + 61) == [b.id]  # a has a stream: not idle
    assert b.closed and len(store) == 1
    with pytest.raises(UnknownSession, match="reload the page"):
        store.get(b.id)
    store.close_all()
    assert a.closed and len(store) == 0


def test_frames_of_a_diverging_run_are_valid_json():
    import json

    run = make_run(dataset="plane", output="linear", lr=10.0, hidden=[8, 8], activation=["relu", "relu"])
    run.model[0].weight.data[0, 0] = np.inf
    run.losses = {**run.losses, "test": float("nan")}
    payload = frames.to_json(frames.frame(run, run_id=0, data_version=0, playing=False))
    frame = json.loads(payload, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert frame["weights"][0]["w"][0][0] is None and frame["loss"]["test"] is None
    assert frame["weights"][0]["w"][0][1] == float(run.model[0].weight.data[0, 1])


def test_grad_mode_is_per_thread_as_in_pytorch():
    """The server draws frames under no_grad() while another session trains in another thread: a global switch
    would leave the trainer's forward pass without a graph (and interleaved blocks could leave it off for good)."""
    import threading

    from nnblocks.autograd import enable_grad, is_grad_enabled

    inside, release = threading.Event(), threading.Event()
    seen = {}

    def other() -> None:
        with no_grad():
            inside.set()
            release.wait(10)
            seen["other"] = is_grad_enabled()

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(10)
    seen["main"] = is_grad_enabled()
    with no_grad():  # interleaved with the other thread's block
        release.set()
        thread.join(10)
        with enable_grad():
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert seen == {"main": True, "other": False} and is_grad_enabled()
    w = Tensor(np.ones(2), requires_grad=True)
    assert (w * 2).sum().requires_grad
