"""DeepHit head (single or competing risks) with survival and cumulative incidence curves.

The head maps ``(batch, in_features)`` to logits ``(batch, m)`` for one risk or ``(batch, K, m)`` for ``K``
competing risks, ``m = len(grid.cuts)``. A softmax over all ``K * m`` logits plus one fixed 0-logit for
"no event within the grid" gives the joint PMF (see :mod:`oncoplan.models.losses.deephit`).

Example:
    >>> import torch
    >>> survival_deephit(torch.zeros(1, 3))
    tensor([[0.7500, 0.5000, 0.2500]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oncoplan.models.heads.base import GridHead, as_tensor
from oncoplan.models.heads.discrete import Interpolation, interpolate_survival
from oncoplan.models.losses.deephit import deephit_loss, pmf_from_logits
from oncoplan.models.time_grid import TimeGrid


def cif_deephit(logits: Tensor) -> Tensor:
    """Cumulative incidence at the cuts: ``(n, m)`` for single risk, ``(n, K, m)`` for ``K`` risks.

    Example:
        >>> cif_deephit(torch.zeros(1, 2, 2))
        tensor([[[0.2000, 0.4000],
                 [0.2000, 0.4000]]])
    """
    return pmf_from_logits(logits).cumsum(-1)


def survival_deephit(logits: Tensor) -> Tensor:
    """Overall survival at the cuts ``(n, m)``: ``1 - sum over risks of the CIF``, clamped to ``[0, 1]``.

    Example:
        >>> survival_deephit(torch.zeros(1, 1))
        tensor([[0.5000]])
    """
    cif = cif_deephit(logits)
    total = cif if logits.dim() == 2 else cif.sum(1)
    return (1.0 - total).clamp(0.0, 1.0)


class DeepHitHead(GridHead):
    """DeepHit head: ``(batch, in_features) -> (batch, m)`` or, with ``n_risks > 1``, ``(batch, K, m)``.

    Args:
        in_features: size of the representation.
        grid: fitted :class:`TimeGrid` (``m = len(grid.cuts)``).
        n_risks: number of competing risks ``K`` (events coded 1..K, 0 = censored).
        alpha, sigma: DeepHit loss weights (pycox defaults 0.2, 0.1).
        interpolation: how :meth:`survival` fills between cuts (default constant density, as pycox).

    Example:
        >>> head = DeepHitHead.from_grid(8, TimeGrid.from_cuts([0.0, 1.0, 2.0]), n_risks=2)
        >>> head(torch.zeros(5, 8)).shape
        torch.Size([5, 2, 3])
    """

    name = "deephit"

    def __init__(
        self,
        in_features: int,
        grid: TimeGrid,
        n_risks: int = 1,
        alpha: float = 0.2,
        sigma: float = 0.1,
        interpolation: Interpolation = "linear",
    ) -> None:
        super().__init__(grid)
        self.n_risks = int(n_risks)
        self.alpha = float(alpha)
        self.sigma = float(sigma)
        self.interpolation: Interpolation = interpolation
        self.linear = nn.Linear(in_features, self.n_risks * self.cuts.numel())

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> DeepHitHead:
        """Head with ``n_risks * len(grid.cuts)`` outputs."""
        return cls(in_features, grid, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def n_outputs(grid: TimeGrid, n_risks: int = 1) -> int:
        """Number of outputs for ``grid``: ``n_risks * len(grid.cuts)``."""
        return n_risks * (grid.n_intervals + 1)

    def forward(self, z: Tensor) -> Tensor:
        """``(batch, in_features) -> (batch, m)`` (single risk) or ``(batch, K, m)`` logits."""
        out = self.linear(z)
        return out if self.n_risks == 1 else out.view(z.shape[0], self.n_risks, -1)

    def targets(self, time: Any, event: Any) -> tuple[Tensor, Tensor]:
        """``(idx_durations, events)``; ``event`` may hold causes 0..K (0 = censored)."""
        causes = np.asarray(event, dtype=np.float64).reshape(-1)
        idx, observed = self.grid.transform(time, causes > 0)
        causes = np.where(observed > 0, causes, 0.0)  # times past the grid become censorings
        return torch.as_tensor(idx), as_tensor(causes)

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """:func:`~oncoplan.models.losses.deephit.deephit_loss` with the head's ``alpha`` and ``sigma``."""
        idx, ev = targets
        return deephit_loss(outputs, idx, ev, self.alpha, self.sigma, reduction)

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """Overall survival ``(batch, len(times))``."""
        return interpolate_survival(survival_deephit(outputs), self.cuts, times, self.interpolation)

    def cumulative_incidence(self, outputs: Tensor, times: Any) -> Tensor:
        """Cause-specific CIF ``(batch, K, len(times))`` (``K = 1`` for a single risk).

        Example:
            >>> head = DeepHitHead.from_grid(2, TimeGrid.from_cuts([0.0, 1.0]), n_risks=2)
            >>> head.cumulative_incidence(head(torch.zeros(3, 2)), [0.5]).shape
            torch.Size([3, 2, 1])
        """
        cif = cif_deephit(outputs)
        cif = cif.unsqueeze(1) if cif.dim() == 2 else cif
        return 1.0 - interpolate_survival(1.0 - cif, self.cuts, times, self.interpolation)
