"""Shared by the convolution and pooling tests: hypothesis strategies for their geometry, and the PyTorch comparison.

``conv_geometry`` draws a batch of images and a convolution that fits it (kernel, stride, padding - an int, a pair,
"same" or "valid" -, dilation, groups); ``pool_geometry`` draws a pooling window that PyTorch accepts. ``close``
compares with PyTorch relative to the compared array's scale and records the largest error seen per dtype, which
``NNBLOCKS_PARITY_REPORT=1`` prints at the end of the module (the figures quoted in the report).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import strategies as st

TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
WORST: dict[str, tuple[float, str]] = {}
GRADCHECK = {"cases": 0, "max_abs_error": 0.0}  # over every gradcheck of the module, for the report


def record_gradcheck(report: Any) -> None:
    """Keep the largest absolute difference between backward and central differences seen so far."""
    GRADCHECK["cases"] += 1
    GRADCHECK["max_abs_error"] = max(GRADCHECK["max_abs_error"], *(c.max_abs_error for c in report.checks))


def close(ours: Any, theirs: Any, what: str, terms: Any = None) -> float:
    """|ours - torch| <= TOL * (|torch| + max|torch|) elementwise (TOL by ours' dtype); returns the largest ratio.

    ``terms``: for a result that is a sum (a parameter's gradient summed over the batch), the sum of its terms'
    magnitudes, per element. Rounding error grows with that sum, not with the result: 8 terms that cancel to 1e-3
    of their size leave float32 at ~1e-4 relative to the result in both libraries (seen: dL/dgamma, seed 1271)."""
    ours_a = np.asarray(getattr(ours, "data", ours))
    theirs_a = (theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)).astype(np.float64)
    assert ours_a.shape == theirs_a.shape, f"{what}: shape {ours_a.shape} vs torch {theirs_a.shape}"
    same_infinity = np.isinf(theirs_a) & (ours_a == theirs_a)  # -inf from windows of padding alone, equal on both sides
    ours_a, theirs_a = np.where(same_infinity, 0, ours_a), np.where(same_infinity, 0, theirs_a)
    scale = float(np.abs(theirs_a).max()) if theirs_a.size else 0.0
    if terms is not None:
        scale = np.maximum(scale, np.asarray(terms, dtype=np.float64))
    err = np.abs(ours_a.astype(np.float64) - theirs_a) / (np.abs(theirs_a) + scale + 1e-300)
    worst = float(err.max()) if err.size else 0.0
    key = ours_a.dtype.name
    if worst > WORST.get(key, (-1.0, ""))[0]:
        WORST[key] = (worst, what)
    assert worst <= TOL[ours_a.dtype], f"{what} ({key}): relative error {worst:.3e} > {TOL[ours_a.dtype]:g}"
    return worst


def report_worst(title: str) -> None:
    if os.environ.get("NNBLOCKS_PARITY_REPORT"):
        print(f"\n{title}: {GRADCHECK['cases']} gradchecks, largest |backward - central difference| "
              f"{GRADCHECK['max_abs_error']:.3e}")
        for key, (err, where) in sorted(WORST.items()):
            print(f"\n{title}: largest relative error vs PyTorch in {key}: {err:.3e} ({where})")


@st.composite
def conv_geometry(draw: Any) -> dict[str, Any]:
    """Shapes and options of one conv2d call that fits: x (N, C, H, W), weight (O, C/groups, kH, kW), options."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["int", "pair", "valid", "same"] if stride == (1, 1) else ["int", "pair", "valid"]))
    if padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 1)))
    pads = {"valid": (0, 0), "same": (0, 0)}.get(padding, padding) if isinstance(padding, str) else \
        (padding if isinstance(padding, tuple) else (padding, padding))
    size = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 3)) for k, d, p in zip(kernel, dilation, pads)]
    return {"x": (draw(st.integers(1, 2)), cin, *size), "w": (cout, cin // groups, *kernel), "bias": draw(st.booleans()),
            "options": dict(stride=stride, padding=padding, dilation=dilation, groups=groups)}


@st.composite
def pool_geometry(draw: Any, dilation: bool = True) -> dict[str, Any]:
    """Shapes and options of one max/avg pooling call PyTorch accepts (padding at most half the kernel)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    size = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4)) for k, d, p in zip(kernel, dil, padding)]
    options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilation:
        options["dilation"] = dil
    return {"x": (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size), "options": options}
