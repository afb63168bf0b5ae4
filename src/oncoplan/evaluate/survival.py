"""Survival metrics: concordance (Harrell, Uno, Antolini), time-dependent AUC and Brier scores.

Harrell's and Uno's C, the cumulative/dynamic AUC and the (integrated) Brier score wrap scikit-survival.
Antolini's time-dependent concordance (Antolini, Boracchi & Biganzoli 2005; ``EvalSurv.concordance_td
('antolini')`` in pycox) is not in scikit-survival and is written here by hand.

Survival predictions are accepted either as an array ``(n_patients, n_times)`` of S(t | x) on a grid
``times`` or as a sequence of scikit-survival ``StepFunction`` objects (``predict_survival_function``).

Example:
    >>> import numpy as np
    >>> event = np.array([1, 0, 1, 1, 0]); time = np.array([2.0, 3.0, 4.0, 5.0, 6.0])
    >>> round(harrell_c(event, time, risk_score=np.array([5.0, 4.0, 3.0, 1.0, 2.0])), 3)
    0.857
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sksurv import metrics as sk_metrics
from sksurv.util import Surv

from oncoplan.errors import CohortError, ConfigError, describe_rows

logger = logging.getLogger(__name__)

SurvivalInput = np.ndarray | Sequence[Any]


def check_event_time(event: Any, time: Any, what: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``(event as bool, time as float)`` arrays of one cohort.

    Example:
        >>> check_event_time([1, 0], [3.0, 4.0])
        (array([ True, False]), array([3., 4.]))
    """
    event_arr = np.asarray(event)
    time_arr = np.asarray(time, dtype=float)
    if event_arr.ndim != 1 or time_arr.ndim != 1 or len(event_arr) != len(time_arr):
        raise CohortError(
            f"{what} 'event' and 'time' must be 1-D and of equal length, "
            f"got shapes {event_arr.shape} and {time_arr.shape}"
        )
    if len(time_arr) == 0:
        raise CohortError(f"{what} cohort is empty", hint="pass at least one patient")
    bad_time = np.flatnonzero(~np.isfinite(time_arr) | (time_arr < 0))
    if len(bad_time):
        raise CohortError(
            f"{what} 'time' is missing, infinite or negative in {describe_rows(bad_time)}",
            hint="drop these patients or fix their follow-up time",
        )
    if event_arr.dtype != bool:
        ev = event_arr.astype(float)
        bad_event = np.flatnonzero(~np.isin(ev, (0.0, 1.0)))
        if len(bad_event):
            raise CohortError(
                f"{what} 'event' must be 0/1 or boolean; bad values in {describe_rows(bad_event)}",
                hint="code the event indicator as 1 = event observed, 0 = censored",
            )
        event_arr = ev.astype(bool)
    return event_arr, time_arr


def _check_scores(score: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(score, dtype=float)
    if arr.shape[0] != n:
        raise CohortError(f"'{name}' has {arr.shape[0]} rows but there are {n} patients")
    bad = np.flatnonzero(~np.isfinite(arr).reshape(n, -1).all(axis=1))
    if len(bad):
        raise CohortError(f"'{name}' is missing or infinite in {describe_rows(bad)}")
    return arr


def _is_step_functions(curves: Any) -> bool:
    return not isinstance(curves, np.ndarray) and len(curves) > 0 and hasattr(curves[0], "x")


def curves_to_array(curves: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Turn scikit-survival ``StepFunction`` curves into ``(survival array, curve_times)``.

    The grid is the union of the curves' knots, so nothing is lost.

    Example:
        >>> from sksurv.functions import StepFunction
        >>> f = StepFunction(np.array([1.0, 2.0]), np.array([0.9, 0.5]))
        >>> curves_to_array([f, f])[0].shape
        (2, 2)
    """
    grid = np.unique(np.concatenate([np.asarray(f.x, dtype=float) for f in curves]))
    rows = []
    for f in curves:
        values = f.a * np.asarray(f.y, dtype=float) + f.b
        rows.append(_step_eval(values[None, :], np.asarray(f.x, dtype=float), grid)[0])
    return np.vstack(rows), grid


def _step_eval(values: np.ndarray, curve_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(curve_times, times, side="right") - 1
    out = values[:, np.clip(idx, 0, None)]
    out[:, idx < 0] = 1.0
    return out


def survival_at(curves_or_array: SurvivalInput, curve_times: np.ndarray | None, times: Any) -> np.ndarray:
    """Evaluate survival curves at ``times`` as right-continuous step functions.

    S(t) is the value at the last grid time <= t; before the first grid time it is 1 (nobody has had the
    event yet); after the last grid time the last value is carried forward.

    Args:
        curves_or_array: ``(n_patients, len(curve_times))`` array, or a sequence of ``StepFunction``.
        curve_times: sorted grid of the array columns (ignored for step functions; pass ``None``).
        times: times at which to evaluate.

    Returns:
        ``(n_patients, len(times))`` array.

    Example:
        >>> s = np.array([[0.9, 0.7, 0.4]])
        >>> survival_at(s, np.array([1.0, 2.0, 3.0]), [0.5, 1.0, 2.5, 9.0])
        array([[1. , 0.9, 0.7, 0.4]])
    """
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if _is_step_functions(curves_or_array):
        values, grid = curves_to_array(curves_or_array)
    else:
        if curve_times is None:
            raise ConfigError("curve_times is required when survival is given as an array")
        values = np.atleast_2d(np.asarray(curves_or_array, dtype=float))
        grid = np.asarray(curve_times, dtype=float)
        if values.shape[1] != len(grid):
            raise ConfigError(
                f"survival array has {values.shape[1]} columns but curve_times has {len(grid)} entries",
                hint="pass the time grid the survival curves were predicted on",
            )
        if np.any(np.diff(grid) <= 0):
            raise ConfigError("curve_times must be strictly increasing")
    return _step_eval(values, grid, t)


def _survival_matrix(survival_prob: SurvivalInput, times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(array, grid)`` for either input form."""
    if _is_step_functions(survival_prob):
        return curves_to_array(survival_prob)  # the curves' own knots; ``times`` is not needed
    if times is None:
        raise ConfigError("times (the grid of the survival_prob columns) is required for an array")
    grid = np.asarray(times, dtype=float)
    arr = np.atleast_2d(np.asarray(survival_prob, dtype=float))
    if arr.shape[1] != len(grid):
        raise ConfigError(f"survival_prob has {arr.shape[1]} columns but times has {len(grid)} entries")
    return arr, grid


def harrell_c(event: Any, time: Any, risk_score: Any) -> float:
    """Harrell's concordance index; wraps ``sksurv.metrics.concordance_index_censored``.

    Ties in risk count 1/2.

    Higher ``risk_score`` means earlier expected event.

    Example:
        >>> harrell_c([1, 1, 0], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
        1.0
    """
    ev, t = check_event_time(event, time)
    risk = _check_scores(risk_score, len(t), "risk_score")
    if not ev.any():
        raise CohortError("Harrell's C needs at least one event in the test cohort")
    return float(sk_metrics.concordance_index_censored(ev, t, risk)[0])


def uno_c(
    train_event: Any, train_time: Any, event: Any, time: Any, risk_score: Any, tau: float | None = None
) -> float:
    """Uno's IPCW concordance index truncated at ``tau``; wraps ``sksurv.metrics.concordance_index_ipcw``.

    The censoring distribution is estimated by Kaplan-Meier on the training cohort.

    Example:
        >>> e = np.array([1, 0, 1, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> round(uno_c(e, t, e, t, -t, tau=5.5), 3)
        1.0
    """
    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    risk = _check_scores(risk_score, len(t), "risk_score")
    return float(
        sk_metrics.concordance_index_ipcw(Surv.from_arrays(tr_ev, tr_t), Surv.from_arrays(ev, t), risk, tau)[
            0
        ]
    )


def antolini_c(event: Any, time: Any, survival_prob: SurvivalInput, times: Any = None) -> float:
    """Antolini's time-dependent concordance index (written by hand; scikit-survival lacks it).

    A pair (i, j) is comparable when patient i has the event first (``T_i < T_j``), or at the same time
    while j is censored; it is concordant when ``S_i(T_i) < S_j(T_i)``, both curves read at ``T_i``
    (strict inequality, as pycox ``EvalSurv.concordance_td('antolini')``). Curves are read with
    :func:`survival_at`. Cost O(n * n_events), done in blocks.

    Args:
        event, time: test cohort.
        survival_prob: ``(n, len(times))`` array of S(t | x) or ``StepFunction`` curves.
        times: grid of the array columns.

    Example:
        >>> s = np.array([[0.5, 0.1], [0.9, 0.6], [0.95, 0.8]])
        >>> antolini_c([1, 1, 0], [1.0, 2.0, 3.0], s, [1.0, 2.0])
        1.0
    """
    ev, t = check_event_time(event, time)
    surv, grid = _survival_matrix(survival_prob, times)
    _check_scores(surv, len(t), "survival_prob")
    cases = np.flatnonzero(ev)
    if len(cases) == 0:
        raise CohortError("Antolini's C needs at least one event in the test cohort")
    idx = np.searchsorted(grid, t[cases], side="right") - 1
    padded = np.hstack([np.ones((len(t), 1)), surv])  # column 0 = before the first grid time
    concordant = 0.0
    comparable = 0.0
    block = max(1, 2_000_000 // max(len(t), 1))
    for start in range(0, len(cases), block):
        rows = cases[start : start + block]
        s_at = padded[:, idx[start : start + block] + 1]  # (n, b): S_j(T_i) for every j
        s_self = s_at[rows, np.arange(len(rows))]
        t_i = t[rows]
        comp = (t[:, None] > t_i[None, :]) | ((t[:, None] == t_i[None, :]) & ~ev[:, None])
        concordant += float(np.sum(comp & (s_at > s_self[None, :])))
        comparable += float(np.sum(comp))
    if comparable == 0:
        raise CohortError("no comparable pairs for Antolini's C (every patient has the same time?)")
    return concordant / comparable


def evaluation_times(
    train_time: Any,
    test_time: Any,
    event: Any,
    n: int = 20,
    lower_quantile: float = 0.1,
    upper_quantile: float = 0.9,
) -> np.ndarray:
    """A safe time grid for time-dependent AUC / Brier: quantiles of the test event times.

    The grid runs from the ``lower_quantile`` to the ``upper_quantile`` of the observed test event times and
    is clipped to lie inside the follow-up of both cohorts (``[min test time, min(max test, max train))``),
    so scikit-survival never rejects it.

    Example:
        >>> t = np.arange(1.0, 101.0); e = np.ones(100, dtype=int)
        >>> evaluation_times(t, t, e, n=3)
        array([10.9, 50.5, 90.1])
    """
    tr = np.asarray(train_time, dtype=float)
    ev, t = check_event_time(event, test_time)
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if not 0 <= lower_quantile < upper_quantile <= 1:
        raise ConfigError("need 0 <= lower_quantile < upper_quantile <= 1")
    event_times = t[ev] if ev.any() else t
    grid = np.quantile(event_times, np.linspace(lower_quantile, upper_quantile, n))
    hi = min(t.max(), tr.max())
    lo = t.min()
    grid = grid[(grid >= lo) & (grid < hi)]
    if len(grid) == 0:
        raise CohortError(
            "no evaluation time lies inside the follow-up of the test cohort",
            hint="the test cohort needs events before the end of its follow-up",
        )
    return np.unique(grid)


def cumulative_auc(
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    risk_score: Any,
    times: Any,
) -> tuple[np.ndarray, float]:
    """Cumulative/dynamic time-dependent AUC; wraps ``sksurv.metrics.cumulative_dynamic_auc``.

    ``risk_score`` is ``(n,)`` (one score for all times) or ``(n, len(times))`` (e.g. 1 - S(t)).
    Returns ``(auc at each time, mean AUC weighted by the KM estimate)``.

    Example:
        >>> e = np.array([1, 1, 0, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> aucs, mean = cumulative_auc(e, t, e, t, -t, [2.5, 4.5])
        >>> float(mean)
        1.0
    """
    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    risk = _check_scores(risk_score, len(t), "risk_score")
    aucs, mean_auc = sk_metrics.cumulative_dynamic_auc(
        Surv.from_arrays(tr_ev, tr_t), Surv.from_arrays(ev, t), risk, _checked_times(times)
    )
    return np.asarray(aucs, dtype=float), float(mean_auc)


def _surv_on(survival_prob: SurvivalInput, curve_times: Any, times: np.ndarray) -> np.ndarray:
    if _is_step_functions(survival_prob):
        return survival_at(survival_prob, None, times)
    arr = np.atleast_2d(np.asarray(survival_prob, dtype=float))
    if curve_times is None:
        if arr.shape[1] != len(times):
            raise ConfigError(
                f"survival_prob has {arr.shape[1]} columns but times has {len(times)} entries",
                hint="pass curve_times= to read the curves at times",
            )
        return arr
    return survival_at(arr, np.asarray(curve_times, dtype=float), times)


def brier_score(
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    survival_prob: SurvivalInput,
    times: Any,
    curve_times: Any = None,
) -> np.ndarray:
    """IPCW Brier score at each of ``times``; wraps ``sksurv.metrics.brier_score``.

    ``survival_prob`` is ``(n, len(times))`` (S at ``times``), or curves on ``curve_times`` / StepFunctions,
    which are read at ``times`` with :func:`survival_at`. ``times`` must be sorted and unique.

    Example:
        >>> e = np.array([1, 1, 0, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> brier_score(e, t, e, t, np.full((6, 1), 0.5), [3.0]).round(3)
        array([0.25])
    """
    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    grid = _checked_times(times)
    est = _check_scores(_surv_on(survival_prob, curve_times, grid), len(t), "survival_prob")
    _, scores = sk_metrics.brier_score(Surv.from_arrays(tr_ev, tr_t), Surv.from_arrays(ev, t), est, grid)
    return np.asarray(scores, dtype=float)


def integrated_brier_score(
    train_event: Any,
    train_time: Any,
    event: Any,
    time: Any,
    survival_prob: SurvivalInput,
    times: Any,
    curve_times: Any = None,
) -> float:
    """Integrated Brier score over ``times`` (trapezoid rule).

    Wraps ``sksurv.metrics.integrated_brier_score``.

    Example:
        >>> e = np.array([1, 1, 0, 1, 0, 1]); t = np.array([1.0, 2, 3, 4, 5, 6])
        >>> round(integrated_brier_score(e, t, e, t, np.full((6, 2), 0.5), [2.0, 4.0]), 3)
        0.25
    """
    tr_ev, tr_t = check_event_time(train_event, train_time, "train")
    ev, t = check_event_time(event, time)
    grid = _checked_times(times)
    if len(grid) < 2:
        raise ConfigError("the integrated Brier score needs at least two evaluation times")
    est = _check_scores(_surv_on(survival_prob, curve_times, grid), len(t), "survival_prob")
    return float(
        sk_metrics.integrated_brier_score(Surv.from_arrays(tr_ev, tr_t), Surv.from_arrays(ev, t), est, grid)
    )


def _checked_times(times: Any) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(times, dtype=float))
    if np.any(np.diff(grid) <= 0):
        raise ConfigError("evaluation times must be sorted and unique", hint="use np.unique(times)")
    return grid
