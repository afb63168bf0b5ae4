"""Discrete-time heads: logistic hazard and piecewise-constant hazard (PC-hazard), and survival curves.

* :class:`LogisticHazardHead`: ``(batch, in_features) -> (batch, m)`` hazard logits, ``m = len(grid.cuts)``;
  ``S(t_j) = prod_{k <= j} (1 - sigmoid(logit_k))``.
* :class:`PCHazardHead`: ``(batch, in_features) -> (batch, m - 1)`` logits, one per interval; the cumulative
  hazard over interval ``j`` is ``softplus(logit_j)`` and ``S(t) = exp(-cumulative hazard)``, exact inside
  intervals (constant hazard).

:func:`interpolate_survival` turns survival at the cuts into survival at any times ('step', 'linear' =
constant density as pycox's ``const_pdf``, or 'const_hazard' = exponential between cuts).

Example:
    >>> import torch
    >>> survival_logistic_hazard(torch.zeros(1, 3))
    tensor([[0.5000, 0.2500, 0.1250]])
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oncoplan.errors import ModelError
from oncoplan.models.heads.base import GridHead, as_tensor
from oncoplan.models.losses.discrete import nll_logistic_hazard, nll_pc_hazard, softplus
from oncoplan.models.time_grid import TimeGrid

Interpolation = Literal["step", "linear", "const_hazard"]
Beyond = Literal["hold", "nan"]


def survival_logistic_hazard(logits: Tensor) -> Tensor:
    """Survival at the cuts ``(n, m)`` from hazard logits ``(n, m)``: ``exp(-cumsum(softplus(logits)))``.

    This is ``prod (1 - sigmoid(logits))`` computed in log space.

    Example:
        >>> survival_logistic_hazard(torch.tensor([[0.0]]))
        tensor([[0.5000]])
    """
    return torch.exp(-softplus(logits).cumsum(-1))


def survival_pc_hazard(logits: Tensor) -> Tensor:
    """Survival at all ``m`` cuts ``(n, m)`` from PC-hazard logits ``(n, m - 1)`` (first column is 1).

    Example:
        >>> survival_pc_hazard(torch.zeros(1, 2)).shape
        torch.Size([1, 3])
    """
    cumhaz = F.pad(softplus(logits), (1, 0)).cumsum(-1)
    return torch.exp(-cumhaz)


def interpolate_survival(
    surv_at_cuts: Tensor,
    cuts: Any,
    times: Any,
    scheme: Interpolation = "linear",
    beyond: Beyond = "hold",
) -> Tensor:
    """Survival ``(n, q)`` at arbitrary ``times`` from survival ``(n, m)`` at the grid ``cuts``.

    Before the first cut survival is 1; at a cut it is the value there; inside ``(cuts[j-1], cuts[j])`` it
    is the previous value ('step'), linear in time ('linear', constant density) or log-linear
    ('const_hazard', constant hazard; exact for the PC-hazard head). After the last cut the model has no
    information: ``beyond='hold'`` keeps the last value, ``beyond='nan'`` returns NaN.

    Example:
        >>> s = torch.tensor([[1.0, 0.5]])
        >>> interpolate_survival(s, [0.0, 2.0], [-1.0, 1.0, 2.0, 5.0])
        tensor([[1.0000, 0.7500, 0.5000, 0.5000]])
    """
    if scheme not in ("step", "linear", "const_hazard"):
        raise ModelError(f"'scheme' must be 'step', 'linear' or 'const_hazard', got {scheme!r}")
    if beyond not in ("hold", "nan"):
        raise ModelError(f"'beyond' must be 'hold' or 'nan', got {beyond!r}")
    cuts_t = as_tensor(cuts, surv_at_cuts.dtype).to(surv_at_cuts.device)
    times_t = as_tensor(times, surv_at_cuts.dtype).to(surv_at_cuts.device)
    m = cuts_t.numel()
    if surv_at_cuts.shape[-1] != m:
        raise ModelError(f"survival has {surv_at_cuts.shape[-1]} columns but there are {m} cuts")
    right = torch.searchsorted(cuts_t, times_t, right=False).clamp(max=m - 1)  # first cut >= t
    prev = (right - 1).clamp(min=0)
    s_right = surv_at_cuts[..., right]
    s_prev = torch.where(right > 0, surv_at_cuts[..., prev], torch.ones_like(s_right))
    width = (cuts_t[right] - cuts_t[prev]).clamp(min=torch.finfo(cuts_t.dtype).tiny)
    frac = ((times_t - cuts_t[prev]) / width).clamp(0.0, 1.0)
    if scheme == "step":
        inside = s_prev
    elif scheme == "linear":
        inside = s_prev + frac * (s_right - s_prev)
    else:
        ratio = torch.where(s_prev > 0, s_right / s_prev.clamp(min=torch.finfo(s_prev.dtype).tiny), s_prev)
        inside = s_prev * ratio.clamp(min=0.0) ** frac
    out = torch.where(times_t == cuts_t[right], s_right, inside)
    out = torch.where(times_t < cuts_t[0], torch.ones_like(out), out)
    after = times_t > cuts_t[-1]
    fill = surv_at_cuts[..., -1:].expand_as(out) if beyond == "hold" else torch.full_like(out, float("nan"))
    return torch.where(after, fill, out)


class LogisticHazardHead(GridHead):
    """Logistic-hazard head: ``(batch, in_features) -> (batch, len(grid.cuts))`` hazard logits.

    Example:
        >>> head = LogisticHazardHead.from_grid(8, TimeGrid.from_cuts([0.0, 1.0, 2.0]))
        >>> head(torch.zeros(5, 8)).shape
        torch.Size([5, 3])
    """

    name = "logistic_hazard"

    def __init__(self, in_features: int, grid: TimeGrid, interpolation: Interpolation = "linear") -> None:
        super().__init__(grid)
        self.linear = nn.Linear(in_features, self.cuts.numel())
        self.interpolation: Interpolation = interpolation

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> LogisticHazardHead:
        """Head with one output per cut of ``grid``."""
        return cls(in_features, grid, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def n_outputs(grid: TimeGrid) -> int:
        """Number of outputs for ``grid``: ``len(grid.cuts)``."""
        return grid.n_intervals + 1

    def forward(self, z: Tensor) -> Tensor:
        """``(batch, in_features) -> (batch, m)`` hazard logits."""
        return self.linear(z)

    def targets(self, time: Any, event: Any) -> tuple[Tensor, Tensor]:
        """``(idx_durations int64, events float)`` from :meth:`TimeGrid.transform`."""
        idx, ev = self.grid.transform(time, event)
        return torch.as_tensor(idx), as_tensor(ev)

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """:func:`~oncoplan.models.losses.discrete.nll_logistic_hazard`."""
        idx, ev = targets
        return nll_logistic_hazard(outputs, idx, ev, reduction)

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """Survival ``(batch, len(times))``, interpolated with ``self.interpolation``."""
        surv = survival_logistic_hazard(outputs)
        return interpolate_survival(surv, self.cuts, times, self.interpolation)


class PCHazardHead(GridHead):
    """PC-hazard head: ``(batch, in_features) -> (batch, len(grid.cuts) - 1)`` logits, one per interval.

    Example:
        >>> head = PCHazardHead.from_grid(8, TimeGrid.from_cuts([0.0, 1.0, 2.0]))
        >>> head(torch.zeros(5, 8)).shape
        torch.Size([5, 2])
    """

    name = "pc_hazard"

    def __init__(self, in_features: int, grid: TimeGrid) -> None:
        super().__init__(grid)
        self.linear = nn.Linear(in_features, self.cuts.numel() - 1)

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> PCHazardHead:
        """Head with one output per interval of ``grid``."""
        return cls(in_features, grid, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def n_outputs(grid: TimeGrid) -> int:
        """Number of outputs for ``grid``: ``grid.n_intervals``."""
        return grid.n_intervals

    def forward(self, z: Tensor) -> Tensor:
        """``(batch, in_features) -> (batch, m - 1)`` logits of the per-interval cumulative hazards."""
        return self.linear(z)

    def targets(self, time: Any, event: Any) -> tuple[Tensor, Tensor, Tensor]:
        """``(idx_durations, events, interval_frac)`` from :meth:`TimeGrid.transform_pc`."""
        idx, ev, frac = self.grid.transform_pc(time, event)
        return torch.as_tensor(idx), as_tensor(ev), as_tensor(frac)

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """:func:`~oncoplan.models.losses.discrete.nll_pc_hazard`."""
        idx, ev, frac = targets
        return nll_pc_hazard(outputs, idx, ev, frac, reduction)

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """Exact survival ``(batch, len(times))`` under the piecewise-constant hazard."""
        return interpolate_survival(survival_pc_hazard(outputs), self.cuts, times, "const_hazard")
