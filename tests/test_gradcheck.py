"""gradcheck itself: it passes right gradients, catches wrong ones (naming the input and index), reports readably."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnblocks as nb
from nnblocks.errors import NNBlocksError
from nnblocks.gradcheck import GradcheckError, GradcheckReport, InputCheck
from nnblocks.ops.base import Function


class WrongSquare(Function):
    """z = a^2 with a deliberately wrong derivative at one element: 2a everywhere except a[1, 2], which gets 3a."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * a

    def backward(self, g: np.ndarray) -> np.ndarray:
        grad = 2 * self.a * g
        grad[1, 2] *= 1.5
        return grad


class ForgetsBroadcast(Function):
    """z = a + b without undoing broadcasting in backward for b: the gradient has the wrong shape."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, g: np.ndarray) -> tuple:
        return g, g


def test_passes_a_right_gradient_and_reports_small_errors() -> None:
    x = nb.randn(3, 4, seed=0, dtype=np.float64, requires_grad=True)
    w = nb.randn(4, 2, seed=1, dtype=np.float64, requires_grad=True)
    report = nb.gradcheck(lambda x, w: (x @ w).tanh().sum(), [x, w])
    assert isinstance(report, GradcheckReport) and report.ok and bool(report)
    assert [c.position for c in report.checks] == [0, 1] and report.checks[1].shape == (4, 2)
    assert all(c.max_abs_error < 1e-8 and c.max_rel_error < 1e-6 for c in report.checks)
    assert not report.projected and "passed" in str(report)


def test_catches_a_wrong_gradient_and_names_input_and_index() -> None:
    x = nb.randn(3, 4, seed=0, dtype=np.float64, requires_grad=True)
    x.name = "x"
    with pytest.raises(GradcheckError) as info:
        nb.gradcheck(lambda x: WrongSquare.apply(x).sum(), [x])
    message = str(info.value)
    assert "x" in message and "(1, 2)" in message and "(3, 4)" in message

    report = nb.gradcheck(lambda x: WrongSquare.apply(x).sum(), [x], raise_exception=False)
    assert not report and not report.ok
    check = report.checks[0]
    assert isinstance(check, InputCheck) and not check.ok and check.worst_index == (1, 2)
    np.testing.assert_allclose(check.analytic, 3 * x.data[1, 2], rtol=1e-12)
    np.testing.assert_allclose(check.numeric, 2 * x.data[1, 2], rtol=1e-6)
    np.testing.assert_allclose(check.max_abs_error, abs(x.data[1, 2]), rtol=1e-6)
    np.testing.assert_allclose(check.max_rel_error, 1 / 3, rtol=1e-6)
    text = str(report)
    assert "FAILED" in text and "FAIL x (3, 4)" in text and "(1, 2)" in text


def test_only_the_wrong_input_fails() -> None:
    a = nb.randn(2, 3, seed=0, dtype=np.float64, requires_grad=True)
    b = nb.randn(3, 4, seed=1, dtype=np.float64, requires_grad=True)
    report = nb.gradcheck(lambda a, b: WrongSquare.apply(b).sum() + (a * a).sum(), [a, b], raise_exception=False)
    assert report.checks[0].ok and not report.checks[1].ok
    assert report.worst is report.checks[1] and report.checks[1].name == "input 1"
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(3, 4\)\).*index \(1, 2\)"):
        nb.gradcheck(lambda a, b: WrongSquare.apply(b).sum() + (a * a).sum(), [a, b])


def test_gradient_of_the_wrong_shape_is_an_error() -> None:
    a = nb.randn(2, 3, seed=0, dtype=np.float64, requires_grad=True)
    b = nb.randn(3, seed=1, dtype=np.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"shape \(3,\).*\(2, 3\)"):
        nb.gradcheck(lambda a, b: ForgetsBroadcast.apply(a, b).sum(), [a, b])


def test_error_class() -> None:
    assert issubclass(GradcheckError, AssertionError) and issubclass(GradcheckError, NNBlocksError)
    assert nb.GradcheckError is GradcheckError


def test_non_scalar_output_is_checked_through_a_random_projection() -> None:
    x = nb.randn(3, 4, seed=0, dtype=np.float64, requires_grad=True)
    report = nb.gradcheck(lambda x: x.softmax(), [x])
    assert report.ok and report.projected and "VJP" in str(report)
    # softmax(x).sum() is constant, so an unprojected sum could not catch a wrong softmax backward
    with pytest.raises(GradcheckError):
        nb.gradcheck(lambda x: WrongSquare.apply(x) * 1.0, [x])


def test_float32_inputs_are_checked_on_float64_copies_with_a_warning() -> None:
    x = nb.randn(2, 3, seed=0, requires_grad=True)
    before = x.data.copy()
    with pytest.warns(UserWarning, match="float64"):
        report = nb.gradcheck(lambda x: (x * x).sum(), [x])
    assert report.ok and report.notes and "float32" in report.notes[0]
    assert x.grad is None and x.dtype == np.float32 and np.array_equal(x.data, before)  # originals untouched


def test_float64_inputs_give_no_warning_and_are_not_modified() -> None:
    x = nb.randn(4, seed=0, dtype=np.float64, requires_grad=True)
    before = x.data.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nb.gradcheck(lambda x: (x**3).sum(), x)  # a single Tensor is accepted too
    assert x.grad is None and np.array_equal(x.data, before)


def test_constants_and_integer_inputs_pass_through() -> None:
    logits = nb.randn(4, 3, seed=0, dtype=np.float64, requires_grad=True)
    target = nb.tensor([0, 2, 1, 2])
    weight = nb.tensor([1.0, 2.0, 0.5])  # float32, no grad: converted, not checked
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float32 constant is converted exactly: no warning
        report = nb.gradcheck(lambda z, t, w: nb.ops.cross_entropy(z, t, weight=w), [logits, target, weight])
    assert report.ok and len(report.checks) == 1 and report.checks[0].position == 0


def test_numbers_built_inside_fn_are_float64() -> None:
    x = nb.randn(3, seed=0, dtype=np.float64, requires_grad=True)
    assert nb.gradcheck(lambda x: (x * nb.tensor([1.0, 2.0, 3.0])).sum(), [x])


def test_refuses_what_cannot_be_checked() -> None:
    x = nb.randn(3, seed=0, dtype=np.float64)
    with pytest.raises(GradcheckError, match="requires_grad"):
        nb.gradcheck(lambda x: x.sum(), [x])
    y = nb.randn(3, seed=0, dtype=np.float64, requires_grad=True)
    w32 = nb.randn(3, seed=1)  # captured from outside, stays float32
    with pytest.raises(GradcheckError, match="float32"):
        nb.gradcheck(lambda y: (y.float() * w32).sum(), [y])
    with pytest.raises(GradcheckError, match="Tensor"):
        nb.gradcheck(lambda y: 1.0, [y])


def test_kink_within_eps_is_reported_not_hidden() -> None:
    """abs at exactly 0: backward says 0 (PyTorch's choice), central differences say 0 too; at 1e-7 they disagree."""
    at_zero = nb.tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    assert nb.gradcheck(lambda x: x.abs().sum(), [at_zero])
    near_zero = nb.tensor([1e-7, 1.0], dtype=np.float64, requires_grad=True)
    report = nb.gradcheck(lambda x: x.abs().sum(), [near_zero], raise_exception=False)
    assert not report.ok and report.checks[0].worst_index == (0,)


def test_relative_error_is_the_one_measure_gradcheck_reports() -> None:
    from nnblocks.gradcheck import relative_error

    a = np.array([3.0, -2.0, 0.0, 1e-9, np.nan, np.inf, 5.0])
    b = np.array([2.0, 2.0, 0.0, 0.0, 1.0, np.inf, 5.0])
    np.testing.assert_array_equal(relative_error(a, b), [1 / 3, 2.0, 0.0, 1.0, np.inf, np.inf, 0.0])
    # a floor measures small values against it instead of against themselves
    assert relative_error(1e-9, 0.0, floor=1e-6) == pytest.approx(1e-3)
    assert relative_error(np.float32(2.0), 1.0).dtype == np.float64
    x = nb.randn(3, 4, seed=0, dtype=np.float64, requires_grad=True)
    check = nb.gradcheck(lambda x: WrongSquare.apply(x).sum(), [x], raise_exception=False).checks[0]
    assert check.max_rel_error == pytest.approx(float(relative_error(3 * x.data[1, 2], 2 * x.data[1, 2])), rel=1e-6)
