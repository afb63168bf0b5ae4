"""Survival metrics over bootstrap resamples: vectorised concordances / IBS and :func:`survival_report`.

The plain metrics live in :mod:`oncoplan.evaluate.survival`; here each pairwise statistic is also written
in a form that scores all bootstrap resamples at once (by hand: nobody offers it), and
:func:`survival_report` puts every survival metric with its bootstrap CI into one call.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); x = rng.normal(size=200)
    >>> t = rng.exponential(1 / np.exp(x)); e = np.ones(200, dtype=int)
    >>> round(survival_report(e, t, e, t, risk_score=x, n_boot=20)["harrell_c"].value, 3) > 0.6
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from oncoplan.errors import ConfigError
from oncoplan.evaluate.bootstrap import BootstrapResult, WeightedMetric, bootstrap_many
from oncoplan.evaluate.survival import (
    SurvivalInput,
    _check_scores,
    _checked_times,
    _is_step_functions,
    _survival_matrix,
    antolini_c,
    check_event_time,
    cumulative_auc,
    curves_to_array,
    evaluation_times,
    harrell_c,
    integrated_brier_score,
    survival_at,
    uno_c,
)

# ------------------------------------------------------------------------------------------------------
# Vectorised forms over bootstrap draw counts (see oncoplan.evaluate.bootstrap.WeightedMetric). Written by
# hand: a resample equals weighting each patient by its draw count, so every pairwise statistic becomes
# ``sum_ij c_i c_j K_ij`` for a fixed pair matrix K, i.e. two matrix products for all resamples at once.
_BLOCK_ELEMENTS = 2_000_000


def _comparable_blocks(ev: np.ndarray, t: np.ndarray, cases: np.ndarray):
    """Yield ``(rows, comparable)`` blocks: for case rows i (events), ``comparable[k, j]`` is True when
    ``T_j > T_i`` or ``T_j == T_i`` with j censored (scikit-survival's comparable pairs)."""
    block = max(1, _BLOCK_ELEMENTS // max(len(t), 1))
    for start in range(0, len(cases), block):
        rows = cases[start : start + block]
        t_i = t[rows][:, None]
        yield rows, (t[None, :] > t_i) | ((t[None, :] == t_i) & ~ev[None, :])


def _pair_ratio(counts: np.ndarray, blocks, row_weight: np.ndarray) -> np.ndarray:
    """``sum_ij w_i c_i c_j score_ij / sum_ij w_i c_i c_j comparable_ij`` per row of ``counts``."""
    num = np.zeros(len(counts))
    den = np.zeros(len(counts))
    for rows, score, comparable in blocks:
        left = counts[:, rows] * row_weight[rows]
        num += np.einsum("bn,bn->b", left @ score, counts)
        den += np.einsum("bn,bn->b", left @ comparable, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _check_counts(counts: Any, n: int) -> np.ndarray:
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    if c.shape[1] != n or np.any(c < 0):
        raise ConfigError(f"counts must be a (n_resamples, {n}) matrix of non-negative draw counts")
    return c


def harrell_c_resampled(
    counts: Any, event: Any, time: Any, risk_score: Any, row_weight: Any = None, tied_tol: float = 1e-8
) -> np.ndarray:
    """Harrell's C on many bootstrap resamples at once, given as draw counts ``(n_resamples, n)``.

    Equals :func:`harrell_c` on ``rows = np.repeat(np.arange(n), counts[b])`` for every b (risk ties within
    ``tied_tol`` count 1/2, as scikit-survival). ``row_weight`` weights each case (scikit-survival's
    ``_estimate_concordance_index`` weights; Uno's C uses squared IPC weights). NaN: no comparable pair.

    Example:
        >>> e, t, r = np.array([1, 1, 0]), np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
        >>> harrell_c_resampled(np.array([[1, 1, 1], [2, 0, 1]]), e, t, r)
        array([1., 1.])
    """
    ev, t = check_event_time(event, time)
    risk = _check_scores(risk_score, len(t), "risk_score")
    c = _check_counts(counts, len(t))
    w = np.ones(len(t)) if row_weight is None else np.asarray(row_weight, dtype=float)
    cases = np.flatnonzero(ev & (w > 0))

    def blocks():
        for rows, comparable in _comparable_blocks(ev, t, cases):
            diff = risk[None, :] - risk[rows][:, None]
            tie = np.abs(diff) <= tied_tol
            score = np.where(tie, 0.5, (diff < 0).astype(float)) * comparable
            yield rows, score, comparable.astype(float)

    return _pair_ratio(c, blocks(), w)


def uno_c_resampled(
    counts: Any,
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    risk_score: Any,
    tau: float | None = None,
) -> np.ndarray:
    """Uno's C (:func:`uno_c`) on many bootstrap resamples at once (draw counts ``(n_resamples, n)``).

    The IPC weights depend only on each patient's own time and the training cohort, so they are computed
    once (scikit-survival's ``CensoringDistributionEstimator.predict_ipcw``, squared, 0 from ``tau`` on).

    Example:
        >>> e = np.array([1, 0, 1, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> uno_c_resampled(np.ones((1, 6)), e, t, e, t, -t, tau=5.5)
        array([1.])
    """

    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    keep = np.ones(len(t), dtype=bool) if tau is None else t < tau
    cens = CensoringDistributionEstimator().fit(Surv.from_arrays(tr_ev, tr_t))
    ipcw = np.zeros(len(t))
    ipcw[keep] = cens.predict_ipcw(Surv.from_arrays(ev[keep], t[keep]))
    return harrell_c_resampled(counts, ev, t, risk_score, row_weight=np.square(ipcw))


def antolini_c_resampled(
    counts: Any, event: Any, time: Any, survival_prob: SurvivalInput, times: Any = None
) -> np.ndarray:
    """Antolini's C (:func:`antolini_c`) on many bootstrap resamples at once (draw counts).

    Example:
        >>> s = np.array([[0.5, 0.1], [0.9, 0.6], [0.95, 0.8]])
        >>> antolini_c_resampled(np.array([[1, 1, 1]]), [1, 1, 0], [1.0, 2.0, 3.0], s, [1.0, 2.0])
        array([1.])
    """
    ev, t = check_event_time(event, time)
    surv, grid = _survival_matrix(survival_prob, times)
    c = _check_counts(counts, len(t))
    cases = np.flatnonzero(ev)
    padded = np.hstack([np.ones((len(t), 1)), surv])
    col = np.searchsorted(grid, t, side="right")  # padded column of S(T_i)

    def blocks():
        for rows, comparable in _comparable_blocks(ev, t, cases):
            s_at = padded[:, col[rows]].T  # (rows, n): S_j(T_i)
            s_self = s_at[np.arange(len(rows)), rows]
            score = (comparable & (s_at > s_self[:, None])).astype(float)
            yield rows, score, comparable.astype(float)

    return _pair_ratio(c, blocks(), np.ones(len(t)))


def integrated_brier_score_resampled(
    counts: Any,
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    survival_at_times: Any,
    times: Any,
) -> np.ndarray:
    """Integrated Brier score (:func:`integrated_brier_score`) on many resamples at once (draw counts).

    ``survival_at_times`` is ``(n, len(times))``. A resample whose follow-up does not cover ``times`` gets
    NaN (scikit-survival would refuse it).

    Example:
        >>> e = np.array([1, 1, 0, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> integrated_brier_score_resampled(np.ones((1, 6)), e, t, e, t, np.full((6, 2), 0.5), [2.0, 4.0])
        array([0.25])
    """

    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    grid = _checked_times(times)
    est = _check_scores(survival_at_times, len(t), "survival_at_times")
    c = _check_counts(counts, len(t))
    cens = CensoringDistributionEstimator().fit(Surv.from_arrays(tr_ev, tr_t))
    g_t = cens.predict_proba(grid)
    g_t[g_t == 0] = np.inf
    g_y = cens.predict_proba(t)
    g_y[g_y == 0] = np.inf
    case = (t[:, None] <= grid[None, :]) & ev[:, None]
    control = t[:, None] > grid[None, :]
    contrib = np.square(est) * case / g_y[:, None] + np.square(1.0 - est) * control / g_t[None, :]
    scores = (c @ contrib) / c.sum(axis=1, keepdims=True)
    ibs = np.trapezoid(scores, grid, axis=1) / (grid[-1] - grid[0])
    drawn = c > 0
    t_max = np.where(drawn, t[None, :], -np.inf).max(axis=1)
    t_min = np.where(drawn, t[None, :], np.inf).min(axis=1)
    ok = (grid.max() < t_max) & (grid.min() >= t_min) & (drawn & ev[None, :]).any(axis=1)
    return np.where(ok, ibs, np.nan)


#: Harrell's C with its vectorised bootstrap form, for paired comparisons and subgroup tables.
HARRELL_C = WeightedMetric(harrell_c, harrell_c_resampled)


def survival_report(
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    *,
    risk_score: Any = None,
    survival_prob: SurvivalInput | None = None,
    curve_times: Any = None,
    times: Any = None,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, BootstrapResult]:
    """All survival metrics on a test cohort, each with a bootstrap CI.

    Test rows are resampled (stratified by event); the training cohort only feeds the censoring
    distribution and stays fixed. Computes Harrell's C and Uno's C (from ``risk_score``; if absent, from
    ``-S`` at the middle evaluation time; Uno's C is truncated at the last evaluation time), and, when curves
    are given, Antolini's C, the integrated Brier score and the mean cumulative AUC (risk ``1 - S(t)``) on
    ``times`` (default :func:`evaluation_times`).

    Example:
        >>> rng = np.random.default_rng(0); x = rng.normal(size=300)
        >>> t = rng.exponential(1 / np.exp(x)); e = np.ones(300, dtype=int)
        >>> rep = survival_report(e, t, e, t, risk_score=x, n_boot=20)
        >>> rep["harrell_c"].value > 0.6
        True
    """
    ev, t = check_event_time(event, time)
    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    if risk_score is None and survival_prob is None:
        raise ConfigError("survival_report needs risk_score, survival_prob, or both")
    grid = _checked_times(times) if times is not None else evaluation_times(tr_t, t, ev)
    metrics: dict[str, Any] = {}
    surv = at_grid = curve_grid = None
    if survival_prob is not None:
        if _is_step_functions(survival_prob):
            surv, curve_grid = curves_to_array(survival_prob)
        else:
            surv = np.asarray(survival_prob, dtype=float)
            curve_grid = np.asarray(curve_times if curve_times is not None else grid, dtype=float)
        at_grid = survival_at(surv, curve_grid, grid)
    risk = (
        _check_scores(risk_score, len(t), "risk_score")
        if risk_score is not None
        else -at_grid[:, len(grid) // 2]
    )
    # resampled arrays: event, time, risk, row index (the full curves are read through the row index, so
    # they are never copied per resample), and S on the evaluation grid
    arrays: list[np.ndarray] = [ev.astype(float), t, risk, np.arange(len(t))]
    tau = float(grid.max())
    metrics["harrell_c"] = WeightedMetric(
        lambda e, tt, r, *_: harrell_c(e, tt, r),
        lambda c, e, tt, r, *_: harrell_c_resampled(c, e, tt, r),
    )
    metrics["uno_c"] = WeightedMetric(
        lambda e, tt, r, *_: uno_c(tr_ev, tr_t, e, tt, r, tau=tau),
        lambda c, e, tt, r, *_: uno_c_resampled(c, tr_ev, tr_t, e, tt, r, tau=tau),
    )
    if surv is not None:
        arrays.append(at_grid)
        metrics["antolini_c"] = WeightedMetric(
            lambda e, tt, r, rows, sg: antolini_c(e, tt, surv[rows], curve_grid),
            lambda c, e, tt, r, rows, sg: antolini_c_resampled(c, e, tt, surv[rows], curve_grid),
        )
        metrics["integrated_brier_score"] = WeightedMetric(
            lambda e, tt, r, rows, sg: integrated_brier_score(tr_ev, tr_t, e, tt, sg, grid),
            lambda c, e, tt, r, rows, sg: integrated_brier_score_resampled(c, tr_ev, tr_t, e, tt, sg, grid),
        )
        metrics["mean_cumulative_auc"] = lambda e, tt, r, rows, sg: cumulative_auc(
            tr_ev, tr_t, e, tt, 1.0 - sg, grid
        )[1]
    return bootstrap_many(metrics, *arrays, n_boot=n_boot, level=level, stratify=ev, seed=seed)
