"""viz.feature_maps: the maps are the Conv2d outputs (read by hooks that are removed again, in eval mode, the model's
mode restored), and the pictures of filters and maps are drawn for 1- and 3-channel layers."""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn
from nnblocks.errors import ShapeError
from nnblocks.viz.feature_maps import feature_maps, plot_feature_maps, plot_filters


def test_feature_maps_are_the_conv_outputs_of_one_image():
    model = nn.CNN((1, 10, 10), channels=[3, 4], hidden=[], out=2, seed=0)
    image = np.random.default_rng(0).random((10, 10), np.float32)
    maps = feature_maps(model, image)
    assert list(maps) == ["0 (Conv2d)", "3 (Conv2d)"]
    with nb.no_grad():
        expected = model[0](nb.Tensor(image[None, None])).data[0]
    np.testing.assert_array_equal(maps["0 (Conv2d)"], expected)
    assert maps["3 (Conv2d)"].shape == (4, 2, 2)
    assert model.training and all(not m._forward_hooks for m in model.modules())
    both = feature_maps(model, image.reshape(-1), kinds=("Conv2d", "MaxPool2d"))  # a flat row works too
    assert list(both) == ["0 (Conv2d)", "1 (MaxPool2d)", "3 (Conv2d)", "4 (MaxPool2d)"]
    with pytest.raises(ShapeError, match="no Conv2d layer"):
        feature_maps(nn.MLP([4, 2]), np.ones(4))


def test_pictures_of_filters_and_maps(tmp_path):
    grey, colour = nn.Conv2d(1, 6, 3, seed=0), nn.Conv2d(3, 5, 5, seed=0)
    fig = plot_filters(grey, tmp_path / "grey.png")
    assert len(fig.axes) == 6 + 1  # one panel per filter, and the colour bar
    assert len(plot_filters(colour.weight, columns=4).axes) == 5
    assert (tmp_path / "grey.png").stat().st_size > 0
    maps = {"0 (Conv2d)": np.random.default_rng(0).random((40, 6, 6))}
    fig = plot_feature_maps(maps, np.zeros((8, 8)), tmp_path / "maps.png", max_maps=20, columns=10)
    assert sum(len(sub.axes) for sub in fig.subfigs) == 1 + 20  # the input, then the first 20 maps
    with pytest.raises(ShapeError, match=r"expected a Conv2d weight of shape \(out, in, kH, kW\)"):
        plot_filters(np.ones((3, 3)))
