"""Inverse-propensity re-weighting of the factual loss in TreatmentEffectNet (CFR re-weighting)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sksurv.util import Surv

from oncoplan.errors import ModelError
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.models.effects_net import EffectLoss, EffectNetwork
from oncoplan.models.time_grid import TimeGrid
from oncoplan.preprocess.tabular import TabularPreprocessor

SMALL = {"n_ensemble": 2, "max_epochs": 4, "patience": 2, "hidden": (16,), "head_hidden": (8,), "n_cuts": 8}


def _confounded(n: int = 600, strength: float = 2.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    treated = rng.random(n) < 1 / (1 + np.exp(-strength * X[:, 0]))
    return X, np.where(treated, "B", "A")


def test_weights_follow_the_assignment_model():
    X, a = _confounded()
    codes = (a == "B").astype(np.int64)
    w = TreatmentEffectNet(ipw="logistic", ipw_clip=10.0)._ipw_weights(X, codes)
    assert w.shape == (len(a),) and w.mean() == pytest.approx(1.0)
    # in-sample logistic propensity (scikit-learn) as the reference: weights rise as e(received | x) falls
    ref = LogisticRegression(max_iter=2000).fit(X, codes).predict_proba(X)[np.arange(len(a)), codes]
    assert np.corrcoef(w, 1 / ref)[0, 1] > 0.9
    assert w.max() / w.min() <= 100.0 + 1e-9  # clipped to [1/10, 10] before normalising


def test_randomised_trial_stays_unweighted(colon):
    """In colon (randomised) the covariates do not predict the arm out of fold: no weights."""
    frame = colon.features(include_treatment=False)
    numeric, categorical = colon.feature_types(include_treatment=False)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)
    codes = np.array([colon.arms.index(v) for v in colon.treatment.to_numpy()])
    assert TreatmentEffectNet(ipw="logistic")._ipw_weights(X, codes) is None
    rng = np.random.default_rng(0)
    assert TreatmentEffectNet(ipw="logistic")._ipw_weights(rng.normal(size=(500, 4)), codes[:500]) is None


def test_no_weights_by_default_and_bad_setting_is_model_error():
    X, a = _confounded(100)
    codes = (a == "B").astype(np.int64)
    assert TreatmentEffectNet()._ipw_weights(X, codes) is None
    with pytest.raises(ModelError, match="ipw"):
        TreatmentEffectNet(ipw="overlap")._ipw_weights(X, codes)


def test_weighted_loss_is_the_weighted_mean_of_row_losses():
    rng = np.random.default_rng(1)
    time, event = rng.exponential(5.0, 40), rng.random(40) < 0.7
    grid = TimeGrid(n_cuts=6, scheme="quantiles").fit(time, event)
    net = EffectNetwork(3, 2, outcome="survival", hidden=(8,), head_hidden=(4,), grid=grid).eval()
    with torch.no_grad():
        packed = net(torch.as_tensor(rng.normal(size=(40, 3)), dtype=torch.float32))
    targets = {"arm": torch.as_tensor(rng.integers(0, 2, 40))}
    targets.update({f"s{i}": t for i, t in enumerate(net.survival_head.targets(time, event))})
    loss = EffectLoss(net, alpha=0.0, beta=0.0)
    plain = loss(packed, targets)
    assert float(loss(packed, {**targets, "w": torch.full((40,), 3.0)})) == pytest.approx(
        float(plain), rel=1e-6
    )
    keep = torch.zeros(40)
    keep[:10] = 1.0
    sub = {k: v[:10] for k, v in targets.items()}
    assert float(loss(packed, {**targets, "w": keep})) == pytest.approx(
        float(loss(packed[:10], sub)), rel=1e-5
    )


def test_fit_with_ipw_is_deterministic_and_stores_weights():
    X, a = _confounded(300)
    rng = np.random.default_rng(2)
    t = rng.exponential(np.where(a == "B", 2.0, 1.0) * np.exp(0.5 * X[:, 1]))
    y = Surv.from_arrays(rng.random(300) < 0.8, t)
    m1 = TreatmentEffectNet(**SMALL, ipw="logistic", random_state=0).fit(X, y, a)
    m2 = TreatmentEffectNet(**SMALL, ipw="logistic", random_state=0).fit(X, y, a)
    assert m1.ipw_weights_ is not None and len(m1.ipw_weights_) == 300
    np.testing.assert_array_equal(m1.predict_counterfactual(X[:20]), m2.predict_counterfactual(X[:20]))
    plain = TreatmentEffectNet(**SMALL, random_state=0).fit(X, y, a)
    assert not np.allclose(plain.predict_counterfactual(X[:20]), m1.predict_counterfactual(X[:20]))


def test_weights_equal_the_stabilised_formula():
    """w_i = P(A = a_i) / e_{a_i}(x_i), e out of fold (scikit-learn, same folds), clipped, mean 1."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, a = _confounded(strength=1.0)
    codes = (a == "B").astype(np.int64)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    e = cross_val_predict(clf, X, codes, cv=cv, method="predict_proba")[np.arange(len(codes)), codes]
    expected = np.clip(np.bincount(codes)[codes] / len(codes) / e, 0.1, 10.0)
    w = TreatmentEffectNet(ipw="logistic", ipw_clip=10.0, random_state=0)._ipw_weights(X, codes)
    np.testing.assert_allclose(w, expected / expected.mean(), rtol=1e-12)
