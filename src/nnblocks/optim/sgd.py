"""Stochastic gradient descent, with optional momentum, Nesterov momentum, dampening and weight decay."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnblocks.autograd import DeferredGradient
from nnblocks.errors import InvalidValueError
from nnblocks.optim.optimizer import Optimizer, ParamsT, add_scaled_, axpy_, check_nonnegative
from nnblocks.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, exactly as ``torch.optim.SGD``.

    With gradient :math:`g_t` (negated if ``maximize``), weight decay :math:`\lambda`, momentum :math:`\mu`,
    dampening :math:`\tau` and learning rate :math:`\gamma`, each step does

    .. math::
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1} \\
        b_t &\leftarrow g_t \text{ at the first step, else } \mu\, b_{t-1} + (1-\tau)\, g_t \\
        d_t &\leftarrow g_t + \mu\, b_t \text{ if nesterov, else } b_t \quad (d_t = g_t \text{ when } \mu = 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma\, d_t

    Note the PyTorch convention: the learning rate multiplies the velocity (not the gradient inside it), and the
    first momentum buffer is the gradient itself, without dampening. The default ``lr`` is 1e-3 as in torch 2.x.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            group[name] = check_nonnegative("SGD", name, group[name])
        group["dampening"] = float(group["dampening"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise InvalidValueError(
                "SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _add_deferred(self, p: Tensor, grad: DeferredGradient, group: dict[str, Any]) -> bool:
        # Plain SGD from a weight's deferred G^T X: theta += (-lr) G^T X as one GEMM into theta (ops/blas.py)
        if group["momentum"] != 0 or group["weight_decay"] != 0:
            return False
        grad.add_to(p.data, group["lr"] if group["maximize"] else -group["lr"])
        return True

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        data = p.data  # the parameter's array, updated in place (read once: .data is a property)
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        maximize = group["maximize"]
        if momentum == 0 and weight_decay == 0:
            # Plain SGD, theta <- theta - lr * g: one axpy over the parameter, maximize's sign in the step size.
            axpy_(data, grad, lr if maximize else -lr, self._scratch_like(data))
            return

        # d: the (possibly decayed, possibly negated) gradient. It may alias grad, so it is never written to.
        if weight_decay != 0:
            d = data * weight_decay
            np.subtract(d, grad, out=d) if maximize else np.add(d, grad, out=d)
        else:
            d = -grad if maximize else grad
        if momentum == 0:
            add_scaled_(data, d, -lr)
            return

        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.array(d, dtype=data.dtype, copy=True)
        else:
            buf *= momentum
            if group["dampening"] != 0:
                add_scaled_(buf, d, 1.0 - group["dampening"])
            else:
                buf += d
        if group["nesterov"]:
            direction = buf * momentum  # look ahead along the velocity: d + mu * b
            direction += d
            add_scaled_(data, direction, -lr)
        else:
            add_scaled_(data, buf, -lr, self._scratch_like(data))
