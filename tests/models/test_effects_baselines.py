"""T- and S-learner baselines reproduce the raw scikit-survival estimators they wrap (GBSG2, real data)."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.datasets import load_gbsg2
from sksurv.ensemble import RandomSurvivalForest
from sksurv.linear_model import CoxPHSurvivalAnalysis

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.effects_baselines import SLearnerSurvival, TLearnerSurvival, make_base
from oncoplan.recommend.rmst import rmst_from_curves


@pytest.fixture(scope="module")
def gbsg():
    raw, y = load_gbsg2()
    arm = raw["horTh"].astype(str).to_numpy()
    num = raw[["age", "estrec", "pnodes", "progrec", "tsize"]].astype(float)
    num = (num - num.mean()) / num.std()
    X = np.column_stack([num.to_numpy(), (raw["menostat"] == "Post").astype(float)])
    return X, y, arm


def _raw_curves(model, X, times):
    fns = model.predict_survival_function(X)
    return np.stack([fn(times) for fn in fns])


def test_t_learner_cox_matches_raw_coxph(gbsg):
    X, y, arm = gbsg
    t = TLearnerSurvival("cox").fit(X, y, arm)
    assert t.arms_ == ["no", "yes"]
    times = np.quantile(y["time"], [0.1, 0.3, 0.5, 0.7])
    pred = t.predict_counterfactual(X[:40], times)
    assert pred.shape == (1, 40, 2, 4)
    for k, a in enumerate(t.arms_):
        raw = CoxPHSurvivalAnalysis(alpha=1e-2, ties="efron").fit(X[arm == a], y[arm == a])
        np.testing.assert_allclose(pred[0, :, k], _raw_curves(raw, X[:40], times), rtol=1e-10, atol=1e-12)


def test_t_learner_rsf_matches_raw_forest(gbsg):
    X, y, arm = gbsg
    t = TLearnerSurvival("rsf", n_estimators=20, random_state=5).fit(X, y, arm)
    times = np.quantile(y["time"][y["cens"]], [0.2, 0.6])
    pred = t.predict_counterfactual(X[:30], times)
    for k, a in enumerate(t.arms_):
        raw = RandomSurvivalForest(
            n_estimators=20, min_samples_leaf=15, max_features="sqrt", n_jobs=1, random_state=5 + k
        ).fit(X[arm == a], y[arm == a])
        np.testing.assert_allclose(pred[0, :, k], _raw_curves(raw, X[:30], times), rtol=1e-10)


def test_s_learner_cox_with_interactions_matches_raw_coxph(gbsg):
    X, y, arm = gbsg
    s = SLearnerSurvival("cox").fit(X, y, arm)
    dummy = (arm == "yes").astype(float)[:, None]
    design = np.hstack([X, dummy, X * dummy])
    raw = CoxPHSurvivalAnalysis(alpha=1e-2, ties="efron").fit(design, y)
    times = np.quantile(y["time"], [0.25, 0.5])
    pred = s.predict_counterfactual(X[:25], times)
    for k in (0, 1):
        d = np.full((25, 1), float(k))
        expected = _raw_curves(raw, np.hstack([X[:25], d, X[:25] * d]), times)
        np.testing.assert_allclose(pred[0, :, k], expected, rtol=1e-10, atol=1e-12)
    # the interaction terms make the hazard ratio differ between patients
    hr = np.log(-np.log(pred[0, :, 1, 1])) - np.log(-np.log(pred[0, :, 0, 1]))
    assert hr.std() > 1e-3


def test_rmst_of_baselines_uses_their_event_grid(gbsg):
    X, y, arm = gbsg
    t = TLearnerSurvival("cox").fit(X, y, arm)
    rmst = t.predict_rmst(X[:10], tau=1826.0)
    curves = t.predict_counterfactual(X[:10])
    np.testing.assert_allclose(rmst.mean, rmst_from_curves(curves[0], t.times_, 1826.0))


def test_baseline_errors(gbsg):
    X, y, arm = gbsg
    with pytest.raises(ConfigError, match="base must be one of"):
        make_base("xgb")
    with pytest.raises(ModelError, match="no training patients"):
        TLearnerSurvival("cox").fit(X, y, arm, arms=["no", "yes", "chemo"])
    fitted = TLearnerSurvival("cox").fit(X, y, arm)
    with pytest.raises(ModelError, match="features"):
        fitted.predict_counterfactual(X[:, :2])
