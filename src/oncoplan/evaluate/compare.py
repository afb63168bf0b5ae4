"""Compare two models on the same patients: paired bootstrap difference of any metric, and DeLong's test.

The fast DeLong algorithm (Sun & Xu 2014, IEEE Signal Processing Letters 21:1389) is written by hand:
neither scikit-learn, scipy nor statsmodels implement the correlated-AUC test.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 300)
    >>> a = y + rng.normal(size=300); b = y + 2 * rng.normal(size=300)
    >>> res = delong_test(y, a, b)
    >>> bool(res.auc_a > res.auc_b and res.p_value < 0.05)
    True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from oncoplan.errors import CohortError
from oncoplan.evaluate.binary import check_binary
from oncoplan.evaluate.bootstrap import BootstrapResult, WeightedMetric, bootstrap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairedComparison:
    """``metric(model a) - metric(model b)`` on the same patients, with a paired bootstrap CI and p-value."""

    value_a: float
    value_b: float
    difference: BootstrapResult
    p_value: float

    def __str__(self) -> str:
        return (
            f"{self.value_a:.3f} vs {self.value_b:.3f}: difference {self.difference} (p={self.p_value:.3g})"
        )


def bootstrap_p_value(replicates: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value for ``difference == null``: twice the smaller tail fraction of replicates.

    This is the smallest alpha at which the percentile interval excludes ``null``; the ``+1`` terms keep it
    above ``1/(B+1)`` (never exactly 0).

    Example:
        >>> bootstrap_p_value(np.array([0.1, 0.2, 0.3, -0.1]))
        0.8
    """
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return float("nan")
    below = (np.sum(reps <= null) + 1) / (len(reps) + 1)
    above = (np.sum(reps >= null) + 1) / (len(reps) + 1)
    return float(min(1.0, 2 * min(below, above)))


def paired_difference(
    metric: Callable[..., float],
    score_a: Any,
    score_b: Any,
    *targets: Any,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    stratify: Any = None,
    name: str = "difference",
    method: str = "percentile",
) -> PairedComparison:
    """Paired bootstrap of ``metric(*targets, score_a) - metric(*targets, score_b)``.

    Patients are resampled once per replicate and both models are scored on the same resample, so the
    correlation between the models is kept. Works for any metric whose last argument is the prediction,
    e.g. ``paired_difference(harrell_c, risk_a, risk_b, event, time)`` or
    ``paired_difference(auc_roc, p_a, p_b, y, stratify=y)``. A
    :class:`~oncoplan.evaluate.bootstrap.WeightedMetric` (e.g. ``survival_bootstrap.HARRELL_C``) scores
    all resamples at once.

    Example:
        >>> from oncoplan.evaluate.binary import auc_roc
        >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 200)
        >>> a = y + rng.normal(size=200); b = rng.normal(size=200)
        >>> cmp = paired_difference(auc_roc, a, b, y, n_boot=200, stratify=y)
        >>> bool(cmp.difference.ci_low > 0)
        True
    """
    sa = np.asarray(score_a)
    sb = np.asarray(score_b)
    if sa.shape[0] != sb.shape[0]:
        raise CohortError(f"the two models scored {sa.shape[0]} and {sb.shape[0]} patients; need the same")
    value_a = float(metric(*targets, sa))
    value_b = float(metric(*targets, sb))
    if isinstance(metric, WeightedMetric):  # all resamples at once, on the same draws
        weighted = metric.weighted
        difference: Callable[..., float] = WeightedMetric(
            lambda a, b, *tg: metric(*tg, a) - metric(*tg, b),
            lambda c, a, b, *tg: weighted(c, *tg, a) - weighted(c, *tg, b),
        )
    else:
        difference = lambda a, b, *tg: metric(*tg, a) - metric(*tg, b)  # noqa: E731
    diff = bootstrap(
        difference,
        sa,
        sb,
        *targets,
        n_boot=n_boot,
        level=level,
        seed=seed,
        stratify=stratify,
        name=name,
        method=method,
    )
    p = bootstrap_p_value(diff.replicates if diff.replicates is not None else np.array([]))
    return PairedComparison(value_a=value_a, value_b=value_b, difference=diff, p_value=p)


@dataclass(frozen=True)
class DeLongResult:
    """DeLong test of two correlated AUCs (``difference = auc_a - auc_b``)."""

    auc_a: float
    auc_b: float
    difference: float
    std_error: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    covariance: np.ndarray


def delong_covariance(y_true: Any, *scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for one or more scores of the same patients (fast algorithm).

    Midranks replace the O(m n) pairwise comparisons (Sun & Xu 2014), so the cost is O(N log N) per score.

    Returns:
        ``(aucs, covariance)`` with shapes ``(k,)`` and ``(k, k)``.

    Example:
        >>> aucs, cov = delong_covariance([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> float(aucs[0])
        0.75
    """
    y, _ = check_binary(y_true, np.asarray(scores[0], dtype=float))
    preds = np.vstack([check_binary(y, s)[1] for s in scores])
    pos, neg = preds[:, y == 1], preds[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise CohortError(
            f"DeLong's test needs at least 2 positives and 2 negatives, got {m} and {n}",
            hint="use a larger test set",
        )
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.hstack([pos, neg]), axis=1)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (tz[:, :m] - tx) / n  # per positive: fraction of negatives ranked below (ties 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # per negative: fraction of positives ranked above
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong_test(y_true: Any, score_a: Any, score_b: Any, level: float = 0.95) -> DeLongResult:
    """DeLong et al. (1988) test that two correlated AUCs on the same patients are equal.

    Example:
        >>> res = delong_test([0, 0, 1, 1, 0, 1], [.1, .4, .35, .8, .2, .9], [.3, .2, .6, .7, .5, .4])
        >>> round(res.auc_a, 3), round(res.auc_b, 3)
        (0.889, 0.889)
    """
    aucs, cov = delong_covariance(y_true, score_a, score_b)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se > 0:
        z = diff / se
        p = float(2 * stats.norm.sf(abs(z)))
    else:  # identical rankings
        z, p = 0.0, 1.0
    half = stats.norm.ppf(0.5 + level / 2) * se
    return DeLongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        difference=diff,
        std_error=se,
        z=float(z),
        p_value=p,
        ci_low=diff - half,
        ci_high=diff + half,
        covariance=cov,
    )
