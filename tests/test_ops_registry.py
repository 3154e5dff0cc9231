"""The op registry: one class and its ``register`` decorator make a new activation appear as a Tensor method, an ``nn``
module, a line of the chain-rule trace and an activation in the graph drawing, with no table edited anywhere; and
``unregister`` takes it all back, so nothing leaks into other tests."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import nn, ops
from nnblocks.errors import InvalidArgumentError, InvalidValueError
from nnblocks.nn import functional as F
from nnblocks.ops import Function, register, registered, unregister
from nnblocks.ops.activation import stable_sigmoid
from nnblocks.viz.explain import explain
from nnblocks.viz.graph import layout_graph, name_nodes, walk_graph
from nnblocks.viz.pictures import layer_activations


def register_softplus() -> type[Function]:
    """Everything it takes to add an activation: this class and its registration."""

    @register("softplus")
    class Softplus(Function):
        """z = log(1 + e^a);  dz/da = sigmoid(a)."""

        kind = "activation"
        formula = "{z} = softplus({a})"
        derivatives = ("sigmoid({a})",)

        def forward(self, a: np.ndarray) -> np.ndarray:
            self.a = a
            return np.logaddexp(0, a)  # log(e^0 + e^a), without overflow for large a

        def backward(self, g: np.ndarray) -> np.ndarray:
            return g * stable_sigmoid(self.a)

    return Softplus


@pytest.fixture
def softplus():
    op = register_softplus()
    yield op
    unregister("softplus")


X = np.array([[-2.0, 0.0, 3.0]])
SOFTPLUS = np.array([[0.12692801104297249, 0.69314718055994531, 3.0485873515737421]])  # log(1 + e^x), 17 digits
SIGMOID = np.array([[0.11920292202211755, 0.5, 0.95257412682243321]])  # 1 / (1 + e^-x)


def test_a_new_activation_is_a_tensor_method_an_ops_function_and_a_functional(softplus):
    x = nb.tensor(X, requires_grad=True, dtype=np.float64)
    y = x.softplus()
    np.testing.assert_allclose(y.data, SOFTPLUS, rtol=1e-14)
    assert type(y.grad_fn) is softplus and repr(y).endswith("grad_fn=<SoftplusBackward0>)")
    y.sum().backward()
    np.testing.assert_allclose(x.grad, SIGMOID, rtol=1e-14)
    assert ops.softplus is F.softplus is nb.Tensor.softplus
    np.testing.assert_array_equal(ops.softplus(x).data, y.data)
    assert ops.softplus.__doc__ == softplus.__doc__ and str(inspect.signature(ops.softplus)) == "(a: 'Tensor') -> 'Tensor'"
    assert [e.name for e in registered("activation")][-1] == "softplus"


def test_a_new_activation_is_an_nn_module_and_an_mlp_activation(softplus):
    module = nn.Softplus()
    assert repr(module) == "Softplus()" and isinstance(module, nn.Activation) and nn.Softplus is type(module)
    np.testing.assert_allclose(module(nb.tensor(X, dtype=np.float64)).data, SOFTPLUS, rtol=1e-14)
    from nnblocks.nn import Softplus  # noqa: F401 - from-imports find it too

    model = nn.MLP([2, 3, 1], activation="softplus", seed=0)
    assert [type(m).__name__ for m in model] == ["Linear", "Softplus", "Linear"]
    acts = layer_activations(model, np.zeros((4, 2), dtype=np.float32))  # the pictures count it as an activation
    assert list(acts) == ["1"] and acts["1"].shape == (4, 3) and np.all(acts["1"] > 0)


def network(softplus_module: type) -> tuple:
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64, seed=0), softplus_module(),
                          nn.Linear(3, 1, dtype=np.float64, seed=1))
    x = nb.tensor([[1.0, -0.5]], dtype=np.float64)
    y = nb.tensor([[0.25]], dtype=np.float64)
    return model, x, y, lambda: F.mse_loss(model(x), y)


def test_a_new_activation_has_its_own_line_in_the_chain_rule_trace(softplus):
    model, x, y, loss_fn = network(nn.Softplus)
    trace = explain(loss_fn, dict(model.named_parameters()))
    step = next(s for s in trace.steps if s.title == "h = softplus(z1)")
    assert step.formula == "h = softplus(z1);  dh/dz1 = sigmoid(z1)"

    # the same numbers by hand: z1 = x W1^T + b1, h = softplus(z1), L = (h W2^T + b2 - y)^2
    W1, b1 = model[0].weight.data, model[0].bias.data
    W2, b2 = model[2].weight.data, model[2].bias.data
    z1 = x.data @ W1.T + b1

    def loss_of(z: np.ndarray) -> float:
        return float(((np.logaddexp(0, z) @ W2.T + b2 - y.data) ** 2).sum())

    y_hat = np.logaddexp(0, z1) @ W2.T + b2
    upstream = 2 * (y_hat - y.data) @ W2  # dL/dh
    local = 1 / (1 + np.exp(-z1))  # dh/dz1, the declared sigmoid(z1)
    lines = trace.to_text().splitlines()
    for j, row in enumerate(step.rows):
        assert row.gradient == f"dL/dz1[{j}]"
        assert row.terms[0] == (pytest.approx(upstream[0, j], rel=1e-12), pytest.approx(local[0, j], rel=1e-12))
        expected = (f"  dL/dz1[{j}] = dL/dh[{j}] ({upstream[0, j]:.4f}) x sigmoid(z1) ({local[0, j]:.4f}) = "
                    f"{upstream[0, j] * local[0, j]:.4f}")
        assert expected in lines
        h = 1e-6  # central difference of L in z1[j]
        e = np.zeros_like(z1)
        e[0, j] = h
        assert float(row.value) == pytest.approx((loss_of(z1 + e) - loss_of(z1 - e)) / (2 * h), rel=1e-7)

    # ... and equal to what backward() computes
    z = model[0](x)
    z.retain_grad()
    F.mse_loss(model[2](model[1](z)), y).backward()
    np.testing.assert_allclose(trace.gradients["z1"], z.grad, rtol=1e-13)
    np.testing.assert_allclose([float(r.value) for r in step.rows], z.grad[0], rtol=1e-13)
    for row in trace.rows("W1"):  # the finite-difference column of the weights behind it agrees too
        assert row.fd == pytest.approx(float(row.value), abs=1e-8)


def test_a_new_activation_is_drawn_and_named_as_an_activation(softplus, tmp_path):
    model, _, _, loss_fn = network(nn.Softplus)
    loss = loss_fn()
    layout = layout_graph(loss, dict(model.named_parameters()))
    assert [n.label.split("\n")[:2] for n in layout.op_nodes] == [
        ["Linear", "z1"], ["Softplus", "h"], ["Linear", "y_hat"], ["MSE", "L"]]
    names = name_nodes(walk_graph(loss), dict(model.named_parameters()))
    assert sorted(names.values()) == sorted(["x", "W1", "b1", "z1", "h", "W2", "b2", "y_hat", "y", "L"])
    nb.viz.draw_graph(loss, tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text().count(">Softplus") == 1


def test_unregister_takes_it_back_everywhere():
    before = set(dir(nb.Tensor)), set(dir(ops)), [e.name for e in registered()]
    op = register_softplus()
    assert hasattr(nb.Tensor, "softplus") and nn.Softplus.function is ops.softplus and "softplus" in nn.mlp.ACTIVATIONS
    unregister("softplus")
    assert (set(dir(nb.Tensor)), set(dir(ops)), [e.name for e in registered()]) == before
    for namespace, name in [(nb.Tensor, "softplus"), (ops, "softplus"), (F, "softplus"), (nn, "Softplus")]:
        with pytest.raises(AttributeError):
            getattr(namespace, name)
    assert "softplus" not in nn.mlp.ACTIVATIONS
    with pytest.raises(InvalidValueError, match="unknown activation 'softplus'"):
        nn.MLP([2, 3, 1], activation="softplus")
    register("softplus")(op)  # the same class again: nothing of the first registration is left in the way
    unregister("softplus")


def test_the_builtin_activations_and_their_modules_are_pytorchs():
    assert [e.name for e in registered("activation")] == ["relu", "leaky_relu", "sigmoid", "tanh", "softmax",
                                                        "log_softmax"]
    assert list(nn.mlp.ACTIVATIONS) == ["relu", "leaky_relu", "sigmoid", "tanh", "linear"]
    modules = [nn.ReLU(), nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1),
               nn.LogSoftmax(dim=1), nn.Softmax()]
    reprs = ["ReLU()", "LeakyReLU(negative_slope=0.01)", "LeakyReLU(negative_slope=0.2)", "Sigmoid()", "Tanh()",
             "Softmax(dim=1)", "LogSoftmax(dim=1)", "Softmax(dim=-1)"]
    assert [repr(m) for m in modules] == reprs
    assert modules[2].negative_slope == 0.2 and modules[5].dim == 1 and modules[0].state_dict() == {}
    torch = pytest.importorskip("torch")
    theirs = [torch.nn.ReLU(), torch.nn.LeakyReLU(), torch.nn.LeakyReLU(0.2), torch.nn.Sigmoid(), torch.nn.Tanh(),
              torch.nn.Softmax(dim=1), torch.nn.LogSoftmax(dim=1)]
    assert [repr(m) for m in theirs] == reprs[:7]
    with pytest.raises(InvalidArgumentError, match="LeakyReLU: too many positional arguments"):
        nn.LeakyReLU(0.1, 0.2)


def test_options_by_position_or_by_name_as_pytorch_takes_them():
    x = nb.tensor([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float64)
    np.testing.assert_array_equal(ops.leaky_relu(x, 0.5).data, [[-0.5, 2.0], [3.0, -2.0]])
    np.testing.assert_array_equal(x.leaky_relu(negative_slope=0.5).data, [[-0.5, 2.0], [3.0, -2.0]])
    np.testing.assert_array_equal(x.sum(0).data, [2.0, -2.0])
    np.testing.assert_array_equal(x.sum(1, True).data, [[1.0], [-1.0]])
    np.testing.assert_array_equal(x.clamp(-1.5, 2.5).data, [[-1.0, 2.0], [2.5, -1.5]])
    np.testing.assert_array_equal(ops.mse_loss(x, nb.zeros(2, 2, dtype=np.float64), "sum").data, 30.0)
    zeros = nb.zeros(2, 2, dtype=np.float64)
    np.testing.assert_array_equal(F.mse_loss(input=x, target=zeros, reduction="sum").data, 30.0)  # PyTorch's names
    np.testing.assert_allclose(F.cross_entropy(input=x, target=nb.tensor([1, 0])).data,
                               np.log(1 + np.exp(-3.0)) / 2 + np.log(1 + np.exp(-7.0)) / 2, rtol=1e-14)
    with pytest.raises(InvalidArgumentError, match=r"sum\(\): too many positional arguments"):
        ops.sum(x, 0, True, 5)
    with pytest.raises(InvalidArgumentError, match=r"pow\(\): missing a required argument: 'b'"):
        ops.pow(x)
    assert str(inspect.signature(ops.leaky_relu)) == "(a: 'Tensor', negative_slope: 'float' = 0.01) -> 'Tensor'"


def test_registering_never_replaces_anything():
    class Relu2(Function):
        kind = "activation"

    for name in ("relu", "backward", "Function", "shape"):  # an op, a Tensor method, ops' own names
        with pytest.raises(InvalidValueError, match=f"the name {name!r} is taken"):
            register(name)(Relu2)
    Relu2.kind = "activaton"
    with pytest.raises(InvalidValueError, match="kind is 'activaton'"):
        register("relu2")(Relu2)
    with pytest.raises(InvalidArgumentError, match="not a Function subclass"):
        register("relu2")(int)
    assert "relu2" not in [e.name for e in registered()] and not hasattr(nb.Tensor, "relu2")
