"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (optionally centered)."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.optim.optimizer import Optimizer, ParamsT, add_scaled_, check_nonnegative
from nnblocks.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), exactly as ``torch.optim.RMSprop``.

    With gradient :math:`g_t` (negated if ``maximize``), smoothing :math:`\alpha`:

    .. math::
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1-\alpha)\, g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1-\alpha)\, g_t, \quad
            s_t = \sqrt{v_t - \bar g_t^2} + \epsilon \text{ if centered, else } s_t = \sqrt{v_t} + \epsilon \\
        b_t &\leftarrow \mu b_{t-1} + g_t / s_t, \quad \theta_t \leftarrow \theta_{t-1} - \gamma\, b_t
            \quad\text{(with momentum } \mu > 0\text{; else } \theta_t \leftarrow \theta_{t-1} - \gamma\, g_t/s_t)

    No bias correction: :math:`v_0 = 0`, so early steps are large, as in PyTorch. The default ``lr`` is 1e-2.
    State per parameter: ``step``, ``square_avg``, plus ``momentum_buffer`` and ``grad_avg`` when used.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            group[key] = check_nonnegative("RMSprop", key, group[key])

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(p.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.data)
        return state

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        data = p.data  # the parameter's array, updated in place (read once: .data is a property)
        lr, alpha, eps, weight_decay = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        state["step"] += 1
        # d may alias grad (read-only), so it is never written to.
        d = -grad if group["maximize"] else grad
        if weight_decay != 0:
            d = d + weight_decay * data

        v = state["square_avg"]
        tmp = self._scratch_like(data)  # one reused buffer for every temporary below
        v *= alpha
        np.multiply(d, d, out=tmp)
        tmp *= 1.0 - alpha
        v += tmp
        if group["centered"]:
            g_avg = state["grad_avg"]
            g_avg *= alpha
            add_scaled_(g_avg, d, 1.0 - alpha)
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(d, tmp, out=tmp)  # tmp = g / s

        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += tmp
            add_scaled_(data, buf, -lr)
        else:
            tmp *= -lr
            data += tmp
