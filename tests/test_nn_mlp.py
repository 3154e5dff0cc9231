"""nn.MLP: the one layer order, seeding that reproduces a hand-built Sequential, and the chapter-weights bridge."""
import numpy as np
import pytest

from nnblocks import fundamentals as F
from nnblocks import nn
from nnblocks.errors import InvalidValueError, ShapeError
from nnblocks.tensor import Tensor


def kinds(model):
    return [type(m).__name__ for m in model]


def test_layer_order_is_the_books():
    model = nn.MLP([784, 1000, 10], dropout=0.25, batchnorm=True)
    assert kinds(model) == ["Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert kinds(nn.MLP([4, 3])) == ["Linear"]
    assert kinds(nn.MLP([2, 5, 4, 1], activation=["tanh", "linear"])) == [
        "Linear", "Tanh", "Linear", "Identity", "Linear"]


def test_state_dict_keys_are_sequentials():
    model = nn.MLP([3, 4, 2], batchnorm=True)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias"]


def test_same_weights_as_a_hand_built_sequential_from_one_generator():
    rng = np.random.default_rng(7)
    by_hand = nn.Sequential(nn.Linear(5, 4, seed=rng), nn.ReLU(), nn.Linear(4, 3, seed=rng))
    built = nn.MLP([5, 4, 3], seed=np.random.default_rng(7))
    for (k, a), (_, b) in zip(by_hand.state_dict().items(), built.state_dict().items()):
        assert np.array_equal(a, b), k
    # dropout masks come from their own generator: adding dropout does not move the initial weights
    dropped = nn.MLP([5, 4, 3], dropout=0.5, seed=np.random.default_rng(7), dropout_seed=1)
    assert np.array_equal(dropped[1].weight.data, built[0].weight.data)


def test_hidden_bias_false_keeps_the_output_bias():
    model = nn.MLP([3, 4, 2], batchnorm=True, hidden_bias=False)
    assert model[0].bias is None and model[3].bias is not None


@pytest.mark.parametrize("bad", [dict(sizes=[3]), dict(sizes=[3, 4, 2], activation="swish"),
                                 dict(sizes=[3, 4, 4, 2], activation=["relu"]), dict(sizes=[3, 2], dropout=1.0)])
def test_bad_arguments_name_the_problem(bad):
    with pytest.raises(InvalidValueError, match="MLP"):
        nn.MLP(**bad)


def test_from_chapter_weights_reproduces_the_chapter_forward_pass():
    x, y, weights = F.network_231("float64")
    model = nn.MLP.from_chapter_weights(weights)
    assert kinds(model) == ["Linear", "Sigmoid", "Linear"]
    loss = nn.MSELoss()(model(Tensor(x)), Tensor(np.asarray(y, dtype=np.float64)))
    assert loss.item() == pytest.approx(float(F.feed_forward(x, y, weights)), rel=1e-15)
    assert np.array_equal(model[0].weight.data, weights[0].T)


def test_load_chapter_weights_checks_shapes():
    with pytest.raises(ShapeError, match=r"layer 1 is Linear\(2, 3\)"):
        nn.load_chapter_weights(nn.MLP([2, 3, 1]), [np.zeros((3, 2)), np.zeros(3), np.zeros((3, 1)), np.zeros(1)])
    with pytest.raises(ShapeError, match="take 4 arrays"):
        nn.load_chapter_weights(nn.MLP([2, 3, 1]), [np.zeros((2, 3))])
