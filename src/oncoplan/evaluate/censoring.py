"""Kaplan-Meier with weights, the censoring distribution and IPCW / AIPCW RMST pseudo-outcomes.

Building blocks of :mod:`oncoplan.evaluate.policy`, hand-written (no library offers weighted KM RMST
pseudo-outcomes for policy evaluation).

Example:
    >>> import numpy as np
    >>> round(km_rmst(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), tau=3.0), 4)
    2.3333
"""

from __future__ import annotations

import logging

import numpy as np

from oncoplan.errors import CohortError, ConfigError, describe_rows
from oncoplan.recommend.rmst import rmst_from_curves

logger = logging.getLogger(__name__)


def _check_survival_data(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.ndim != 1 or e.shape != t.shape:
        raise CohortError(f"time and event must be 1-d of equal length, got {t.shape} and {e.shape}")
    bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if len(bad):
        raise CohortError(f"time must be finite and >= 0; invalid in {describe_rows(bad)}")
    return t, e.astype(bool)


def _km_parts(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=weights * event, minlength=len(ut))
    c = np.bincount(inv, weights=weights * ~event, minlength=len(ut))
    total = np.bincount(inv, weights=weights, minlength=len(ut))
    at_risk = total[::-1].cumsum()[::-1]
    return ut, d, c, at_risk


def weighted_kaplan_meier(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival with case weights, on the timeline ``0`` + unique observed times.

    ``S(t) = prod_{u <= t} (1 - d_w(u) / n_w(u))`` with weighted event counts ``d_w`` and weighted risk sets
    ``n_w``; the same estimator as ``lifelines.KaplanMeierFitter().fit(..., weights=weights)``, vectorised.

    Example:
        >>> weighted_kaplan_meier(np.array([1.0, 2.0]), np.array([1, 1]))[1].tolist()
        [1.0, 0.5, 0.0]
    """
    t, e = _check_survival_data(time, event)
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != t.shape or np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ConfigError("weights must be finite, > 0 and one per patient")
    ut, d, _, at_risk = _km_parts(t, e, w)
    surv = np.cumprod(1.0 - d / at_risk)
    if ut[0] > 0:
        return np.concatenate([[0.0], ut]), np.concatenate([[1.0], surv])
    return ut, surv


def km_rmst(time: np.ndarray, event: np.ndarray, tau: float, weights: np.ndarray | None = None) -> float:
    """RMST(tau) of the (weighted) Kaplan-Meier curve; beyond the last time the curve is held flat.

    Example:
        >>> km_rmst(np.array([1.0, 2.0]), np.array([1, 1]), tau=3.0)
        1.5
    """
    grid, surv = weighted_kaplan_meier(time, event, weights)
    return float(rmst_from_curves(surv[None, :], grid, tau, extrapolate=True)[0])


def censoring_survival_before(
    time: np.ndarray, event: np.ndarray, query: np.ndarray, strata: np.ndarray | None = None
) -> np.ndarray:
    """``G(q-) = P(C >= q)`` from the Kaplan-Meier of the censoring times (events precede ties).

    At a time with ``d`` events, ``c`` censorings and ``n`` at risk the censoring hazard is ``c / (n - d)``.
    With ``strata`` the censoring curve is estimated within each stratum and ``query[i]`` is read off the
    curve of stratum ``strata[i]``.

    Example:
        >>> t, e = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
        >>> censoring_survival_before(t, e, np.array([3.0])).tolist()
        [0.5]
    """
    t, e = _check_survival_data(time, event)
    q = np.asarray(query, dtype=float)

    def g_before(mask: np.ndarray, q_sub: np.ndarray) -> np.ndarray:
        ut, d, c, at_risk = _km_parts(t[mask], e[mask], np.ones(int(mask.sum())))
        denom = at_risk - d
        hazard = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
        g_after = np.cumprod(1.0 - hazard)
        idx = np.searchsorted(ut, q_sub, side="left") - 1
        return np.where(idx >= 0, g_after[np.maximum(idx, 0)], 1.0)

    if strata is None:
        return g_before(np.ones(len(t), dtype=bool), q)
    groups = np.asarray(strata)
    if groups.shape != t.shape or q.shape != t.shape:
        raise ConfigError("with strata, query and strata must have one entry per patient")
    out = np.ones(len(q))
    for g in np.unique(groups):
        mask = groups == g
        out[mask] = g_before(mask, q[mask])
    return out


def ipcw_rmst_pseudo_outcome(
    time: np.ndarray, event: np.ndarray, tau: float, strata: np.ndarray | None = None
) -> np.ndarray:
    """IPCW pseudo-outcome ``Delta * min(T, tau) / G(min(T, tau)-)`` whose mean estimates E[min(T, tau)].

    Example:
        >>> ipcw_rmst_pseudo_outcome(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), tau=5.0).tolist()
        [1.0, 0.0, 6.0]
    """
    t, e = _check_survival_data(time, event)
    y = np.minimum(t, float(tau))
    observed = e | (t >= tau)
    g = censoring_survival_before(t, e, y, strata)
    return np.where(observed, y / np.where(observed, g, 1.0), 0.0)


def _step_integral_at(values: np.ndarray, knots: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S(u) and int_0^u S for step curves ``values`` (rows) on ``knots`` (starting at 0) at points ``u``."""
    cum = np.concatenate(
        [np.zeros((len(values), 1)), np.cumsum(values[:, :-1] * np.diff(knots), axis=1)], axis=1
    )
    m = np.searchsorted(knots, u, side="right") - 1
    return values[:, m], cum[:, m] + values[:, m] * (u - knots[m])


def aipcw_rmst_pseudo_outcome(
    time: np.ndarray,
    event: np.ndarray,
    tau: float,
    survival_received: np.ndarray,
    times: np.ndarray,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """Augmented IPCW pseudo-outcome for ``min(T, tau)`` (Tsiatis 2006, ch. 9; Bai et al. 2017).

    ``Y* = Delta Y / G(Y-) + (1 - Delta) Q(C) / G(C) - sum_{u < min(Y~, tau), at risk} Q(u) dL_C(u) / G(u)``
    with ``Q(u) = E[min(T, tau) | T > u, x, a] = u + int_u^tau S(s) ds / S(u)`` read off the patient's
    predicted survival curve for the arm received (``survival_received``, ``(n_patients, n_times)`` on
    ``times``) and ``G``/``Lambda_C`` the censoring Kaplan-Meier (within ``strata``). Unbiased when either the
    censoring or the survival model is right; with a right survival model censored patients get their
    conditional expectation instead of 0, which cuts the variance of the IPCW pseudo-outcome.

    Example:
        >>> t, e = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
        >>> s = np.array([[1.0, 0.5, 0.0, 0.0]] * 3)
        >>> aipcw_rmst_pseudo_outcome(t, e, 5.0, s, np.array([0.0, 1.0, 2.0, 5.0])).round(3).tolist()
        [1.0, 2.0, 4.0]
    """
    t, e = _check_survival_data(time, event)
    grid = np.asarray(times, dtype=float)
    curves = np.asarray(survival_received, dtype=float)
    if curves.shape != (len(t), len(grid)):
        raise ConfigError(f"survival_received must have shape ({len(t)}, {len(grid)}), got {curves.shape}")
    if grid[-1] < tau <= float(np.max(t)):  # a grid ending at its last event time: flat from there to tau
        grid, curves = np.append(grid, tau), np.hstack([curves, curves[:, -1:]])
    rmst_tau = rmst_from_curves(curves, grid, tau)
    if grid[0] > 0:
        knots, values = np.concatenate([[0.0], grid]), np.concatenate([np.ones((len(t), 1)), curves], axis=1)
    else:
        knots, values = grid, curves
    y = np.minimum(t, float(tau))
    observed = e | (t >= tau)
    pseudo = ipcw_rmst_pseudo_outcome(t, e, tau, strata)
    groups = np.zeros(len(t), dtype=int) if strata is None else np.asarray(strata)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        ut, d, c, at_risk = _km_parts(t[idx], e[idx], np.ones(len(idx)))
        denom = at_risk - d
        lam = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
        g_after = np.cumprod(1.0 - lam)
        jump = (c > 0) & (ut < tau)
        uc, lam_c, g_c = ut[jump], lam[jump], g_after[jump]
        if len(uc) == 0:
            continue
        for rows in np.array_split(idx, max(1, len(idx) * len(uc) // 2_000_000)):
            surv_u, int_u = _step_integral_at(values[rows], knots, uc)
            q = uc[None, :] + np.divide(
                rmst_tau[rows, None] - int_u, surv_u, out=np.zeros_like(int_u), where=surv_u > 0
            )
            cens = ~observed[rows]
            at_risk_c = np.where(cens[:, None], uc[None, :] <= y[rows, None], uc[None, :] < y[rows, None])
            comp = np.sum(np.where(at_risk_c, q * (lam_c / g_c)[None, :], 0.0), axis=1)
            pos = np.clip(np.searchsorted(uc, y[rows]), 0, len(uc) - 1)
            q_c = q[np.arange(len(rows)), pos]
            pseudo[rows] += np.where(cens, q_c / g_c[pos], 0.0) - comp
    return pseudo
