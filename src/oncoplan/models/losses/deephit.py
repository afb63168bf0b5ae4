"""DeepHit losses (Lee et al., AAAI 2018): PMF likelihood plus a pairwise ranking loss.

Written by hand after pycox (``nll_pmf``, ``rank_loss_deephit_single``, ``nll_pmf_cr``,
``rank_loss_deephit_cr``, ``DeepHitSingleLoss``), which does not install on current numpy/scipy; the
likelihood uses log-sum-exp instead of pycox's ``+1e-7`` inside the logarithm, so it stays
finite and exact for tiny probabilities.

**Competing-risks-ready design.** The head outputs ``logits`` of shape ``(n, K, m)`` for ``K`` risks and ``m``
cuts of a :class:`~oncoplan.models.time_grid.TimeGrid` (single risk: ``(n, m)``, read as ``K = 1``). One extra
logit fixed at 0 is appended for the slot "no event up to the last cut", and a softmax over all ``K * m + 1``
slots gives the joint PMF::

    pmf[i, k, j] = P(T_i at cut j, cause k),        sum_{k, j} pmf[i, k, j] + pmf_past_grid[i] = 1
    CIF_k(t_j) = sum_{l <= j} pmf[i, k, l],          S(t_j) = 1 - sum_k CIF_k(t_j)

``events`` holds the cause: 0 = censored, ``k`` in ``1..K`` = event of cause ``k`` (single risk: 0/1).

* NLL: event of cause ``k`` at ``j``: ``-log pmf[i, k, j]``; censored at ``j``: ``-log S_i(t_j)``.
* Ranking (per cause ``k``): for pairs ``(i, j)`` with ``events_i = k`` and ``T_i < T_j`` (or equal times and
  ``j`` censored), penalise ``exp(-(CIF_k,i(T_i) - CIF_k,j(T_i)) / sigma)``; averaged over all ``n * n`` pairs
  per cause, then summed over causes (pycox convention).
* DeepHit loss ``= alpha * NLL + (1 - alpha) * ranking`` (pycox's weighting, not the paper's).

Example:
    >>> import torch
    >>> logits = torch.zeros(2, 3)
    >>> nll_pmf(logits, torch.tensor([0, 2]), torch.tensor([1.0, 0.0]))
    tensor(1.3863)
"""

from __future__ import annotations

import torch
from torch import Tensor

from oncoplan.errors import ModelError
from oncoplan.models.losses.discrete import check_targets, reduce_loss


def _as_cr(logits: Tensor, events: Tensor) -> tuple[Tensor, Tensor]:
    """View single-risk logits ``(n, m)`` as ``(n, 1, m)``; return logits and integer causes."""
    if logits.dim() == 2:
        logits = logits.unsqueeze(1)
    if logits.dim() != 3:
        raise ModelError(f"DeepHit logits must be (n, m) or (n, risks, m), got shape {tuple(logits.shape)}")
    causes = events.round().long() if events.is_floating_point() else events.long()
    n_risks = logits.shape[1]
    if causes.numel() and (int(causes.min()) < 0 or int(causes.max()) > n_risks):
        raise ModelError(
            f"'events' must be 0 (censored) or a cause in 1..{n_risks}, got values "
            f"{sorted(set(causes.tolist()))[:10]}",
            hint="the head needs one block of outputs per competing risk",
        )
    return logits, causes


def pmf_from_logits(logits: Tensor) -> Tensor:
    """Joint PMF ``(n, K, m)`` (or ``(n, m)``) from DeepHit logits; the past-grid mass is ``1 - pmf.sum()``.

    Example:
        >>> pmf_from_logits(torch.zeros(1, 3))
        tensor([[0.2500, 0.2500, 0.2500]])
    """
    single = logits.dim() == 2
    cr = logits.unsqueeze(1) if single else logits
    n = cr.shape[0]
    flat = torch.cat([cr.reshape(n, -1), torch.zeros_like(cr[:, 0, :1])], dim=1)
    pmf = flat.softmax(1)[:, :-1].reshape(cr.shape)
    return pmf.squeeze(1) if single else pmf


def nll_pmf(logits: Tensor, idx_durations: Tensor, events: Tensor, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the (competing-risks) PMF model.

    Args:
        logits: ``(n, m)`` single risk or ``(n, K, m)`` competing risks, ``m = len(grid.cuts)``.
        idx_durations: ``(n,)`` int64 indices from ``TimeGrid.transform``.
        events: ``(n,)`` 0 = censored, ``k`` = event of cause ``k`` (float or int).
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Example:
        >>> nll_pmf(torch.zeros(1, 1), torch.tensor([0]), torch.tensor([1.0]))
        tensor(0.6931)
    """
    check_targets(logits, idx_durations, events)
    cr, causes = _as_cr(logits, events)
    n, n_risks, m = cr.shape
    idx = idx_durations.long()
    flat = torch.cat([cr.reshape(n, -1), torch.zeros_like(cr[:, 0, :1])], dim=1)
    log_norm = torch.logsumexp(flat, dim=1)
    rows = torch.arange(n)
    cause0 = (causes - 1).clamp(min=0)
    log_event = cr[rows, cause0, idx]
    # survival past cut idx: all slots at later cuts (any cause) plus the past-grid slot
    later = torch.arange(m).view(1, 1, m) > idx.view(n, 1, 1)
    later_flat = torch.cat(
        [later.expand(n, n_risks, m).reshape(n, -1), torch.ones(n, 1, dtype=torch.bool)], 1
    )
    log_surv = torch.logsumexp(flat.masked_fill(~later_flat, float("-inf")), dim=1)
    is_event = causes > 0
    loss = log_norm - torch.where(is_event, log_event, log_surv)
    return reduce_loss(loss, reduction)


def pair_rank_mat(idx_durations: Tensor, events: Tensor) -> Tensor:
    """Comparable pairs ``R[i, j] = 1{i has an event and (T_i < T_j or (T_i = T_j and j censored))}``.

    Example:
        >>> pair_rank_mat(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]))
        tensor([[0., 1., 1.],
                [0., 0., 1.],
                [0., 0., 0.]])
    """
    idx = idx_durations.long().view(-1)
    ev = events.view(-1) != 0
    earlier = idx.view(-1, 1) < idx.view(1, -1)
    tie_censored = (idx.view(-1, 1) == idx.view(1, -1)) & ~ev.view(1, -1)
    return (ev.view(-1, 1) & (earlier | tie_censored)).to(torch.get_default_dtype())


def rank_loss_deephit(
    logits: Tensor, idx_durations: Tensor, events: Tensor, sigma: float = 0.1, reduction: str = "mean"
) -> Tensor:
    """DeepHit ranking loss (single or competing risks; see the module docstring).

    Args:
        logits: ``(n, m)`` or ``(n, K, m)``.
        idx_durations: ``(n,)`` int64 indices from ``TimeGrid.transform``.
        events: ``(n,)`` 0 = censored, ``k`` = cause.
        sigma: scale of the exponential penalty (> 0).
        reduction: ``'mean'`` (sum over causes of the mean over rows) | ``'sum'`` | ``'none'`` (per row).

    Example:
        >>> rank_loss_deephit(torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([1.0, 1.0]))
        tensor(0.2500)
    """
    if sigma <= 0:
        raise ModelError(f"'sigma' must be > 0, got {sigma}")
    check_targets(logits, idx_durations, events)
    cr, causes = _as_cr(logits, events)
    n, n_risks, _ = cr.shape
    idx = idx_durations.long()
    cif = pmf_from_logits(cr).cumsum(2)  # (n, K, m)
    at_ti = cif[:, :, idx]  # at_ti[a, k, b] = CIF_k of patient a at the time of patient b
    own = at_ti[torch.arange(n), :, torch.arange(n)]  # (n, K): CIF_k of i at T_i
    diff = own.t().unsqueeze(2) - at_ti.permute(1, 2, 0)  # diff[k, i, j] = F_ki(T_i) - F_kj(T_i)
    rank_mat = pair_rank_mat(idx, causes).to(cr.dtype)
    per_cause = torch.stack([(causes == k + 1).to(cr.dtype) for k in range(n_risks)])  # (K, n)
    pair_term = rank_mat.unsqueeze(0) * torch.exp(-diff / sigma)  # (K, n, n)
    per_row = pair_term.mean(2) * per_cause  # (K, n)
    if reduction == "mean":
        return per_row.mean(1).sum()
    return reduce_loss(per_row.sum(0), reduction)


def deephit_loss(
    logits: Tensor,
    idx_durations: Tensor,
    events: Tensor,
    alpha: float = 0.2,
    sigma: float = 0.1,
    reduction: str = "mean",
) -> Tensor:
    """DeepHit loss ``alpha * nll_pmf + (1 - alpha) * rank_loss_deephit``.

    As pycox ``DeepHitSingleLoss`` / ``DeepHitLoss``. Defaults ``alpha=0.2, sigma=0.1`` are pycox's.

    Example:
        >>> deephit_loss(torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([1.0, 0.0]))
        tensor(0.4197)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ModelError(f"'alpha' must be in [0, 1], got {alpha}")
    nll = nll_pmf(logits, idx_durations, events, reduction)
    rank = rank_loss_deephit(logits, idx_durations, events, sigma, reduction)
    return alpha * nll + (1.0 - alpha) * rank
