"""Convolution and max pooling by hand: one image, one filter, every loop written out (NumPy arrays, nothing else).

A convolution slides a small filter (the kernel, kH x kW weights) over the image. At each position it multiplies the
filter with the patch under it, element by element, and adds everything up, plus a bias:

    out[y, x] = bias + sum_i sum_j kernel[i, j] * padded[y * stride + i, x * stride + j]

``padded`` is the image with ``padding`` rows and columns of zeros around it (so the filter can sit on the border);
``stride`` is how far the filter jumps between positions. The output has ``(n + 2 padding - k) // stride + 1`` rows
(and the same rule for columns). Deep learning's "convolution" is this cross-correlation: the kernel is not flipped.

Max pooling keeps the largest value of each ``size x size`` window: ``out[y, x] = max of the window at (y, x)``.

The gradients by the chain rule. Each output element is a sum of products, so:

- ``d out[y,x] / d kernel[i,j] = padded[y s + i, x s + j]``: a weight's gradient adds, over every output position, the
  upstream gradient times the pixel that weight was multiplied with there;
- ``d out[y,x] / d bias = 1``: the bias gradient is the sum of the upstream gradients;
- ``d out[y,x] / d padded[y s + i, x s + j] = kernel[i,j]``: each pixel collects the upstream gradient of every
  output whose window covered it, times the weight it met (pixels in the padding are thrown away at the end);
- max pooling: ``d out[y,x] / d image[p] = 1`` for the one pixel p that was the window's maximum, 0 for the others,
  so the upstream gradient goes to that pixel alone (the first maximum when several are equal).

``nnblocks.ops.conv2d`` and ``nnblocks.ops.max_pool2d`` compute the same things for whole batches without Python
loops; the tests check that both give the same numbers, and ``finite_difference_check`` checks these gradients
against central differences, as chapter 1 did for the dense network.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["convolve", "convolve_backward", "finite_difference_check", "max_pool", "max_pool_backward",
           "numerical_gradient", "output_size", "pad"]


def output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a filter of k pixels takes over n pixels padded by ``padding`` on both sides."""
    if n + 2 * padding < k:
        raise ValueError(f"a filter of {k} pixels does not fit in {n} pixels padded by {padding} on each side")
    return (n + 2 * padding - k) // stride + 1


def pad(image: np.ndarray, padding: int) -> np.ndarray:
    """The image inside a border of ``padding`` zeros."""
    h, w = image.shape
    padded = np.zeros((h + 2 * padding, w + 2 * padding), dtype=image.dtype)
    for y in range(h):
        for x in range(w):
            padded[y + padding, x + padding] = image[y, x]
    return padded


def convolve(image: np.ndarray, kernel: np.ndarray, bias: float = 0.0, stride: int = 1,
             padding: int = 0) -> np.ndarray:
    """out[y, x] = bias + sum_ij kernel[i, j] * padded[y * stride + i, x * stride + j], for one 2-D image."""
    image, kernel = np.asarray(image), np.asarray(kernel)
    kh, kw = kernel.shape
    padded = pad(image, padding)
    out_h = output_size(image.shape[0], kh, stride, padding)
    out_w = output_size(image.shape[1], kw, stride, padding)
    out = np.zeros((out_h, out_w), dtype=np.result_type(image, kernel))
    for y in range(out_h):
        for x in range(out_w):
            total = bias
            for i in range(kh):
                for j in range(kw):
                    total += kernel[i, j] * padded[y * stride + i, x * stride + j]
            out[y, x] = total
    return out


def convolve_backward(image: np.ndarray, kernel: np.ndarray, grad_out: np.ndarray, stride: int = 1,
                      padding: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """(dL/dimage, dL/dkernel, dL/dbias) from dL/dout, by the chain rule through every product of ``convolve``."""
    image, kernel, grad_out = np.asarray(image), np.asarray(kernel), np.asarray(grad_out)
    kh, kw = kernel.shape
    padded = pad(image, padding)
    grad_padded = np.zeros_like(padded, dtype=grad_out.dtype)
    grad_kernel = np.zeros(kernel.shape, dtype=grad_out.dtype)
    grad_bias = 0.0
    for y in range(grad_out.shape[0]):
        for x in range(grad_out.shape[1]):
            upstream = grad_out[y, x]
            grad_bias += upstream  # d out[y,x] / d bias = 1
            for i in range(kh):
                for j in range(kw):
                    row, col = y * stride + i, x * stride + j
                    grad_kernel[i, j] += upstream * padded[row, col]  # d out[y,x] / d kernel[i,j]
                    grad_padded[row, col] += upstream * kernel[i, j]  # d out[y,x] / d padded[row,col]
    h, w = image.shape
    return grad_padded[padding:padding + h, padding:padding + w], grad_kernel, grad_bias


def max_pool(image: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The largest value of each size x size window, and where it was: ``positions[y, x] = (row, col)`` in the image
    (the first maximum in reading order when several are equal, as PyTorch). Windows that do not fit are left out."""
    image = np.asarray(image)
    stride = size if stride is None else stride
    out_h, out_w = output_size(image.shape[0], size, stride), output_size(image.shape[1], size, stride)
    out = np.zeros((out_h, out_w), dtype=image.dtype)
    positions = np.zeros((out_h, out_w, 2), dtype=np.int64)
    for y in range(out_h):
        for x in range(out_w):
            best, where = -np.inf, (y * stride, x * stride)
            for i in range(size):
                for j in range(size):
                    value = image[y * stride + i, x * stride + j]
                    if value > best:  # strictly greater: an equal value later in the window does not win
                        best, where = value, (y * stride + i, x * stride + j)
            out[y, x] = best
            positions[y, x] = where
    return out, positions


def max_pool_backward(grad_out: np.ndarray, positions: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """dL/dimage: each output's upstream gradient goes to the pixel that was its window's maximum (summed when that
    pixel won several overlapping windows); every other pixel gets 0."""
    grad_image = np.zeros(image_shape, dtype=np.asarray(grad_out).dtype)
    for y in range(grad_out.shape[0]):
        for x in range(grad_out.shape[1]):
            row, col = positions[y, x]
            grad_image[row, col] += grad_out[y, x]
    return grad_image


def numerical_gradient(loss: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dL/darray by central differences, (L(a + h) - L(a - h)) / 2h, nudging one element at a time in place (two
    evaluations of ``loss`` per element; every element is restored afterwards)."""
    grad = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + h
        plus = loss()
        array[index] = original - h
        minus = loss()
        array[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def finite_difference_check(image: np.ndarray, kernel: np.ndarray, bias: float = 0.0, stride: int = 1,
                            padding: int = 0, pool: int = 2, seed: int = 0) -> dict[str, float]:
    """Largest |chain rule - central difference| of L = sum(v * max_pool(convolve(image, kernel, bias))) with respect
    to the image, the kernel and the bias (v: fixed random weights, so every output counts differently).

    Works on float64 copies; the data should have distinct values, so that no nudge of 1e-6 changes which pixel
    wins a pooling window (there max pooling has a kink and the difference quotient means nothing).
    """
    image, kernel = np.array(image, dtype=np.float64), np.array(kernel, dtype=np.float64)
    bias_box = np.array([bias], dtype=np.float64)
    conv = convolve(image, kernel, bias, stride, padding)
    pooled, positions = max_pool(conv, pool)
    v = np.random.default_rng(seed).standard_normal(pooled.shape)

    def loss() -> float:
        return float(np.sum(v * max_pool(convolve(image, kernel, bias_box[0], stride, padding), pool)[0]))

    grad_conv = max_pool_backward(v, positions, conv.shape)  # dL/dpooled = v, back through the pool
    grad_image, grad_kernel, grad_bias = convolve_backward(image, kernel, grad_conv, stride, padding)
    return {"image": float(np.max(np.abs(grad_image - numerical_gradient(loss, image)))),
            "kernel": float(np.max(np.abs(grad_kernel - numerical_gradient(loss, kernel)))),
            "bias": float(np.max(np.abs(grad_bias - numerical_gradient(loss, bias_box))))}
