"""Penalised Cox effect modifiers: partial likelihood against statsmodels, recovery of a known modifier."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sksurv.util import Surv
from statsmodels.duration.hazard_regression import PHReg

from oncoplan.errors import ConfigError
from oncoplan.models.effect_modifiers import CoxEffectModifiers, cox_partial_log_likelihood, modifier_design


@pytest.fixture(scope="module")
def veteran():
    from oncoplan.data import load_cohort

    cohort = load_cohort("survset:veteran")
    numeric, _ = cohort.feature_types(include_treatment=False)
    X = cohort.features(include_treatment=False)[numeric].to_numpy(dtype=float)
    return cohort, X


def test_partial_likelihood_matches_statsmodels_breslow_on_veteran(veteran):
    cohort, X = veteran
    assert len(np.unique(cohort.time)) < len(cohort.time)  # real ties
    beta = np.random.default_rng(0).normal(scale=0.05, size=X.shape[1])
    reference = PHReg(cohort.time, X, status=cohort.event.astype(int), ties="breslow").loglike(beta)
    assert cox_partial_log_likelihood(cohort.time, cohort.event, X @ beta) == pytest.approx(
        reference, rel=1e-10
    )


def _simulated(X: np.ndarray, modifier: float, seed: int):
    """Real covariates, simulated arms and exponential times: arm 1 helps when column 0 is high."""
    rng = np.random.default_rng(seed)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    a = rng.integers(0, 2, len(X))
    score = 0.5 * z[:, 1]
    eta = score + np.where(a == 1, -modifier * z[:, 0], 0.0)
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(3.0, len(X))
    return Surv.from_arrays(t <= c, np.minimum(t, c)), a, score, z


def test_recovers_a_known_modifier_and_drops_noise(veteran):
    _, X = veteran
    X = np.vstack([X] * 3)  # 411 patients: enough events for the modifier to show
    y, a, score, z = _simulated(X, modifier=1.0, seed=1)
    model = CoxEffectModifiers(n_members=3, random_state=0).fit(X, y, a, score)
    s = model.predict_counterfactual(X, score).mean(axis=0)
    j = np.searchsorted(model.times_, 1.0)
    contrast = s[:, 1, j] - s[:, 0, j]  # benefit of arm 1 in survival at t = 1
    assert np.corrcoef(contrast, z[:, 0])[0, 1] > 0.9
    y0, a0, score0, _ = _simulated(X, modifier=0.0, seed=2)
    null = CoxEffectModifiers(n_members=1, one_se=True, random_state=0).fit(X, y0, a0, score0)
    assert null.n_active_ <= 2


def test_seeded_fit_is_deterministic_and_curves_are_monotone(veteran):
    _, X = veteran
    y, a, score, _ = _simulated(X, modifier=0.5, seed=3)
    one, two = (CoxEffectModifiers(n_members=2, random_state=4).fit(X, y, a, score) for _ in range(2))
    s1, s2 = one.predict_counterfactual(X[:5], score[:5]), two.predict_counterfactual(X[:5], score[:5])
    np.testing.assert_array_equal(s1, s2)
    assert np.all(np.diff(s1, axis=-1) <= 1e-12) and s1.min() >= 0 and s1.max() <= 1


def test_design_and_input_errors():
    d = modifier_design(np.array([0.1, 0.2]), np.array([[1.0], [2.0]]), np.array([0, 2]), -1, 3)
    assert d.tolist() == [[0.1, 0.0, 0.0, 1.0, 0.0, 0.0], [0.2, 0.0, 1.0, 0.0, 0.0, 2.0]]
    y = Surv.from_arrays([True] * 4, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ConfigError, match="two patients"):
        CoxEffectModifiers().fit(np.zeros((4, 1)), y, np.array([0, 0, 0, 1]), np.zeros(4))
    with pytest.raises(ConfigError, match="one row per patient"):
        CoxEffectModifiers().fit(np.zeros((3, 1)), y, np.array([0, 0, 1, 1]), np.zeros(4))


def test_own_breslow_curves_match_scikit_survival_on_veteran(veteran):
    """Members keep (coefficients, Breslow baseline) so bundles need no pickles: same curves as sksurv."""
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    cohort, X = veteran
    a = (cohort.treatment.to_numpy().astype(str) == cohort.arms[1]).astype(int)
    score = np.log1p(X[:, 0] / 100.0)
    model = CoxEffectModifiers(n_members=1, random_state=0).fit(X, cohort.y, a, score)
    z = (X - model.mean_) / model.scale_
    design = modifier_design(score, z, a, -1, 2)
    reference = CoxnetSurvivalAnalysis(
        alphas=[model.alpha_],
        l1_ratio=model.l1_ratio,
        penalty_factor=np.r_[np.zeros(2), np.ones(2 * X.shape[1])],
        fit_baseline_model=True,
        max_iter=100000,
    ).fit(design, cohort.y)
    np.testing.assert_allclose(model.coef_[0], reference.coef_[:, 0], rtol=1e-10)
    for k in (0, 1):
        ours = model.predict_counterfactual(X, score)[0, :, k]
        theirs = reference.predict_survival_function(
            modifier_design(score, z, a, k, 2), alpha=model.alpha_, return_array=True
        )
        grid = reference.unique_times_
        np.testing.assert_allclose(model.predict_counterfactual(X, score, grid)[0, :, k], theirs, atol=1e-10)
        assert ours.shape == (len(X), len(model.times_))
    restored = CoxEffectModifiers.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(
        restored.predict_counterfactual(X, score), model.predict_counterfactual(X, score)
    )
