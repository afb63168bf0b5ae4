"""Bootstrap helper: determinism, agreement between APIs, grouped jackknife, and CI coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from oncoplan.errors import ConfigError
from oncoplan.evaluate.bootstrap import _acceleration, bootstrap, bootstrap_many, jackknife_values


def _rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC (fast enough for a coverage simulation)."""
    ranks = stats.rankdata(s)
    m = int(y.sum())
    n = len(y) - m
    return float((ranks[y == 1].sum() - m * (m + 1) / 2) / (m * n))


def test_same_seed_same_interval_and_percentiles_match_replicates() -> None:
    x = np.random.default_rng(3).normal(size=120)
    a = bootstrap(np.mean, x, n_boot=300, seed=7)
    b = bootstrap(np.mean, x, n_boot=300, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    np.testing.assert_allclose([a.ci_low, a.ci_high], np.quantile(a.replicates, [0.025, 0.975]), atol=1e-12)
    assert a.value == pytest.approx(x.mean(), abs=1e-12)


def test_bootstrap_many_shares_resamples_with_bootstrap() -> None:
    x = np.random.default_rng(4).exponential(size=150)
    single = bootstrap(np.median, x, n_boot=200, seed=11, name="median")
    many = bootstrap_many({"median": np.median, "mean": np.mean}, x, n_boot=200, seed=11)
    np.testing.assert_array_equal(single.replicates, many["median"].replicates)
    assert many["mean"].name == "mean"


def test_failed_resamples_are_counted_not_raised() -> None:
    y = np.array([0] * 98 + [1] * 2)

    def needs_positive(yy: np.ndarray) -> float:
        if yy.sum() == 0:
            raise ValueError("no positives")
        return float(yy.mean())

    res = bootstrap(needs_positive, y, n_boot=300, seed=0)
    assert res.n_failed > 0
    assert len(res.replicates) == 300 - res.n_failed


def test_bad_arguments_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        bootstrap(np.mean, np.ones(5), method="basic")
    with pytest.raises(ConfigError):
        bootstrap(np.mean, np.ones(5), np.ones(4))
    with pytest.raises(ConfigError):
        bootstrap(np.mean, np.ones(5), level=1.5)


def test_grouped_jackknife_acceleration_close_to_full_jackknife() -> None:
    x = np.random.default_rng(5).exponential(size=1000)
    full = _acceleration(jackknife_values(np.mean, [x], max_groups=1000))
    grouped = _acceleration(jackknife_values(np.mean, [x], max_groups=100, seed=1))
    # the mean's exact acceleration is skewness / (6 sqrt(n)); both estimates should agree with it
    exact = stats.skew(x) / (6 * np.sqrt(len(x)))
    assert full == pytest.approx(exact, rel=0.05)
    assert grouped == pytest.approx(full, rel=0.35)


def test_bca_on_large_cohort_uses_grouped_jackknife() -> None:
    x = np.random.default_rng(6).exponential(size=9000)
    calls = {"n": 0}

    def counted_mean(a: np.ndarray) -> float:
        calls["n"] += 1
        return float(a.mean())

    res = bootstrap(counted_mean, x, n_boot=100, method="bca", seed=0, max_jackknife=50)
    assert calls["n"] == 1 + 100 + 50
    assert res.ci_low < res.value < res.ci_high


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_ci_coverage_on_simulation(method: str) -> None:
    """95% intervals of the AUC cover the true AUC in 90-99% of 200 simulated cohorts (binormal model)."""
    shift = 1.0
    true_auc = stats.norm.cdf(shift / np.sqrt(2))
    rng = np.random.default_rng(2024)
    n_sim = 200 if method == "percentile" else 120
    covered = 0
    for _ in range(n_sim):
        y = np.repeat([0, 1], 60)
        s = rng.normal(size=120) + shift * y
        res = bootstrap(_rank_auc, y, s, n_boot=150, method=method, stratify=y, seed=rng, max_jackknife=40)
        covered += res.ci_low <= true_auc <= res.ci_high
    coverage = covered / n_sim
    assert 0.90 <= coverage <= 0.99, coverage


def test_resamples_without_events_are_dropped_for_survival_metrics() -> None:
    from oncoplan.evaluate.survival import harrell_c

    event = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    time = np.arange(1.0, 11.0)
    risk = -time
    res = bootstrap(
        harrell_c, event, time, risk, n_boot=200, seed=0
    )  # unstratified: some resamples lack events
    assert res.n_failed > 0 and res.value == 1.0
