"""Parametric AFT heads (Weibull, log-normal) with closed-form survival functions.

Both heads map ``(batch, in_features)`` to ``(batch, 2)``:

* :class:`WeibullHead`: ``[log_scale, log_shape] = [log lambda, log rho]``,
  ``S(t) = exp(-(t/lambda)^rho)``.
* :class:`LogNormalHead`: ``[mu, log_sigma]``, ``S(t) = Phi(-(log t - mu) / sigma)``.

The first column is linear in ``z``. The second is a single learned constant by default
(``ancillary=False``, as lifelines' default), or linear in ``z`` with ``ancillary=True``. With ``z`` =
covariates the heads are exactly lifelines' ``WeibullAFTFitter`` / ``LogNormalAFTFitter`` models.

Example:
    >>> import torch
    >>> survival_weibull(torch.tensor([[0.0, 0.0]]), torch.tensor([0.0, 1.0]))
    tensor([[1.0000, 0.3679]])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from oncoplan.errors import ModelError
from oncoplan.models.heads.base import SurvivalHead, as_tensor
from oncoplan.models.losses.parametric import (
    lognormal_log_survival,
    nll_lognormal_aft,
    nll_weibull_aft,
    weibull_log_survival,
)
from oncoplan.models.time_grid import TimeGrid


def _times(params: Tensor, times: Any) -> Tensor:
    if params.dim() != 2 or params.shape[1] != 2:
        raise ModelError(f"parametric head outputs must be (n, 2), got {tuple(params.shape)}")
    t = as_tensor(times, params.dtype).to(params.device)
    if bool((t < 0).any()):
        raise ModelError("survival 'times' must be >= 0", hint=f"got {t[t < 0][:5].tolist()}")
    return t.view(1, -1)


def survival_weibull(params: Tensor, times: Any) -> Tensor:
    """Weibull survival ``(n, q)`` from head outputs ``(n, 2) = [log_scale, log_shape]``; ``S(0) = 1``.

    Example:
        >>> survival_weibull(torch.tensor([[0.0, 0.0]]), [2.0])
        tensor([[0.1353]])
    """
    t = _times(params, times)
    return torch.exp(weibull_log_survival(params[:, :1], params[:, 1:], t))


def survival_lognormal(params: Tensor, times: Any) -> Tensor:
    """Log-normal survival ``(n, q)`` from head outputs ``(n, 2) = [mu, log_sigma]``; ``S(0) = 1``.

    Example:
        >>> survival_lognormal(torch.tensor([[0.0, 0.0]]), [1.0])
        tensor([[0.5000]])
    """
    t = _times(params, times)
    return torch.exp(lognormal_log_survival(params[:, :1], params[:, 1:], t))


class _AFTHead(SurvivalHead):
    """Two-parameter AFT head: ``(batch, in_features) -> (batch, 2)``."""

    def __init__(self, in_features: int, ancillary: bool = False) -> None:
        super().__init__()
        self.ancillary = bool(ancillary)
        self.location = nn.Linear(in_features, 1)
        if self.ancillary:
            self.log_spread = nn.Linear(in_features, 1)
        else:
            self.log_spread_const = nn.Parameter(torch.zeros(1))

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> _AFTHead:
        """Build the head; ``grid`` is ignored (continuous-time model)."""
        return cls(in_features, **kwargs)

    @staticmethod
    def n_outputs(grid: TimeGrid | None = None) -> int:
        """Always 2."""
        return 2

    def forward(self, z: Tensor) -> Tensor:
        """``(batch, in_features) -> (batch, 2)``."""
        loc = self.location(z)
        spread = self.log_spread(z) if self.ancillary else self.log_spread_const.expand(z.shape[0], 1)
        return torch.cat([loc, spread], dim=1)

    def targets(self, time: Any, event: Any) -> tuple[Tensor, Tensor]:
        """``(time, event)`` as float tensors (time must be > 0)."""
        return as_tensor(time), as_tensor(event)


class WeibullHead(_AFTHead):
    """Weibull AFT head: outputs ``[log_scale, log_shape]`` (lifelines ``lambda_``, ``rho_`` on log scale).

    Example:
        >>> head = WeibullHead(3)
        >>> head(torch.zeros(4, 3)).shape
        torch.Size([4, 2])
    """

    name = "weibull"

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """:func:`~oncoplan.models.losses.parametric.nll_weibull_aft`."""
        time, event = targets
        return nll_weibull_aft(outputs[:, 0], outputs[:, 1], time, event, reduction)

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """:func:`survival_weibull`."""
        return survival_weibull(outputs, times)


class LogNormalHead(_AFTHead):
    """Log-normal AFT head: outputs ``[mu, log_sigma]`` (lifelines ``mu_``, ``sigma_`` on log scale).

    Example:
        >>> head = LogNormalHead(3, ancillary=True)
        >>> head(torch.zeros(4, 3)).shape
        torch.Size([4, 2])
    """

    name = "lognormal"

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """:func:`~oncoplan.models.losses.parametric.nll_lognormal_aft`."""
        time, event = targets
        return nll_lognormal_aft(outputs[:, 0], outputs[:, 1], time, event, reduction)

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """:func:`survival_lognormal`."""
        return survival_lognormal(outputs, times)
