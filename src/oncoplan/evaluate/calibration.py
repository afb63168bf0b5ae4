"""Calibration: recalibration slope/intercept, ECE, reliability curve, survival and D-calibration.

* Slope and intercept: statsmodels binomial GLM of the outcome on ``logit(p)`` (slope), and of the outcome
  with offset ``logit(p)`` (calibration-in-the-large intercept), as in Van Calster et al. 2019.
* Reliability curve: wraps ``sklearn.calibration.calibration_curve`` (adds the bin counts).
* ECE: hand-written (a weighted mean of |observed - predicted| over the same bins as the reliability curve).
* Survival calibration at a horizon: mean predicted S(h) vs Kaplan-Meier S(h) (lifelines) by risk group.
* D-calibration (Haider et al. 2020, JMLR 21:85): hand-written; nobody in our stack implements it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); p = rng.uniform(0.05, 0.95, 2000); y = rng.binomial(1, p)
    >>> fit = calibration_slope_intercept(y, p)
    >>> bool(0.8 < fit.slope < 1.2 and abs(fit.intercept) < 0.2)
    True
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.calibration import calibration_curve

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.binary import check_binary
from oncoplan.evaluate.bootstrap import BootstrapResult, bootstrap_many
from oncoplan.evaluate.survival import SurvivalInput, check_event_time, curves_to_array

logger = logging.getLogger(__name__)

_EPS = 1e-12


@dataclass(frozen=True)
class CalibrationFit:
    """Logistic recalibration: ``slope`` (ideal 1) and calibration-in-the-large ``intercept`` (ideal 0)."""

    slope: float
    slope_ci: tuple[float, float]
    intercept: float
    intercept_ci: tuple[float, float]
    n: int


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def _recalibration_fit(y_true: Any, prob: Any, sample_weight: Any, which: str) -> tuple[float, float]:
    """``(estimate, standard error)`` of the slope or the calibration-in-the-large intercept (GLM)."""
    y, p = check_binary(y_true, prob, sample_weight)
    if p.min() < 0 or p.max() > 1:
        raise CohortError("calibration needs predicted probabilities in [0, 1]")
    if y.min() == y.max():
        raise CohortError("calibration needs both outcomes (0 and 1) in y_true")
    lp = _logit(p)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # perfect-separation / convergence notes; result checked below
        if which == "slope":
            fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial(), freq_weights=w).fit()
            est, se = float(fit.params[1]), float(fit.bse[1])
        else:
            fit = sm.GLM(
                y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp, freq_weights=w
            ).fit()
            est, se = float(fit.params[0]), float(fit.bse[0])
    if not np.isfinite(est):
        raise CohortError("logistic recalibration did not converge (perfect separation?)")
    return est, se


def calibration_slope(y_true: Any, prob: Any, sample_weight: Any = None) -> float:
    """The calibration slope alone (see :func:`calibration_slope_intercept`; one GLM fit).

    Example:
        >>> rng = np.random.default_rng(0); p = rng.uniform(0.05, 0.95, 2000); y = rng.binomial(1, p)
        >>> bool(0.8 < calibration_slope(y, p) < 1.2)
        True
    """
    return _recalibration_fit(y_true, prob, sample_weight, "slope")[0]


def calibration_intercept(y_true: Any, prob: Any, sample_weight: Any = None) -> float:
    """The calibration-in-the-large intercept alone (see :func:`calibration_slope_intercept`).

    Example:
        >>> rng = np.random.default_rng(0); p = rng.uniform(0.05, 0.95, 2000); y = rng.binomial(1, p)
        >>> bool(abs(calibration_intercept(y, p)) < 0.2)
        True
    """
    return _recalibration_fit(y_true, prob, sample_weight, "intercept")[0]


def calibration_slope_intercept(
    y_true: Any, prob: Any, sample_weight: Any = None, level: float = 0.95
) -> CalibrationFit:
    """Calibration slope and intercept by logistic recalibration (statsmodels GLM, unpenalised).

    Slope: coefficient of ``logit(p)`` in ``logit P(y=1) = a + b logit(p)``. Intercept: ``a`` in
    ``logit P(y=1) = a + logit(p)`` (offset), i.e. calibration-in-the-large. Wald CIs at ``level``.
    ``sample_weight`` enters as frequency weights (e.g. IPC weights from :mod:`horizon`); the point
    estimates are then exact, the Wald CIs only approximate (bootstrap them for IPC weights).

    Example:
        >>> rng = np.random.default_rng(1); p = rng.uniform(0.1, 0.9, 500)
        >>> y = rng.binomial(1, 1 / (1 + np.exp(-2 * np.log(p / (1 - p)))))  # true slope 2: underconfident
        >>> fit = calibration_slope_intercept(y, p)
        >>> bool(fit.slope_ci[0] < 2.0 < fit.slope_ci[1])
        True
    """
    slope, slope_se = _recalibration_fit(y_true, prob, sample_weight, "slope")
    icpt, icpt_se = _recalibration_fit(y_true, prob, sample_weight, "intercept")
    z = stats.norm.ppf(0.5 + level / 2)
    return CalibrationFit(
        slope=slope,
        slope_ci=(slope - z * slope_se, slope + z * slope_se),
        intercept=icpt,
        intercept_ci=(icpt - z * icpt_se, icpt + z * icpt_se),
        n=len(np.asarray(y_true)),
    )


def _bin_ids(p: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    # same binning as sklearn.calibration.calibration_curve
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ConfigError(f"unknown binning strategy {strategy!r}", hint="use 'uniform' or 'quantile'")
    return np.searchsorted(edges[1:-1], p)


def reliability_curve(y_true: Any, prob: Any, n_bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Reliability diagram data; wraps ``sklearn.calibration.calibration_curve`` and adds bin counts.

    Returns a DataFrame with columns ``predicted`` (mean predicted probability), ``observed`` (fraction of
    positives) and ``n`` for each non-empty bin.

    Example:
        >>> reliability_curve([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2)["n"].tolist()
        [2, 2]
    """
    y, p = check_binary(y_true, prob)
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    ids = _bin_ids(p, n_bins, strategy)
    counts = np.bincount(ids, minlength=n_bins)
    counts = counts[counts > 0]
    if len(counts) != len(observed):  # defensive: sklearn changed its binning
        raise RuntimeError("bin counts do not match sklearn's calibration_curve bins")
    return pd.DataFrame({"predicted": predicted, "observed": observed, "n": counts})


def expected_calibration_error(y_true: Any, prob: Any, n_bins: int = 10, strategy: str = "uniform") -> float:
    """Expected calibration error: sum over bins of ``n_b / n * |observed_b - predicted_b|`` (hand-written).

    Example:
        >>> round(expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2), 6)
        0.175
    """
    y, p = check_binary(y_true, prob)
    ids = _bin_ids(p, n_bins, strategy)
    counts = np.bincount(ids, minlength=n_bins)
    sum_y = np.bincount(ids, weights=y, minlength=n_bins)
    sum_p = np.bincount(ids, weights=p, minlength=n_bins)
    nz = counts > 0
    return float(np.sum(np.abs(sum_y[nz] - sum_p[nz])) / len(y))


def calibration_report(
    y_true: Any,
    prob: Any,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = 0,
    level: float = 0.95,
    n_bins: int = 10,
    strategy: str = "quantile",
) -> dict[str, BootstrapResult]:
    """Calibration slope, calibration-in-the-large intercept and ECE, each with a bootstrap CI.

    Resampling is stratified on ``y_true``; resamples where the recalibration fit fails are dropped (see
    :func:`oncoplan.evaluate.bootstrap.bootstrap_many`).

    Example:
        >>> rng = np.random.default_rng(0); p = rng.uniform(0.05, 0.95, 500); y = rng.binomial(1, p)
        >>> rep = calibration_report(y, p, n_boot=30)
        >>> bool(rep["calibration_slope"].ci_low < 1 < rep["calibration_slope"].ci_high)
        True
    """
    y, p = check_binary(y_true, prob)
    metrics = {
        "calibration_slope": calibration_slope,
        "calibration_intercept": calibration_intercept,
        "expected_calibration_error": lambda yy, pp: expected_calibration_error(yy, pp, n_bins, strategy),
    }
    return bootstrap_many(metrics, y, p, n_boot=n_boot, level=level, stratify=y, seed=seed)


def survival_calibration(
    event: Any,
    time: Any,
    survival_at_horizon: Any,
    horizon: float,
    n_groups: int = 10,
    level: float = 0.95,
) -> pd.DataFrame:
    """Predicted vs Kaplan-Meier observed survival at ``horizon`` by risk group (deciles by default).

    Patients are grouped by quantiles of their predicted S(h) (ties may merge groups); in each group the
    observed S(h) is the Kaplan-Meier estimate (lifelines ``KaplanMeierFitter``) with its CI.

    Returns:
        DataFrame with ``group`` (1 = highest risk), ``n``, ``n_events``, ``predicted`` (mean predicted S(h)),
        ``observed``, ``observed_ci_low``, ``observed_ci_high``.

    Example:
        >>> rng = np.random.default_rng(0); t = rng.exponential(5, 400); e = np.ones(400, dtype=int)
        >>> tab = survival_calibration(e, t, np.full(400, np.exp(-1)), horizon=5.0, n_groups=1)
        >>> bool(abs(float(tab["observed"][0]) - np.exp(-1)) < 0.06)
        True
    """
    from lifelines import KaplanMeierFitter

    ev, t = check_event_time(event, time)
    pred = np.asarray(survival_at_horizon, dtype=float)
    if pred.shape != t.shape or not np.isfinite(pred).all():
        raise CohortError("survival_at_horizon must be one finite predicted S(h) per patient")
    groups = pd.qcut(pred, n_groups, labels=False, duplicates="drop") if n_groups > 1 else np.zeros(len(t))
    rows = []
    for k, g in enumerate(np.unique(groups)):
        members = groups == g
        kmf = KaplanMeierFitter(alpha=1 - level).fit(t[members], ev[members], timeline=[float(horizon)])
        ci = kmf.confidence_interval_survival_function_.to_numpy()[0]
        rows.append(
            {
                "group": k + 1,
                "n": int(members.sum()),
                "n_events": int(ev[members].sum()),
                "predicted": float(pred[members].mean()),
                "observed": float(kmf.survival_function_.to_numpy()[0, 0]),
                "observed_ci_low": float(ci[0]),
                "observed_ci_high": float(ci[1]),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class DCalibration:
    """D-calibration result: chi-square ``statistic``, ``p_value`` (large = calibrated), ``bin_counts``."""

    statistic: float
    p_value: float
    bin_counts: np.ndarray
    n_bins: int


def d_calibration_counts(event: Any, survival_own_time: Any, n_bins: int = 10) -> np.ndarray:
    """Haider et al.'s D-calibration bin counts from each patient's predicted S(T_i) at their own time.

    An uncensored patient adds 1 to the bin holding ``s = S(T_i)``. A censored patient's unknown
    S(true event time) is uniform on [0, s], so it adds ``(s - lower)/s`` to the bin holding s and
    ``width/s`` to every bin below (a patient with s = 0 adds 1 to the lowest bin).

    Example:
        >>> d_calibration_counts([1, 0], [0.95, 0.5], n_bins=2)
        array([1., 1.])
    """
    ev = np.asarray(event).astype(bool)
    s = np.clip(np.asarray(survival_own_time, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    lower, upper = edges[:-1], edges[1:]
    bin_of = np.minimum((s * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bin_of[ev], minlength=n_bins).astype(float)
    sc = s[~ev]
    pos = sc > 0
    counts[0] += float((~pos).sum())
    sc = sc[pos]
    overlap = np.clip(np.minimum(upper[None, :], sc[:, None]) - lower[None, :], 0.0, None)
    counts += (overlap / sc[:, None]).sum(axis=0)
    return counts


def d_calibration(
    event: Any, time: Any, survival_prob: SurvivalInput, times: Any = None, n_bins: int = 10
) -> DCalibration:
    """D-calibration test (Haider et al. 2020): are predicted S(T_i) uniform over ``n_bins`` bins?

    Each patient's curve is read at their own observed time (step, as :func:`survival_at`); the bin counts of
    :func:`d_calibration_counts` are compared with ``n / n_bins`` by a chi-square test with
    ``n_bins - 1`` degrees of freedom. A small p-value means the model is not D-calibrated.

    Example:
        >>> rng = np.random.default_rng(0); t = rng.exponential(1.0, 1000); e = np.ones(1000, dtype=int)
        >>> grid = np.linspace(0, 8, 801); s = np.tile(np.exp(-grid), (1000, 1))
        >>> d_calibration(e, t, s, grid).p_value > 0.05
        True
    """
    ev, t = check_event_time(event, time)
    if _is_array(survival_prob):
        if times is None:
            raise ConfigError("times (the grid of the survival_prob columns) is required for an array")
        arr, grid = np.atleast_2d(np.asarray(survival_prob, dtype=float)), np.asarray(times, dtype=float)
    else:
        arr, grid = curves_to_array(survival_prob)
    if arr.shape != (len(t), len(grid)):
        raise CohortError(f"survival_prob has shape {arr.shape}, expected ({len(t)}, {len(grid)})")
    idx = np.searchsorted(grid, t, side="right") - 1  # right-continuous step, as survival_at
    s_own = np.where(idx < 0, 1.0, arr[np.arange(len(t)), np.clip(idx, 0, None)])
    counts = d_calibration_counts(ev, s_own, n_bins)
    statistic, p = stats.chisquare(counts)
    return DCalibration(statistic=float(statistic), p_value=float(p), bin_counts=counts, n_bins=n_bins)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (len(x) > 0 and not hasattr(x[0], "x"))
