"""Classical baselines: each wrapper reproduces the raw scikit-survival estimator on standardised inputs."""

import numpy as np
import pytest
from sklearn.model_selection import KFold, cross_val_score
from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.metrics import as_integrated_brier_score_scorer

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.baselines import (
    CoxnetBaseline,
    CoxPHBaseline,
    GBSABaseline,
    RSFBaseline,
    make_baseline,
)


def _standardised(X):
    scale = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(scale > 1e-12, scale, 1.0)


def _raw_curves(estimator, Z, times):
    return np.stack([fn(times) for fn in estimator.predict_survival_function(Z)])


@pytest.mark.parametrize(
    ("wrapper", "raw"),
    [
        (CoxPHBaseline(ties="breslow"), CoxPHSurvivalAnalysis(alpha=1e-4, ties="breslow")),
        (CoxPHBaseline(ties="efron"), CoxPHSurvivalAnalysis(alpha=1e-4, ties="efron")),
        (
            RSFBaseline(n_estimators=20, n_jobs=1, random_state=3),
            RandomSurvivalForest(n_estimators=20, min_samples_leaf=3, n_jobs=1, random_state=3),
        ),
        (
            GBSABaseline(n_estimators=30, random_state=3),
            GradientBoostingSurvivalAnalysis(n_estimators=30, max_depth=3, subsample=0.8, random_state=3),
        ),
    ],
    ids=["coxph-breslow", "coxph-efron", "rsf", "gbsa"],
)
def test_wrapper_equals_raw_sksurv_estimator(xy, wrapper, raw):
    X, y = xy
    train, test = np.arange(500), np.arange(500, len(X))
    wrapper.fit(X[train], y[train])
    mean, scale = X[train].mean(axis=0), X[train].std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    raw.fit((X[train] - mean) / scale, y[train])
    z_test = (X[test] - mean) / scale
    np.testing.assert_allclose(wrapper.predict(X[test]), raw.predict(z_test), rtol=0, atol=1e-10)
    surv = wrapper.predict_survival_function(X[test], return_array=True)
    times = wrapper.unique_times_
    np.testing.assert_array_equal(times, np.unique(y["time"][train][y["event"][train]]))
    np.testing.assert_allclose(surv, _raw_curves(raw, z_test, times), rtol=0, atol=1e-10)
    assert np.all(np.diff(surv, axis=1) <= 1e-12) and np.all((surv >= 0) & (surv <= 1))


def test_coxnet_refit_equals_raw_at_chosen_alpha(xy):
    X, y = xy
    model = CoxnetBaseline(l1_ratio=0.9, n_alphas=10, cv=3, random_state=0).fit(X, y)
    assert model.alpha_ > 0
    raw = CoxnetSurvivalAnalysis(l1_ratio=0.9, alphas=[model.alpha_], fit_baseline_model=True, max_iter=20000)
    raw.fit(_standardised(X), y)
    np.testing.assert_allclose(model.predict(X), raw.predict(_standardised(X)), rtol=0, atol=1e-10)
    with pytest.raises(ConfigError, match="l1_ratio"):
        CoxnetBaseline(l1_ratio=0.0).fit(X, y)


def test_cross_val_score_with_ibs_scorer_and_errors(xy):
    X, y = xy
    times = np.quantile(y["time"][y["event"]], np.linspace(0.1, 0.7, 8))
    scorer = as_integrated_brier_score_scorer(CoxPHBaseline(), times=times)
    scores = cross_val_score(scorer, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert np.all((scores < 0) & (scores > -0.25))  # negated IBS; a useless model scores about -0.25
    with pytest.raises(ModelError, match="features"):
        CoxPHBaseline().fit(X, y).predict(X[:, :-1])
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_baseline("svm")
    assert isinstance(make_baseline("rsf", n_estimators=5), RSFBaseline)
