"""Pictures of a 2-D classifier: every function writes a valid, non-empty PNG/SVG/GIF, reads the model's real
outputs, leaves the model's mode and weights as they were, and refuses inputs it cannot draw."""
from __future__ import annotations

import numpy as np
import pytest

from nnblocks import nn, optim
from nnblocks.data import DataLoader, TensorDataset, moons
from nnblocks.train import fit
from nnblocks.viz import (
    BoundarySnapshots,
    animate_decision_boundary,
    plot_activation_histograms,
    plot_activation_maps,
    plot_decision_boundary,
    plot_weight_histograms,
    predict_grid,
)
from nnblocks.viz.pictures import layer_activations


@pytest.fixture(scope="module")
def data():
    return moons(60, noise=0.1, seed=0)


def make_model(outputs: int = 2):
    return nn.Sequential(nn.Linear(2, 5, seed=0), nn.ReLU(), nn.Dropout(0.5, seed=0), nn.Linear(5, outputs, seed=1))


def is_png(path):
    data = path.read_bytes()
    return len(data) > 100 and data[:4] == b"\x89PNG"


def test_predict_grid_is_the_model_in_eval_mode(data):
    X, _ = data
    model = make_model()
    xx, yy, out = predict_grid(model, X, resolution=7)
    assert xx.shape == yy.shape == (7, 7) and out.shape == (7, 7, 2)
    assert model.training  # restored
    model.eval()
    expected = model(np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32)).data
    np.testing.assert_allclose(out.reshape(-1, 2), expected, rtol=1e-6)  # dropout was off: deterministic
    assert xx.min() < X[:, 0].min() and xx.max() > X[:, 0].max()


def test_decision_boundary_png_and_svg(data, tmp_path):
    X, y = data
    model = make_model()
    fig = plot_decision_boundary(model, X, y, tmp_path / "b.png", resolution=30)
    assert is_png(tmp_path / "b.png") and "accuracy" in fig.axes[0].get_title()
    plot_decision_boundary(make_model(outputs=1), X, y, tmp_path / "one_output.svg", resolution=20)
    assert "<svg" in (tmp_path / "one_output.svg").read_text()
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_decision_boundary(model, np.zeros((4, 3)), None)


def test_activation_maps_one_panel_per_neuron(data, tmp_path):
    X, y = data
    fig = plot_activation_maps(make_model(), X, y, tmp_path / "maps.png", resolution=20)
    assert is_png(tmp_path / "maps.png")
    assert len([ax for ax in fig.axes if ax.get_title().startswith("neuron")]) == 5
    assert "ReLU" in fig._suptitle.get_text()
    fig = plot_activation_maps(make_model(), resolution=10, max_neurons=3)  # no data: the default square
    assert len([ax for ax in fig.axes if ax.get_title().startswith("neuron")]) == 3


def test_histograms_and_activation_capture(data, tmp_path):
    X, _ = data
    model = make_model()
    acts = layer_activations(model, X)
    assert list(acts) == ["1"] and acts["1"].shape == (60, 5) and acts["1"].min() >= 0
    model.eval()
    np.testing.assert_allclose(acts["1"], model[1](model[0](X.astype(np.float32))).data, rtol=1e-6)
    fig = plot_activation_histograms(model, X, tmp_path / "acts.png")
    assert is_png(tmp_path / "acts.png") and "<= 0" in fig.axes[0].get_title()
    fig = plot_weight_histograms(model, tmp_path / "w.svg")
    assert "<svg" in (tmp_path / "w.svg").read_text() and len(fig.axes) == 2  # two weight matrices, no biases
    assert len(plot_weight_histograms(model, include_bias=True).axes) == 4


def test_animation_from_fit_snapshots(data, tmp_path):
    X, y = data
    model = make_model()
    snaps = BoundarySnapshots(every=2, max_snapshots=4)
    loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True, seed=0)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.3), loader, epochs=10, callbacks=[snaps],
        progress=False)
    assert snaps.titles[0] == "before training" and 2 <= len(snaps.states) <= 4 and snaps.every > 2
    before = model.state_dict()
    path = animate_decision_boundary(model, snaps, X, y, tmp_path / "anim.gif", resolution=15, size=2.0)
    data_bytes = path.read_bytes()
    assert data_bytes[:4] == b"GIF8" and len(data_bytes) > 200
    from PIL import Image

    with Image.open(path) as gif:
        assert gif.n_frames == len(snaps.states)
    for key, value in model.state_dict().items():  # the model's own weights are back
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(ValueError, match=".gif"):
        animate_decision_boundary(model, snaps.states, X, y, tmp_path / "anim.png")
