"""The recipe's convolutions: the image shape the data pipeline carries, ``TrainConfig.conv`` (version 3) and what it
builds (``nn.CNN``, seeded as the MLP is), the blocks' arithmetic (``recipe.cnn``), and one activation per layer."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nnblocks import data, nn, recipe
from nnblocks.errors import InvalidValueError
from nnblocks.recipe import cnn


def kinds(model):
    return [type(m).__name__ for m in model]


# ---- the data carry their image shape --------------------------------------------------------------------------------
def test_image_sets_carry_their_shape_through_the_pipeline(tmp_path):
    digits = data.prepare("digits", seed=0)
    assert digits.image_shape == (1, 8, 8) and data.load_dataset("digits").image_shape == (1, 8, 8)
    # row c*H*W + h*W + w is pixel (c, h, w): the raw digits' rows reshape into the images
    X, _ = data.digits()
    np.testing.assert_array_equal(X.reshape(-1, *digits.image_shape)[5, 0, 2], X[5, 16:24])
    assert data.subsample(digits, 50).image_shape == (1, 8, 8)
    assert data.split_dataset(data.load_dataset("digits"), data.BOOK_SPLIT).image_shape == (1, 8, 8)
    assert data.prepare("moons").image_shape is None
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30)))
    assert data.prepare(str(path)).image_shape is None  # a table's columns are features, not pixels


# ---- the config ------------------------------------------------------------------------------------------------------
def test_a_conv_config_round_trips_and_older_configs_are_mlps():
    digits = recipe.load_data(recipe.TrainConfig())
    config = recipe.TrainConfig(conv=[8, 16], hidden=[32]).with_data(digits)
    assert (config.input_shape, config.padding, config.version) == ([1, 8, 8], "same", 3)
    stored = json.loads(json.dumps(config.to_dict()))
    assert stored["conv"] == [8, 16] and recipe.TrainConfig.from_dict(stored) == config
    version2 = {k: v for k, v in stored.items() if k not in ("conv", "padding", "input_shape")}
    old = recipe.TrainConfig.from_dict({**version2, "version": 2})
    assert old.conv == [] and isinstance(recipe.build_model(old), nn.MLP)
    assert "conv" in recipe.RUN_KEYS and "padding" in recipe.RUN_KEYS
    mlp = recipe.TrainConfig().with_data(digits)
    assert mlp.input_shape == [1, 8, 8] and mlp.padding == "auto"  # recorded, unused: an MLP has no padding


def test_conv_needs_images_that_its_blocks_fit():
    moons = recipe.TrainConfig(dataset="moons", conv=[8])
    with pytest.raises(InvalidValueError, match=r"conv \[8\] needs images, and moons holds rows of 2 features "
                                                r"with no image shape: .*digits, mnist, fashion-mnist"):
        moons.with_data(recipe.load_data(moons))
    digits = recipe.load_data(recipe.TrainConfig())
    with pytest.raises(InvalidValueError, match=r"4 block\(s\) .* shrink 8x8 images to nothing \(8x8 -> 4x4 -> 2x2 "
                                                r"-> 1x1 -> 0x0\); use at most 3 --conv blocks"):
        recipe.TrainConfig(conv=[4, 4, 4, 4]).with_data(digits)
    with pytest.raises(InvalidValueError, match=r"with valid padding .*8x8 -> 3x3 -> 0x0.*at most 1 --conv block "
                                                r"on these images, or --padding same"):
        recipe.TrainConfig(conv=[4, 4], padding="valid").with_data(digits)
    with pytest.raises(InvalidValueError, match="every block needs at least 1 output channel"):
        recipe.TrainConfig(conv=[8, 0])
    with pytest.raises(InvalidValueError, match="unknown padding 'full'"):
        recipe.TrainConfig(padding="full")


def test_the_blocks_arithmetic_by_hand():
    # the book's network on MNIST: 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5, so 128 x 5 x 5 = 3200 features
    assert cnn.image_sizes((28, 28), [64, 128], "valid") == [(13, 13), (5, 5)]
    assert cnn.flat_features([64, 128], (1, 28, 28), "valid") == 3200
    assert cnn.resolve_padding([64, 128], (1, 28, 28)) == "valid"
    # on the 8x8 digits the valid blocks leave nothing (8 -> 6 -> 3 -> 1 -> 0); "same" keeps 8 -> 4 -> 2
    assert cnn.image_sizes((8, 8), [64, 128], "valid") == [(3, 3), (0, 0)]
    assert cnn.resolve_padding([64, 128], (1, 8, 8)) == "same"
    assert cnn.flat_features([64, 128], (1, 8, 8), "same") == 512
    assert cnn.describe([64, 128], (1, 28, 28), "valid") == \
        "conv 64-128 (3x3, valid padding, max-pool 2: 28x28 -> 13x13 -> 5x5)"


def test_estimate_bytes_counts_the_blocks_by_hand():
    # conv [2] on 1x4x4, valid: a 2x2 map, pooled to 1x1, then Linear 2 -> 3. Parameters: 1*2*9 + 2 = 20 and
    # 2*3 + 3 = 9 (29). Values per sample: im2col 1*9*2*2 = 36, 4 copies of the 2x2x2 map (32) and of the
    # 2x1x1 pooled one (8), 4 copies of the head's widths 2 + 3 (20): 96. Adam keeps 5 copies of the parameters.
    config = recipe.TrainConfig(conv=[2], hidden=[], in_features=16, out_features=3, input_shape=[1, 4, 4])
    assert recipe.estimate_bytes(config) == 4 * (5 * 29 + 32 * 96)
    assert cnn.conv_cost([2], (1, 4, 4), "valid", False) == (20, 76, 2)
    model = recipe.build_model(config)
    assert model.num_parameters() == 29


# ---- what it builds --------------------------------------------------------------------------------------------------
def test_build_model_is_nn_cnn_seeded_as_the_recipe_seeds():
    digits = recipe.load_data(recipe.TrainConfig())
    config = recipe.TrainConfig(conv=[4, 8], hidden=[16], dropout=0.25, batchnorm=True, seed=5).with_data(digits)
    built = recipe.build_model(config)
    by_hand = nn.CNN((1, 8, 8), channels=[4, 8], hidden=[16], out=10, padding="same", batchnorm=True, dropout=0.25,
                     seed=np.random.default_rng([5, 1]), dropout_seed=np.random.default_rng([5, 2]))
    assert isinstance(built, nn.CNN) and kinds(built) == kinds(by_hand)
    assert kinds(built)[:4] == ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"]
    for (key, a), (_, b) in zip(by_hand.state_dict().items(), built.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    assert built[0].padding == "same" and built[10].in_features == 8 * 2 * 2
    book = recipe.build_model(recipe.TrainConfig(conv=[64, 128], hidden=[256], in_features=784, out_features=10,
                                                 input_shape=[1, 28, 28]))
    assert {k: v.shape for k, v in book.state_dict().items()} == {
        "0.weight": (64, 1, 3, 3), "0.bias": (64,), "3.weight": (128, 64, 3, 3), "3.bias": (128,),
        "7.weight": (256, 3200), "7.bias": (256,), "9.weight": (10, 256), "9.bias": (10,)}  # the book's keys
    assert book[0].padding == (0, 0)  # "valid" is built as the book's padding=0


def test_a_cnn_config_trains_on_flat_rows_from_the_loaders():
    config = recipe.TrainConfig(conv=[4], hidden=[8], epochs=1, batch_size=64)
    splits = recipe.load_data(config)
    config = config.with_data(splits)
    model = recipe.build_model(config)
    train_loader, _, _ = recipe.make_loaders(splits, config)
    x, y = next(iter(train_loader))
    assert x.shape == (64, 64) and model(x).shape == (64, 10)


# ---- one activation per hidden layer, and "linear" -------------------------------------------------------------------
def test_activation_may_be_one_per_hidden_layer_and_linear():
    config = recipe.TrainConfig(dataset="moons", hidden=[4, 4], activation=["tanh", "linear"])
    config = config.with_data(recipe.load_data(config))
    assert kinds(recipe.build_model(config)) == ["Linear", "Tanh", "Linear", "Identity", "Linear"]
    assert recipe.TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert kinds(recipe.build_model(recipe.TrainConfig(hidden=[3], activation="linear", in_features=2,
                                                       out_features=2))) == ["Linear", "Identity", "Linear"]
    assert "linear" not in recipe.ACTIVATIONS and "linear" in recipe.HIDDEN_ACTIVATIONS  # the CLI does not offer it
    with pytest.raises(InvalidValueError, match=r"has 1 name for 2 hidden layer\(s\) \[4, 4\]: give one per"):
        recipe.TrainConfig(hidden=[4, 4], activation=["tanh"])
    with pytest.raises(InvalidValueError, match="unknown activation 'softmax'"):
        recipe.TrainConfig(activation="softmax")
    with pytest.raises(InvalidValueError, match="a network with conv blocks takes one activation name"):
        recipe.TrainConfig(conv=[4], hidden=[4], activation=["tanh"])
