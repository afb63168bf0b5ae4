"""Calibration: GLM slope/intercept vs scikit-learn, ECE/reliability vs sklearn bins, survival calibration vs
scikit-survival's Kaplan-Meier, and D-calibration vs a brute force and on simulated true/wrong models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sksurv.nonparametric import kaplan_meier_estimator

from oncoplan.evaluate.calibration import (
    calibration_slope_intercept,
    d_calibration,
    d_calibration_counts,
    expected_calibration_error,
    reliability_curve,
    survival_calibration,
)
from oncoplan.evaluate.horizon import horizon_labels
from oncoplan.evaluate.survival import survival_at


@pytest.fixture(scope="module")
def prob_data(gbsg2):
    h = 3 * 365.0
    lab = horizon_labels(gbsg2.event, gbsg2.time, h)
    prob = 1.0 - survival_at(gbsg2.curves, None, [h])[:, 0]
    y, p, _ = lab.select(prob)
    return y, p


def test_slope_and_intercept_equal_sklearn_unpenalised_logistic(prob_data) -> None:
    y, p = prob_data
    fit = calibration_slope_intercept(y, p)
    lp = np.log(p / (1 - p)).reshape(-1, 1)
    ref = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12, max_iter=200).fit(lp, y)
    assert fit.slope == pytest.approx(ref.coef_[0, 0], abs=1e-6)
    # calibration-in-the-large: the intercept solves sum(y) = sum(expit(a + logit p))
    expit = 1 / (1 + np.exp(-(fit.intercept + lp[:, 0])))
    assert expit.sum() == pytest.approx(y.sum(), abs=1e-6)
    assert fit.slope_ci[0] < fit.slope < fit.slope_ci[1]


def test_calibrated_simulation_has_slope_one_and_intercept_zero() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.98, 4000)
    y = rng.binomial(1, p)
    fit = calibration_slope_intercept(y, p)
    assert fit.slope_ci[0] < 1.0 < fit.slope_ci[1]
    assert fit.intercept_ci[0] < 0.0 < fit.intercept_ci[1]
    overconfident = calibration_slope_intercept(y, 1 / (1 + np.exp(-3 * np.log(p / (1 - p)))))
    assert overconfident.slope_ci[1] < 0.5


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_and_ece_match_sklearn_bins(prob_data, strategy: str) -> None:
    y, p = prob_data
    curve = reliability_curve(y, p, n_bins=8, strategy=strategy)
    obs, pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(curve["observed"], obs, atol=1e-12)
    np.testing.assert_allclose(curve["predicted"], pred, atol=1e-12)
    assert curve["n"].sum() == len(y)
    ece = expected_calibration_error(y, p, n_bins=8, strategy=strategy)
    brute = float(np.sum(curve["n"] / len(y) * np.abs(curve["observed"] - curve["predicted"])))
    assert ece == pytest.approx(brute, abs=1e-12)


def test_survival_calibration_observed_equals_sksurv_km(gbsg2) -> None:
    h = 3 * 365.0
    s_h = survival_at(gbsg2.curves, None, [h])[:, 0]
    tab = survival_calibration(gbsg2.event, gbsg2.time, s_h, h, n_groups=5)
    assert tab["n"].sum() == len(s_h)
    groups = np.unique(np.quantile(s_h, np.linspace(0, 1, 6)))
    assert len(tab) == 5 and len(groups) == 6
    for k, row in tab.iterrows():
        lo, hi = groups[k], groups[k + 1]
        members = (s_h > lo) & (s_h <= hi) if k > 0 else (s_h >= lo) & (s_h <= hi)
        t_km, s_km = kaplan_meier_estimator(gbsg2.event[members], gbsg2.time[members])
        expected = s_km[np.searchsorted(t_km, h, side="right") - 1]
        assert row["n"] == members.sum()
        assert row["observed"] == pytest.approx(expected, abs=1e-10)
        assert row["predicted"] == pytest.approx(s_h[members].mean(), abs=1e-12)
        assert row["observed_ci_low"] <= row["observed"] <= row["observed_ci_high"]


def _brute_d_counts(event, s, n_bins) -> np.ndarray:
    counts = np.zeros(n_bins)
    for e, si in zip(event, s, strict=True):
        for b in range(n_bins):
            lo, hi = b / n_bins, (b + 1) / n_bins
            if e:
                counts[b] += (lo <= si < hi) or (b == n_bins - 1 and si == 1.0)
            elif si == 0:
                counts[b] += b == 0
            else:  # uniform on [0, s]: mass of [lo, hi) is its overlap with [0, s] divided by s
                counts[b] += max(0.0, min(hi, si) - lo) / si
    return counts


def test_d_calibration_counts_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    s = np.r_[rng.uniform(size=300), [0.0, 1.0, 0.5, 0.3]]
    event = np.r_[rng.integers(0, 2, 300), [0, 1, 0, 1]].astype(bool)
    fast = d_calibration_counts(event, s, 10)
    np.testing.assert_allclose(fast, _brute_d_counts(event, s, 10), atol=1e-10)
    assert fast.sum() == pytest.approx(len(s))


def _simulated_cohort(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    rate = 0.1 * np.exp(0.8 * x)
    t_event = rng.exponential(1 / rate)
    cens = rng.exponential(15.0, n)
    grid = np.linspace(0, 80, 4001)
    return t_event <= cens, np.minimum(t_event, cens), rate, grid


def test_d_calibration_accepts_true_model_and_rejects_wrong_one() -> None:
    event, time, rate, grid = _simulated_cohort(2000, seed=1)
    true_surv = np.exp(-np.outer(rate, grid))
    assert d_calibration(event, time, true_surv, grid).p_value > 0.05
    wrong = np.exp(-np.outer(3 * rate, grid))  # hazards three times too high
    assert d_calibration(event, time, wrong, grid).p_value < 1e-3


def test_d_calibration_reads_curves_at_own_time(gbsg2) -> None:
    res_curves = d_calibration(gbsg2.event, gbsg2.time, gbsg2.curves)
    res_array = d_calibration(gbsg2.event, gbsg2.time, gbsg2.surv, gbsg2.grid)
    np.testing.assert_allclose(res_curves.bin_counts, res_array.bin_counts, atol=1e-12)
    s_own = np.array(
        [survival_at(gbsg2.surv[i : i + 1], gbsg2.grid, [t])[0, 0] for i, t in enumerate(gbsg2.time)]
    )
    np.testing.assert_allclose(res_array.bin_counts, _brute_d_counts(gbsg2.event, s_own, 10), atol=1e-9)


def _own_time_survival(split) -> np.ndarray:
    return np.array(
        [survival_at(split.surv[i : i + 1], split.grid, [t])[0, 0] for i, t in enumerate(split.time)]
    )


def test_d_calibration_statistic_equals_scipy_chisquare(gbsg2) -> None:
    """The test statistic and p-value are Pearson's chi-square of the bin counts against n / n_bins."""
    from scipy import stats

    for n_bins in (5, 10, 20):
        res = d_calibration(gbsg2.event, gbsg2.time, gbsg2.surv, gbsg2.grid, n_bins=n_bins)
        expected = len(gbsg2.time) / n_bins
        statistic = float(np.sum((res.bin_counts - expected) ** 2 / expected))
        assert res.statistic == pytest.approx(statistic, abs=1e-6)
        assert res.p_value == pytest.approx(stats.chi2.sf(statistic, n_bins - 1), abs=1e-6)
        ref = stats.chisquare(res.bin_counts)
        assert (res.statistic, res.p_value) == pytest.approx((ref.statistic, ref.pvalue), abs=1e-9)


def test_d_calibration_equals_survivaleval(gbsg2) -> None:
    """Same counts, statistic and p-value as SurvivalEVAL's d_calibration (its bins run from 1 down to 0)."""
    ref_mod = pytest.importorskip(
        "SurvivalEVAL.evaluations.calibration.distributional.distribution_calibration"
    )
    s_own = _own_time_survival(gbsg2)
    ours = d_calibration(gbsg2.event, gbsg2.time, gbsg2.surv, gbsg2.grid, n_bins=10)
    statistic, p_value, hist = ref_mod.d_calibration(s_own, gbsg2.event.astype(int), num_bins=10)
    np.testing.assert_allclose(ours.bin_counts, np.asarray(hist)[::-1], atol=1e-9)
    assert ours.statistic == pytest.approx(float(statistic), abs=1e-6)
    assert ours.p_value == pytest.approx(float(p_value), abs=1e-6)


def test_calibration_report_equals_the_glm_fit_and_brackets_it(prob_data) -> None:
    from oncoplan.evaluate.calibration import calibration_intercept, calibration_report, calibration_slope

    y, p = prob_data
    fit = calibration_slope_intercept(y, p)
    assert calibration_slope(y, p) == fit.slope and calibration_intercept(y, p) == fit.intercept
    rep = calibration_report(y, p, n_boot=40, seed=0)
    assert rep["calibration_slope"].value == pytest.approx(fit.slope, abs=1e-12)
    assert rep["calibration_intercept"].value == pytest.approx(fit.intercept, abs=1e-12)
    ece = expected_calibration_error(y, p, n_bins=10, strategy="quantile")
    assert rep["expected_calibration_error"].value == pytest.approx(ece, abs=1e-12)
    for res in rep.values():
        assert res.ci_low <= res.value <= res.ci_high and res.n_failed == 0
