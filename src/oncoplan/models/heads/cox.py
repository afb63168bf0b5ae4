"""Cox head: a linear log-risk and survival from a baseline cumulative hazard.

The head maps ``(batch, in_features)`` to the log-hazard ratio ``(batch,)`` (no bias: the partial likelihood
ignores it). Its loss is :func:`oncoplan.models.losses.cox.cox_partial_likelihood`. Survival needs a
baseline cumulative hazard ``H0`` (e.g. Breslow's, fitted after training on the training risks):
``S(t | x) = exp(-H0(t) * exp(log_risk))`` with ``H0`` a right-continuous step function that is 0 before its
first time and held after its last.

Example:
    >>> import torch
    >>> cox_survival(torch.tensor([0.0, 1.0]), [1.0, 2.0], [0.1, 0.3], [0.5, 1.5, 9.0])
    tensor([[1.0000, 0.9048, 0.7408],
            [1.0000, 0.7620, 0.4424]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oncoplan.errors import ModelError
from oncoplan.models.heads.base import SurvivalHead, as_tensor
from oncoplan.models.losses.cox import cox_partial_likelihood
from oncoplan.models.time_grid import TimeGrid


def cox_survival(log_risk: Tensor, baseline_time: Any, baseline_cumhaz: Any, times: Any) -> Tensor:
    """Survival ``(n, q)`` of a Cox model at arbitrary ``times``.

    Args:
        log_risk: ``(n,)`` or ``(n, 1)`` log-hazard ratios, on the same scale as the baseline was fitted with.
        baseline_time: ``(k,)`` increasing times of the baseline cumulative hazard.
        baseline_cumhaz: ``(k,)`` non-decreasing ``H0`` at those times.
        times: ``(q,)`` times to evaluate.

    Example:
        >>> cox_survival(torch.zeros(1), [1.0], [0.5], [1.0])
        tensor([[0.6065]])
    """
    risk = log_risk.reshape(-1, 1)
    bt = as_tensor(baseline_time, risk.dtype).to(risk.device)
    bh = as_tensor(baseline_cumhaz, risk.dtype).to(risk.device)
    if bt.shape != bh.shape or bt.numel() == 0:
        raise ModelError(
            f"baseline times and cumulative hazards must be equal-length and non-empty, "
            f"got {bt.numel()} and {bh.numel()} values"
        )
    if bool((bt[1:] <= bt[:-1]).any()):
        raise ModelError("'baseline_time' must be strictly increasing", hint="sort it and drop duplicates")
    t = as_tensor(times, risk.dtype).to(risk.device)
    pos = torch.searchsorted(bt, t, right=True)  # number of baseline times <= t
    h0 = torch.where(pos > 0, bh[(pos - 1).clamp(min=0)], torch.zeros_like(t))
    return torch.exp(-h0.view(1, -1) * torch.exp(risk))


class CoxHead(SurvivalHead):
    """Cox head: ``(batch, in_features) -> (batch,)`` log-hazard ratio (linear, no bias).

    Call :meth:`set_baseline` with a baseline cumulative hazard before :meth:`survival`.

    Example:
        >>> head = CoxHead(3)
        >>> head(torch.zeros(4, 3)).shape
        torch.Size([4])
    """

    name = "cox"
    resizable_buffers = ("baseline_time", "baseline_cumhaz")

    def __init__(self, in_features: int, ties: str = "efron") -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, 1, bias=False)
        self.ties = ties
        self.register_buffer("baseline_time", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("baseline_cumhaz", torch.zeros(0, dtype=torch.float64))

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> CoxHead:
        """Build the head; ``grid`` is ignored."""
        return cls(in_features, **kwargs)

    @staticmethod
    def n_outputs(grid: TimeGrid | None = None) -> int:
        """Always 1."""
        return 1

    def forward(self, z: Tensor) -> Tensor:
        """``(batch, in_features) -> (batch,)`` log-hazard ratios."""
        return self.linear(z).view(-1)

    def targets(self, time: Any, event: Any) -> tuple[Tensor, Tensor]:
        """``(time, event)`` as float tensors."""
        return as_tensor(time), as_tensor(event)

    def loss(
        self, outputs: Tensor, *targets: Tensor, reduction: str = "mean", weights: Tensor | None = None
    ) -> Tensor:
        """Negative log partial likelihood (``reduction`` 'mean' divides by the (weighted) number of events);
        ``weights``: per-patient case weights (e.g. inverse propensities)."""
        time, event = targets
        return cox_partial_likelihood(
            outputs, time, event, ties=self.ties, reduction=reduction, weights=weights
        )  # type: ignore[arg-type]

    def set_baseline(self, baseline_time: Any, baseline_cumhaz: Any) -> None:
        """Store the baseline cumulative hazard (as state-dict buffers) used by :meth:`survival`.

        Example:
            >>> head = CoxHead(1); head.set_baseline([1.0, 2.0], [0.1, 0.2]); head.baseline_time.numel()
            2
        """
        self.baseline_time = torch.as_tensor(np.asarray(baseline_time, dtype=np.float64))
        self.baseline_cumhaz = torch.as_tensor(np.asarray(baseline_cumhaz, dtype=np.float64))

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """:func:`cox_survival` with the stored baseline."""
        if self.baseline_time.numel() == 0:
            raise ModelError(
                "the Cox head has no baseline hazard", hint="call head.set_baseline(...) after fitting"
            )
        return cox_survival(outputs, self.baseline_time, self.baseline_cumhaz, times)


def breslow_baseline(
    log_risk: np.ndarray, time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Breslow cumulative baseline hazard ``(unique times, H0)`` of fitted log-risks, with case weights.

    ``H0(t) = sum_{t_i <= t} w_i d_i / sum_{j: t_j >= t_i} w_j exp(log_risk_j)``. Written by hand because
    scikit-survival's ``BreslowEstimator`` takes no weights; without weights it gives the same values, and
    integer weights give the same values as duplicated rows (both tested).

    Example:
        >>> t, h = breslow_baseline(np.zeros(2), np.array([1.0, 2.0]), np.array([True, True]))
        >>> h.tolist()
        [0.5, 1.5]
    """
    eta = np.asarray(log_risk, dtype=float)
    t, d = np.asarray(time, dtype=float), np.asarray(event, dtype=bool)
    w = np.ones_like(eta) if weights is None else np.asarray(weights, dtype=float)
    times, inverse = np.unique(t, return_inverse=True)
    risk = np.bincount(inverse, weights=w * np.exp(eta - eta.max()), minlength=len(times))
    at_risk = np.cumsum(risk[::-1])[::-1] * np.exp(eta.max())
    deaths = np.bincount(inverse, weights=w * d, minlength=len(times))
    return times, np.cumsum(deaths / at_risk)
