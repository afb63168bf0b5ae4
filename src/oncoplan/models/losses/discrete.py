"""Discrete-time survival losses: logistic hazard and piecewise-constant hazard (PC-hazard).

Both are written by hand after pycox (``nll_logistic_hazard``, ``nll_pc_hazard_loss``; Kvamme & Borgan 2019,
arXiv:1910.06724), which does not install on current numpy/scipy. They take the targets produced by
:class:`oncoplan.models.time_grid.TimeGrid`.

**Logistic hazard** (Gensheimer & Narasimhan 2019; Kvamme & Borgan 2019). ``logits[i, j]`` gives the discrete
hazard ``h_ij = sigmoid(logits[i, j])`` at cut ``j``. With interval index ``k_i`` and event ``d_i``::

    -log L_i = -[ d_i log h_{i k_i} + (1 - d_i) log(1 - h_{i k_i}) + sum_{j < k_i} log(1 - h_ij) ]

**PC-hazard**. ``eta_ij = softplus(logits[i, j])`` is the cumulative hazard over interval ``j`` =
``(cuts[j], cuts[j+1]]`` (a constant hazard rate ``eta_ij / (cuts[j+1]-cuts[j])``). With interval ``k_i`` and
fraction ``rho_i`` of it lived through::

    -log L_i = -[ d_i log eta_{i k_i} - rho_i eta_{i k_i} - sum_{j < k_i} eta_ij ]

This equals the continuous-time negative log-likelihood up to the constant ``sum_i d_i log(interval length)``.
Rows with ``k_i = -1`` (time at the grid start) carry no information and are skipped, as in pycox.

Example:
    >>> import torch
    >>> logits = torch.zeros(2, 3)
    >>> nll_logistic_hazard(logits, torch.tensor([1, 2]), torch.tensor([1.0, 0.0]))
    tensor(1.7329)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from oncoplan.errors import ModelError

_REDUCTIONS = ("mean", "sum", "none")


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))`` exact to float64 precision (torch's default returns ``x`` above 20, off by ~2e-9).

    Example:
        >>> softplus(torch.tensor([0.0]))
        tensor([0.6931])
    """
    return F.softplus(x, beta=1.0, threshold=40.0)


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Reduce a per-patient loss vector by ``'mean'``, ``'sum'`` or ``'none'``.

    Example:
        >>> reduce_loss(torch.tensor([1.0, 3.0]), "mean")
        tensor(2.)
    """
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ModelError(f"'reduction' must be one of {_REDUCTIONS}, got {reduction!r}")


def check_targets(logits: Tensor, idx_durations: Tensor, events: Tensor, n_slots: int | None = None) -> None:
    """Check shapes and index range of discrete-time targets; raise :class:`ModelError` naming the fix.

    Example:
        >>> check_targets(torch.zeros(2, 3), torch.tensor([0, 2]), torch.tensor([1.0, 0.0]))
    """
    if logits.dim() < 2:
        raise ModelError(f"'logits' must be (n, m) or (n, risks, m), got shape {tuple(logits.shape)}")
    n, m = logits.shape[0], logits.shape[-1] if n_slots is None else n_slots
    if idx_durations.shape != (n,) or events.shape != (n,):
        raise ModelError(
            f"'idx_durations' and 'events' must have shape ({n},), got {tuple(idx_durations.shape)} "
            f"and {tuple(events.shape)}",
            hint="pass one interval index and one event per row of logits",
        )
    if idx_durations.dtype not in (torch.int64, torch.int32):
        raise ModelError(f"'idx_durations' must be an integer tensor, got {idx_durations.dtype}")
    if n and int(idx_durations.max()) >= m:
        raise ModelError(
            f"'idx_durations' has index {int(idx_durations.max())} but the head has only {m} outputs",
            hint=f"the head needs at least {int(idx_durations.max()) + 1} outputs for this TimeGrid",
        )


def nll_logistic_hazard(
    logits: Tensor, idx_durations: Tensor, events: Tensor, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of the logistic (discrete-time) hazard model.

    Args:
        logits: ``(n, m)`` hazard logits, one per cut of the :class:`TimeGrid` (``m = len(grid.cuts)``).
        idx_durations: ``(n,)`` int64 indices from ``TimeGrid.transform``.
        events: ``(n,)`` 1.0 for an event, 0.0 for a censoring (bool accepted).
        reduction: ``'mean'`` | ``'sum'`` | ``'none'`` (per-patient vector).

    Example:
        >>> nll_logistic_hazard(torch.zeros(1, 2), torch.tensor([0]), torch.tensor([1.0]))
        tensor(0.6931)
    """
    check_targets(logits, idx_durations, events)
    events = events.to(logits.dtype).view(-1, 1)
    idx = idx_durations.long().view(-1, 1)
    target = torch.zeros_like(logits).scatter(1, idx, events)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = bce.cumsum(1).gather(1, idx).view(-1)
    return reduce_loss(loss, reduction)


def _log_softplus(x: Tensor, threshold: float = -30.0) -> Tensor:
    """``log(softplus(x))``; below ``threshold`` it returns ``x`` (error ``exp(x) / 2`` < 1e-13)."""
    safe = torch.where(x >= threshold, x, torch.zeros_like(x))
    return torch.where(x >= threshold, softplus(safe).log(), x)


def nll_pc_hazard(
    logits: Tensor, idx_durations: Tensor, events: Tensor, interval_frac: Tensor, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of the piecewise-constant hazard model (up to a data-only constant).

    Args:
        logits: ``(n, m - 1)`` one per interval of the :class:`TimeGrid` (``grid.n_intervals``).
        idx_durations: ``(n,)`` int64 interval indices from ``TimeGrid.transform_pc`` (rows with ``-1``
            are skipped).
        events: ``(n,)`` 1.0 event / 0.0 censoring.
        interval_frac: ``(n,)`` fraction of the last interval lived through, in ``[0, 1]``.
        reduction: ``'mean'`` (over the kept rows) | ``'sum'`` | ``'none'`` (kept rows only).

    Example:
        >>> nll_pc_hazard(torch.zeros(1, 2), torch.tensor([1]), torch.tensor([1.0]), torch.tensor([0.5]))
        tensor(1.4062)
    """
    check_targets(logits, idx_durations, events)
    if interval_frac.shape != events.shape:
        raise ModelError(
            f"'interval_frac' must have shape {tuple(events.shape)}, got {tuple(interval_frac.shape)}"
        )
    keep = idx_durations >= 0
    logits, idx = logits[keep], idx_durations[keep].long().view(-1, 1)
    events = events[keep].to(logits.dtype)
    frac = interval_frac[keep].to(logits.dtype)
    phi_at = logits.gather(1, idx).view(-1)
    eta = softplus(logits)
    cum_before = F.pad(eta, (1, 0)).cumsum(1).gather(1, idx).view(-1)
    loss = -(_log_softplus(phi_at) * events - eta.gather(1, idx).view(-1) * frac - cum_before)
    return reduce_loss(loss, reduction)
