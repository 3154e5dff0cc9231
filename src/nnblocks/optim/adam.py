"""Adam and AdamW: adaptive moment estimation, with L2 (Adam) or decoupled (AdamW) weight decay, and AMSGrad."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from nnblocks.errors import InvalidValueError
from nnblocks.optim.optimizer import Optimizer, ParamsT, check_nonnegative
from nnblocks.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), exactly as ``torch.optim.Adam``.

    With gradient :math:`g_t` (negated if ``maximize``), step :math:`t = 1, 2, \dots`:

    .. math::
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
            \quad\text{(Adam; AdamW instead does } \theta_{t-1} \leftarrow (1 - \gamma\lambda)\,\theta_{t-1}) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat v_t &\leftarrow \max(\hat v_{t-1}, v_t) \text{ if amsgrad, else } v_t \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Note that :math:`\epsilon` is added *after* the bias correction of :math:`\sqrt{v}`, as in PyTorch.
    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            group[key] = check_nonnegative(name, key, group[key])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise InvalidValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= beta < 1.0:
                raise InvalidValueError(f"{name}: invalid beta parameter at index {i}: {beta!r} (it must be in [0, 1))")
        group["betas"] = (float(betas[0]), float(betas[1]))

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        data = p.data  # the parameter's array, updated in place (read once: .data is a property)
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]

        # d: the gradient used by the moments; it may alias grad (read-only), so it is never written to.
        d = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if self._decoupled:
                data *= 1.0 - lr * weight_decay
            else:
                d = d + weight_decay * data

        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self._scratch_like(data)  # one reused buffer for every temporary below
        m *= beta1
        np.multiply(d, 1.0 - beta1, out=tmp)
        m += tmp
        v *= beta2
        np.multiply(d, d, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])

        # Python floats, so a float32 parameter stays float32 (NEP 50).
        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        np.sqrt(v, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= -step_size
        data += tmp


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), exactly as ``torch.optim.AdamW``.

    Before the Adam update the parameters shrink by :math:`\theta \leftarrow (1 - \gamma\lambda)\,\theta`, instead of
    :math:`\lambda\theta` being added to the gradient, so the decay is not rescaled by :math:`1/\sqrt{\hat v}`.
    The default ``weight_decay`` is 1e-2.
    """

    _decoupled = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
