"""Errors: each raised early, of the right class, with a message that names the op, the shapes or the dtype at fault."""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks import ops
from nnblocks.errors import (
    BackwardError,
    DTypeError,
    InvalidArgumentError,
    InvalidValueError,
    NNBlocksError,
    ShapeError,
)


def test_error_classes_are_builtin_subclasses() -> None:
    assert issubclass(ShapeError, ValueError) and issubclass(DTypeError, TypeError)
    assert issubclass(BackwardError, RuntimeError) and issubclass(InvalidValueError, ValueError)
    assert issubclass(InvalidArgumentError, TypeError)
    for cls in (ShapeError, DTypeError, BackwardError, InvalidValueError, InvalidArgumentError):
        assert issubclass(cls, NNBlocksError)


# ---- shapes --------------------------------------------------------------------------------------------------------
def test_matmul_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        nb.randn(3, 4, seed=0) @ nb.randn(5, 6, seed=0)
    message = str(info.value)
    assert "matmul" in message and "(3, 4)" in message and "(5, 6)" in message and "4 columns" in message


def test_batched_matmul_mismatch() -> None:
    with pytest.raises(ShapeError, match=r"\(2, 3, 4\).*\(3, 5\)"):
        nb.randn(2, 3, 4, seed=0) @ nb.randn(3, 5, seed=0)
    with pytest.raises(ShapeError, match=r"\(\).*\(3,\)"):
        ops.matmul(nb.tensor(2.0), nb.randn(3, seed=0))


def test_linear_mismatch_names_input_and_weight() -> None:
    with pytest.raises(ShapeError) as info:
        ops.linear(nb.randn(8, 3, seed=0), nb.randn(4, 5, seed=0))
    message = str(info.value)
    assert "linear" in message and "(8, 3)" in message and "(4, 5)" in message and "in_features" in message


def test_broadcast_mismatch_names_the_op_and_both_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        nb.randn(3, 4, seed=0) + nb.randn(5, seed=0)
    message = str(info.value)
    assert "Add" in message and "(3, 4)" in message and "(5,)" in message
    with pytest.raises(ShapeError, match=r"Mul.*\(2, 3\).*\(2,\)"):
        nb.randn(2, 3, seed=0) * nb.randn(2, seed=0)
    with pytest.raises(ShapeError, match=r"Where"):
        nb.where(np.ones((3, 4), bool), nb.randn(3, 4, seed=0), nb.randn(2, seed=0))


def test_reshape_impossible() -> None:
    with pytest.raises(ShapeError) as info:
        nb.randn(2, 3, seed=0).reshape(4, 2)
    message = str(info.value)
    assert "reshape" in message and "(2, 3)" in message and "6 elements" in message and "(4, 2)" in message


def test_permute_cat_and_index_errors_name_the_shapes() -> None:
    with pytest.raises(ShapeError, match=r"permute.*\(0, 0\).*\(2, 3\)"):
        nb.randn(2, 3, seed=0).permute(0, 0)
    with pytest.raises(ShapeError, match=r"concatenate.*\(2, 3\).*\(2, 4\).*axis 0"):
        nb.cat([nb.randn(2, 3, seed=0), nb.randn(2, 4, seed=0)])
    with pytest.raises(ShapeError, match=r"getitem.*\(2, 3\)"):
        nb.randn(2, 3, seed=0)[5]


def test_loss_target_shape_must_match() -> None:
    with pytest.raises(ShapeError, match=r"mse_loss.*\(4,\).*\(4, 1\)"):
        ops.mse_loss(nb.randn(4, seed=0), nb.randn(4, 1, seed=0))
    with pytest.raises(ShapeError, match=r"binary_cross_entropy_with_logits.*\(4, 1\)"):
        ops.binary_cross_entropy_with_logits(nb.randn(4, 1, seed=0), nb.ones(4))


# ---- backward ------------------------------------------------------------------------------------------------------
def test_backward_on_non_scalar_names_the_shape() -> None:
    y = nb.randn(2, 3, seed=0, requires_grad=True) * 2.0
    with pytest.raises(BackwardError) as info:
        y.backward()
    assert "(2, 3)" in str(info.value) and "gradient" in str(info.value)
    with pytest.raises(BackwardError, match=r"gradient of shape \(3,\) given for an output of shape \(2, 3\)"):
        y.backward(gradient=np.ones(3))


def test_backward_without_requires_grad() -> None:
    with pytest.raises(BackwardError, match=r"shape \(\).*does not require grad"):
        nb.randn(3, seed=0).sum().backward()


def test_second_backward_names_the_op_and_the_fix() -> None:
    x = nb.randn(3, seed=0, requires_grad=True)
    loss = x.exp().sum()
    loss.backward()
    with pytest.raises(BackwardError) as info:
        loss.backward()
    assert "Sum" in str(info.value) and "retain_graph=True" in str(info.value)


# ---- dtypes --------------------------------------------------------------------------------------------------------
def test_integer_tensor_cannot_require_grad() -> None:
    with pytest.raises(DTypeError) as info:
        nb.tensor([1, 2, 3], requires_grad=True)
    assert "int64" in str(info.value) and "(3,)" in str(info.value)
    with pytest.raises(DTypeError, match="bool"):
        nb.tensor([True]).requires_grad_()


def test_float32_matmul_float64_is_refused() -> None:
    with pytest.raises(DTypeError) as info:
        nb.randn(2, 3, seed=0) @ nb.randn(3, 2, seed=0, dtype=np.float64)
    message = str(info.value)
    assert "float32" in message and "float64" in message and "(2, 3)" in message


def test_linear_dtype_mismatch() -> None:
    with pytest.raises(DTypeError, match="float64.*float32"):
        ops.linear(nb.randn(2, 3, seed=0, dtype=np.float64), nb.randn(4, 3, seed=0))


def test_set_default_dtype_refuses_non_float() -> None:
    with pytest.raises(DTypeError, match="int32"):
        nb.set_default_dtype(np.int32)
    assert nb.get_default_dtype() == np.float32


# ---- cross-entropy targets and other values ---------------------------------------------------------------------------
def test_cross_entropy_float_target_of_wrong_shape() -> None:
    logits = nb.randn(4, 3, seed=0)
    with pytest.raises(DTypeError) as info:
        ops.cross_entropy(logits, nb.tensor([0.0, 1.0, 2.0, 1.0]))
    message = str(info.value)
    assert "float32" in message and "(4,)" in message and "(4, 3)" in message


def test_cross_entropy_target_errors() -> None:
    logits = nb.randn(4, 3, seed=0)
    with pytest.raises(InvalidValueError, match=r"\[0, 2\].*0 to 3"):
        ops.cross_entropy(logits, nb.tensor([0, 1, 3, 2]))
    with pytest.raises(InvalidValueError, match=r"-1"):
        ops.nll_loss(logits, nb.tensor([0, -1, 1, 2]))
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(4,\).*\(5,\)"):
        ops.cross_entropy(logits, nb.tensor([0, 1, 2, 1, 0]))
    with pytest.raises(ShapeError, match=r"\(2, 2, 3\)"):
        ops.cross_entropy(nb.randn(2, 2, 3, seed=0), nb.tensor([0, 1]))


def test_invalid_values() -> None:
    with pytest.raises(InvalidValueError, match="reduction.*'avg'"):
        ops.mse_loss(nb.ones(2), nb.ones(2), reduction="avg")
    with pytest.raises(InvalidValueError, match=r"\[0, 1\].*sigmoid"):
        ops.binary_cross_entropy(nb.tensor([0.5, 1.5]), nb.ones(2))
    with pytest.raises(ShapeError, match=r"one element.*\(2,\)"):
        nb.ones(2).item()


def test_the_same_mistake_raises_the_same_class_from_ops_and_from_nn() -> None:
    from nnblocks import nn
    from nnblocks.nn import functional as F

    with pytest.raises(InvalidValueError, match=r"mse_loss: reduction must be one of .*'avg'"):
        ops.mse_loss(nb.ones(2), nb.ones(2), reduction="avg")
    with pytest.raises(InvalidValueError, match=r"MSELoss: reduction must be one of .*'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(InvalidValueError, match=r"dropout: p must be a probability in \[0, 1\], got 1.5"):
        F.dropout(nb.ones(2), 1.5)
    with pytest.raises(InvalidValueError, match=r"Dropout: p must be a probability in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_arguments_that_do_not_fit_name_the_function() -> None:
    from nnblocks import nn
    from nnblocks.viz import explain, walk_graph

    with pytest.raises(InvalidArgumentError, match="explain: expected a scalar loss Tensor.*ndarray"):
        explain(np.ones(1))
    with pytest.raises(InvalidArgumentError, match="walk_graph: expected a nnblocks Tensor, got float"):
        walk_graph(1.0)
    with pytest.raises(InvalidArgumentError, match=r"leaky_relu\(\): too many positional arguments"):
        ops.leaky_relu(nb.ones(2), 0.1, 0.2)
    with pytest.raises(InvalidArgumentError, match="Softmax: got an unexpected keyword argument 'axis'"):
        nn.Softmax(axis=1)


def test_out_of_range_dims_are_errors_not_a_silent_other_axis() -> None:
    """Regression: dim % ndim once made x.sum(dim=5) of a 2-D tensor reduce over axis 1 without a word."""
    x = nb.randn(2, 3, seed=0)
    for reduce in (x.sum, x.mean, x.max, x.min):
        with pytest.raises(ShapeError, match=r"\(2, 3\).*dim 5 is out of range"):
            reduce(dim=5)
    with pytest.raises(ShapeError, match=r"dim -3"):
        x.mean(dim=(0, -3))
    with pytest.raises(ShapeError, match=r"flatten: dim 5.*\(2, 3\)"):
        x.flatten(0, 5)
    with pytest.raises(ShapeError, match=r"Softmax.*\(2, 3\)"):
        x.softmax(dim=3)


def test_squeeze_of_a_dimension_larger_than_one_is_a_no_op_as_in_pytorch() -> None:
    x = nb.randn(2, 1, 3, seed=0, requires_grad=True)
    assert x.squeeze(0).shape == (2, 1, 3) and x.squeeze(1).shape == (2, 3) and x.squeeze().shape == (2, 3)
    x.squeeze(0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 1, 3)))


@pytest.mark.parametrize("call, words", [
    (lambda x: x.unsqueeze(5), "unsqueeze: dim 5"),
    (lambda x: x.transpose(0, 4), "transpose: dim 4"),
    (lambda x: nb.cat([x, x], dim=3), "cat: dim 3"),
])
def test_out_of_range_dims_name_the_op(call, words):
    with pytest.raises(ShapeError, match=words):
        call(nb.zeros(2, 3))


def test_class_weight_of_the_wrong_length_is_named():
    x, t = nb.zeros(2, 3), nb.Tensor(np.array([0, 2]))
    with pytest.raises(ShapeError, match=r"cross_entropy: weight must have one entry per class, shape \(3,\), got \(2,\)"):
        ops.cross_entropy(x, t, weight=np.ones(2))
    with pytest.raises(ShapeError, match=r"nll_loss: weight must have one entry per class"):
        ops.nll_loss(x, t, weight=np.ones(4))


def test_cross_entropy_on_a_vector_and_squeeze_out_of_range_name_the_shape():
    with pytest.raises(ShapeError, match=r"cross_entropy: input must have shape \(batch, classes\), got \(3,\)"):
        ops.cross_entropy(nb.zeros(3), nb.Tensor(np.array([0])))
    with pytest.raises(ShapeError, match="squeeze: dim 5"):
        nb.zeros(2, 1).squeeze(5)


@pytest.mark.parametrize("sizes", [(-1, 3), (2.5, 3), (2, "3")])
def test_linear_sizes_must_be_whole_numbers(sizes):
    from nnblocks import nn

    with pytest.raises(ValueError, match="Linear: (in|out)_features must be a whole number >= 0"):
        nn.Linear(*sizes)
