"""Cox partial likelihood (Breslow and Efron ties) as a PyTorch loss.

``risk`` is the log-hazard ratio (linear predictor) per patient. The loss is the negative log partial
likelihood divided by the number of events, so it matches scikit-survival's ``CoxPHOptimizer`` (Breslow)
and lifelines' ``CoxPHFitter`` (Efron) up to that normalisation. Written by hand: neither library offers
a differentiable torch version.

Example:
    >>> import torch
    >>> risk = torch.tensor([0.5, -0.2, 0.1])
    >>> time = torch.tensor([2.0, 3.0, 3.0])
    >>> event = torch.tensor([1.0, 1.0, 0.0])
    >>> round(float(cox_partial_likelihood(risk, time, event)), 4)
    0.8138
"""

from __future__ import annotations

from typing import Literal

import torch

Ties = Literal["breslow", "efron"]


def _group_by_time(time: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique times (ascending) and each patient's index into them."""
    unique, inverse = torch.unique(time, sorted=True, return_inverse=True)
    return unique, inverse


def _log_risk_set_sums(risk: torch.Tensor, inverse: torch.Tensor, n_times: int) -> torch.Tensor:
    """log sum_{j: T_j >= t_k} exp(risk_j) for each unique time t_k (stable, differentiable)."""
    shift = risk.detach().max()
    per_time = torch.zeros(n_times, dtype=risk.dtype, device=risk.device)
    per_time = per_time.index_add(0, inverse, torch.exp(risk - shift))
    at_risk = torch.flip(torch.cumsum(torch.flip(per_time, [0]), 0), [0])
    return torch.log(at_risk) + shift


def cox_partial_likelihood(
    risk: torch.Tensor,
    time: torch.Tensor,
    event: torch.Tensor,
    ties: Ties = "breslow",
    reduction: Literal["mean", "sum"] = "mean",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Negative log Cox partial likelihood, optionally weighted per patient.

    Args:
        risk: (n,) or (n, 1) log-hazard ratios.
        time: (n,) follow-up times.
        event: (n,) 1 for an event, 0 for censoring.
        ties: ``"breslow"`` or ``"efron"`` handling of tied event times.
        reduction: ``"mean"`` divides by the (weighted) number of events (0 when there are none); ``"sum"``
            does not.
        weights: (n,) positive case weights, e.g. inverse propensities: each event counts ``w_i`` times and
            each risk set sums ``w_j exp(risk_j)`` (integer weights equal duplicated rows under Breslow
            ties; with Efron ties a tied group's terms carry the group's mean weight, as in lifelines).

    Returns:
        A scalar tensor.
    """
    risk = risk.reshape(-1)
    time = time.reshape(-1).to(risk.dtype)
    event = event.reshape(-1).to(risk.dtype)
    w = torch.ones_like(risk) if weights is None else weights.reshape(-1).to(risk.dtype)
    n_events = (w * event).sum()
    if float(event.sum()) == 0:
        return risk.sum() * 0.0
    unique, inverse = _group_by_time(time)
    n_times = len(unique)
    log_w = torch.log(w)
    log_at_risk = _log_risk_set_sums(risk + log_w, inverse, n_times)
    weighted_events = torch.zeros(n_times, dtype=risk.dtype, device=risk.device).index_add(
        0, inverse, w * event
    )
    if ties == "breslow":
        log_denominator = (weighted_events * log_at_risk).sum()
    elif ties == "efron":
        events_per_time = torch.zeros(n_times, dtype=risk.dtype, device=risk.device).index_add(
            0, inverse, event
        )
        log_denominator = _efron_log_denominator(  # unweighted: exactly the unweighted sums
            risk + log_w,
            event,
            inverse,
            log_at_risk,
            events_per_time,
            None if weights is None else weighted_events,
        )
    else:
        raise ValueError(f"ties must be 'breslow' or 'efron', got {ties!r}")
    nll = log_denominator - (w * event * risk).sum()
    return nll / n_events if reduction == "mean" else nll


def _efron_log_denominator(
    risk: torch.Tensor,
    event: torch.Tensor,
    inverse: torch.Tensor,
    log_at_risk: torch.Tensor,
    events_per_time: torch.Tensor,
    weighted_events: torch.Tensor | None = None,
) -> torch.Tensor:
    """sum_k wbar_k sum_{l=0}^{d_k-1} log(R_k - l/d_k * D_k): R_k risk-set sum, D_k sum over tied events,
    wbar_k the tied events' mean weight (1 unweighted; lifelines' weighted Efron)."""
    shift = risk.detach().max()
    n_times = len(log_at_risk)
    tied = torch.zeros(n_times, dtype=risk.dtype, device=risk.device)
    tied = tied.index_add(0, inverse, event * torch.exp(risk - shift))
    at_risk = torch.exp(log_at_risk - shift)
    has_events = events_per_time > 0
    d = events_per_time[has_events]
    max_d = int(d.max())
    ell = torch.arange(max_d, dtype=risk.dtype, device=risk.device)
    frac = ell.unsqueeze(0) / d.unsqueeze(1)
    valid = ell.unsqueeze(0) < d.unsqueeze(1)
    terms = at_risk[has_events].unsqueeze(1) - frac * tied[has_events].unsqueeze(1)
    terms = torch.where(valid, terms, torch.ones_like(terms))
    logs = torch.log(terms) + shift * valid
    if weighted_events is None:
        return logs.sum()
    return (weighted_events[has_events] / d * logs.sum(dim=1)).sum()
