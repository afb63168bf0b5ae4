"""Anchoring each arm's predicted curves to that arm's (weighted) Kaplan-Meier curve.

A deep effect model fitted on a small trial can get the *average* effect of an arm wrong (in session-3
benchmarks the network's mean predicted RMST ranked the arms differently from their Kaplan-Meier curves on
e1684, prostate and d.oropha.rec), and then every recommendation inherits the error. Anchoring keeps the
network's patient-level shape and replaces its arm-level average with the non-parametric estimate, as a Cox
model re-estimates its baseline hazard:

``S'_ik(t) = S_ik(t) ** c_k(t)``, with ``c_k(t) > 0`` solved so that the mean of ``S'_ik(t)`` over the
training patients (all arms: the population the model is fitted on) equals the Kaplan-Meier curve of the
arm-k patients, weighted by their inverse propensity when the arm is predictable from the covariates (an
inverse-probability-weighted Kaplan-Meier estimates the whole population's curve under arm k). The power
acts on the cumulative hazard (``S ** c = exp(-c H)``), so the order of patients at each time is kept.

Written by hand: the power transform is a per-time calibration-in-the-large; the Kaplan-Meier curves are
the project's weighted estimator (:mod:`oncoplan.evaluate.censoring`, tested against lifelines).

Example:
    >>> import numpy as np
    >>> curves = np.array([[0.9, 0.8], [0.7, 0.5]])  # 2 patients x 2 times, one arm
    >>> powers = anchor_powers(curves, np.array([0.8, 0.6]))
    >>> bool(np.allclose((curves ** powers).mean(axis=0), [0.8, 0.6]))
    True
"""

from __future__ import annotations

import numpy as np

from oncoplan.evaluate.censoring import weighted_kaplan_meier

#: bounds of the anchoring power (a factor of 1000 on the cumulative hazard either way)
POWER_BOUNDS = (1e-3, 1e3)


def anchor_powers(curves: np.ndarray, target: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Per-time power ``c(t)`` with ``mean_i curves[i, t] ** c(t) == target[t]`` (bisection on ``log c``).

    ``curves``: ``(n, n_times)`` survival probabilities of one arm; ``target``: ``(n_times,)``. The power
    is clipped to :data:`POWER_BOUNDS` (a target of 1, before the arm's first event, gets the lower bound:
    a grid head's curve can start just below 1); it is 1 where the curves are all 1.
    """
    s = np.clip(np.asarray(curves, dtype=float), 1e-12, 1.0)
    goal = np.clip(np.asarray(target, dtype=float), 0.0, 1.0)
    lo = np.full(s.shape[1], np.log(POWER_BOUNDS[0]))
    hi = np.full(s.shape[1], np.log(POWER_BOUNDS[1]))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        too_high = (s ** np.exp(mid)).mean(axis=0) > goal  # mean S^c falls as c grows
        lo = np.where(too_high, mid, lo)
        hi = np.where(too_high, hi, mid)
    power = np.exp(0.5 * (lo + hi))
    power = np.where(goal >= 1.0, POWER_BOUNDS[0], power)  # no event yet: as close to 1 as allowed
    return np.where((s >= 1.0).all(axis=0), 1.0, power)


def weighted_km_on_grid(
    time: np.ndarray, event: np.ndarray, grid: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """(Weighted) Kaplan-Meier survival read on ``grid`` as a step function; flat after the last time.

    The curve is :func:`oncoplan.evaluate.censoring.weighted_kaplan_meier` (the estimator of lifelines'
    ``KaplanMeierFitter`` with weights).
    """
    knots, surv = weighted_kaplan_meier(time, event, weights)
    idx = np.searchsorted(knots, np.asarray(grid, dtype=float), side="right") - 1
    return np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)


def anchor_targets(
    time: np.ndarray,
    event: np.ndarray,
    codes: np.ndarray,
    member_rows: list[np.ndarray],
    grid: np.ndarray,
    n_arms: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Target curves ``(n_members, n_arms, len(grid))`` of each member's anchoring.

    The Kaplan-Meier curve of each arm on all training rows, plus the deviation of the member's own
    rows' curve (e.g. its bootstrap resample) from the average of the members' curves: the ensemble mean
    sits on the full-data estimate, and the spread between members keeps the resampling uncertainty.
    """

    def km(rows: np.ndarray, k: int) -> np.ndarray:
        arm_rows = rows[codes[rows] == k]
        if len(arm_rows) < 2:
            return np.full(len(grid), np.nan)
        w = None if weights is None else weights[arm_rows]
        return weighted_km_on_grid(time[arm_rows], event[arm_rows], grid, w)

    everyone = np.arange(len(codes))
    full = np.stack([km(everyone, k) for k in range(n_arms)])
    own = np.stack([np.stack([km(rows, k) for k in range(n_arms)]) for rows in member_rows])
    own = np.where(np.isnan(own), full, own)
    targets = np.clip(full + own - own.mean(axis=0), 0.0, 1.0)
    return np.minimum.accumulate(targets, axis=-1)


def apply_anchor(
    curves: np.ndarray,
    powers: np.ndarray,
    power_times: np.ndarray,
    grid: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Anchored curves: ``curves`` ``(..., n_arms, len(grid))`` raised to the powers ``(n_arms, T)``.

    The powers are defined on ``power_times`` and read as a step function at ``grid`` (1 before the
    first point); the result is made non-increasing in time when ``grid`` is sorted. ``out`` (may be
    ``curves`` itself) receives the result in place.

    Example:
        >>> out = apply_anchor(np.array([[0.9, 0.8]]), np.array([[2.0, 1.0]]), np.array([0.0, 1.0]),
        ...                    np.array([0.0, 1.0]))
        >>> out.round(2).tolist()
        [[0.81, 0.8]]
    """
    idx = np.searchsorted(power_times, grid, side="right") - 1
    step = np.where(idx >= 0, powers[:, np.clip(idx, 0, None)], 1.0)
    out = np.clip(curves, 0.0, 1.0, out=out)
    np.power(out, step, out=out)
    if np.all(np.diff(grid) >= 0):
        np.minimum.accumulate(out, axis=-1, out=out)
    return out
