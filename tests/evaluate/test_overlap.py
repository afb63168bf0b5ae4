"""Propensity estimation and overlap diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from oncoplan.data.simulate.survival import load_covariates, simulate_survival
from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.overlap import (
    estimate_propensity,
    outside_band,
    overlap_report,
    propensity_histograms,
)


@pytest.fixture(scope="module")
def cov():
    return load_covariates("gbsg2")


def test_in_sample_propensity_matches_sklearn_and_respects_arm_order(cov):
    sim = simulate_survival(cov.X, marker=cov.marker, confounding=1.0, seed=0)
    arms = ["C", "A", "B"]  # not sorted: columns must follow this order
    p = estimate_propensity(sim.X, sim.treatment, arms, cross_fit=False)
    X = StandardScaler().fit_transform(sim.X.to_numpy())
    ref = LogisticRegression(max_iter=2000).fit(X, sim.treatment)
    ref_p = pd.DataFrame(ref.predict_proba(X), columns=ref.classes_)[arms].to_numpy()
    np.testing.assert_allclose(p, ref_p, atol=1e-6)


def test_cross_fitted_propensity_recovers_truth():
    cov = load_covariates("survset:rott2")
    sim = simulate_survival(cov.X, marker=cov.marker, confounding=1.0, seed=1)
    p = estimate_propensity(sim.X, sim.treatment, sim.arms, n_folds=5, seed=0)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(np.abs(p - sim.propensity)) < 0.03
    uniform_error = np.mean(np.abs(1 / 3 - sim.propensity))
    assert uniform_error > 0.1  # confounding is real, so the check above is not trivial
    again = estimate_propensity(sim.X, sim.treatment, sim.arms, n_folds=5, seed=0)
    assert np.array_equal(p, again)


def test_cross_fitted_differs_from_in_sample(cov):
    sim = simulate_survival(cov.X, marker=cov.marker, confounding=1.0, seed=0)
    cf = estimate_propensity(sim.X, sim.treatment, sim.arms, n_folds=5)
    ins = estimate_propensity(sim.X, sim.treatment, sim.arms, cross_fit=False)
    assert not np.allclose(cf, ins)
    assert np.corrcoef(cf[:, 0], ins[:, 0])[0, 1] > 0.9


def test_dataframe_with_categorical_columns():
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "grade": rng.choice(["I", "II", "III"], n)})
    treat = np.where((X.grade == "III") | (rng.random(n) < 0.3), "chemo", "obs")
    p = estimate_propensity(X, treat, ["obs", "chemo"], n_folds=4)
    assert p.shape == (n, 2)
    assert p[X.grade == "III", 1].mean() > p[X.grade != "III", 1].mean() + 0.3


def test_bad_inputs():
    X = np.random.default_rng(0).normal(size=(20, 2))
    treat = np.array(["A", "B"] * 10, dtype=object)
    bad = treat.copy()
    bad[4] = None
    with pytest.raises(CohortError, match="row 4"):
        estimate_propensity(X, bad, ["A", "B"], n_folds=2)
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(CohortError, match="row 7"):
        estimate_propensity(Xn, treat, ["A", "B"], n_folds=2)
    with pytest.raises(CohortError, match="outside"):
        estimate_propensity(X, treat, ["A"], n_folds=2)
    with pytest.raises(CohortError, match="only one arm"):
        estimate_propensity(X, np.array(["A"] * 20), ["A", "B"], n_folds=2)
    with pytest.raises(ConfigError):
        outside_band(np.full((2, 2), 0.5), band=(0.9, 0.1))


def test_histograms():
    rng = np.random.default_rng(3)
    p = rng.dirichlet([2, 2, 2], size=300)
    treat = np.array(["A", "B", "C"], dtype=object)[rng.integers(0, 3, 300)]
    h = propensity_histograms(p, treat, ["A", "B", "C"], bins=10)
    for arm in "ABC":
        sub = h[h.arm == arm]
        assert sub["count"].sum() == 300
        assert sub[sub.group == "received"]["count"].sum() == (treat == arm).sum()
        for _, g in sub.groupby("group"):
            assert np.sum(g.density * (g.bin_right - g.bin_left)) == pytest.approx(1.0)
    expected = np.histogram(p[treat == "B", 1], bins=np.linspace(0, 1, 11))[0]
    got = h[(h.arm == "B") & (h.group == "received")]["count"].to_numpy()
    assert np.array_equal(got, expected)


def test_overlap_report_and_warning():
    p = np.array([[0.5, 0.5], [0.98, 0.02], [0.3, 0.7], [0.6, 0.4], [0.04, 0.96]] * 4)
    rep = overlap_report(p, ["A", "B"], band=(0.05, 0.95), max_share_outside=0.10)
    assert rep.share_outside_by_arm == {"A": 0.4, "B": 0.4}
    assert rep.share_any_outside == pytest.approx(0.4)
    assert rep.outside.shape == p.shape
    assert rep.warning is not None and rep.warning.share_outside == pytest.approx(0.4)
    assert "40.0%" in rep.warning.message
    json.dumps(rep.to_dict())
    ok = overlap_report(p, ["A", "B"], band=(0.01, 0.99))
    assert ok.warning is None and ok.share_any_outside == 0.0


def test_overlap_warning_tracks_confounding(cov):
    weak = simulate_survival(cov.X, marker=cov.marker, confounding=0.0, seed=0)
    strong = simulate_survival(cov.X, marker=cov.marker, confounding=3.0, seed=0)
    assert overlap_report(weak.propensity, weak.arms).warning is None
    rep = overlap_report(strong.propensity, strong.arms)
    assert rep.warning is not None and rep.share_any_outside > 0.1
