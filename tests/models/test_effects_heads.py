"""Every survival head of the engine as a per-arm head: Cox (shared Breslow baseline) and DeepHit on colon."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sksurv.linear_model.coxph import BreslowEstimator

from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.preprocess.tabular import TabularPreprocessor

SMALL = {"n_ensemble": 2, "max_epochs": 6, "patience": 3, "hidden": (16,), "head_hidden": (8,), "n_cuts": 10}


@pytest.fixture(scope="module")
def colon_xy(colon):
    frame = colon.features(include_treatment=False)
    numeric, categorical = colon.feature_types(include_treatment=False)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)
    return X, colon.y, colon.treatment.to_numpy()


def test_cox_head_curves_follow_a_breslow_baseline_of_the_factual_log_risks(colon_xy):
    X, y, a = colon_xy
    model = TreatmentEffectNet(
        **SMALL, head="cox", anchor="none", bootstrap=False, validation_fraction=0.0, random_state=0
    ).fit(X, y, a)  # every member trains on all rows: its baseline must be Breslow's on all of them
    codes = np.array([model.arms_.index(v) for v in a])
    net = model.networks_[1]
    with torch.no_grad():
        log_risk = net.split(net(torch.as_tensor(X, dtype=torch.float32)))[0][:, :, 0].double().numpy()
    event, time = y[y.dtype.names[0]], y[y.dtype.names[1]]
    reference = BreslowEstimator().fit(log_risk[np.arange(len(X)), codes], event, time)
    times = np.array([200.0, 800.0, 1500.0, 2500.0])
    survival = model.predict_counterfactual(X[:20], times)[1]  # member 1: (20, 3 arms, 4 times)
    for k in range(3):
        expected = np.stack([fn(times) for fn in reference.get_survival_function(log_risk[:20, k])])
        np.testing.assert_allclose(survival[:, k], expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("head", ["cox", "deephit"])
def test_cox_and_deephit_heads_fit_anchor_and_round_trip(colon_xy, head):
    X, y, a = colon_xy
    model = TreatmentEffectNet(**SMALL, head=head, anchor="randomised", random_state=1).fit(X, y, a)
    s = model.predict_counterfactual(X[:30])
    assert s.shape[:3] == (2, 30, 3) and s.min() >= 0 and s.max() <= 1
    assert np.all(np.diff(s, axis=-1) <= 1e-9)
    assert model.anchored_
    state, tensors = model.export_state()
    restored = TreatmentEffectNet.from_exported_state(state, tensors)
    np.testing.assert_array_equal(restored.predict_counterfactual(X[:30]), s)


def test_cox_head_with_inverse_propensity_weights_uses_a_weighted_breslow_baseline(gbsg2):
    """GBSG2's hormone therapy is predictable from the covariates: the logistic weights apply."""
    from oncoplan.models.heads.cox import breslow_baseline

    frame = gbsg2.features(include_treatment=False)
    numeric, categorical = gbsg2.feature_types(include_treatment=False)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)
    a = gbsg2.treatment.to_numpy()
    model = TreatmentEffectNet(
        **SMALL, head="cox", ipw="logistic", anchor="none", bootstrap=False, validation_fraction=0.0
    ).fit(X, gbsg2.y, a)
    assert model.ipw_weights_ is not None and model.ipw_weights_.std() > 0
    codes = np.array([model.arms_.index(v) for v in a])
    net = model.networks_[0]
    with torch.no_grad():
        log_risk = net.split(net(torch.as_tensor(X, dtype=torch.float32)))[0][:, :, 0].double().numpy()
    times, cum = breslow_baseline(
        log_risk[np.arange(len(X)), codes], gbsg2.time, gbsg2.event, model.ipw_weights_
    )
    np.testing.assert_allclose(net.arm_heads[1].baseline_cumhaz.numpy(), cum, rtol=1e-12)
    np.testing.assert_allclose(net.arm_heads[0].baseline_time.numpy(), times)


@pytest.mark.parametrize("head", ["cox", "deephit"])
def test_bundles_with_cox_and_deephit_heads_save_and_recommend_identically(colon, tmp_path, head):
    from oncoplan.recommend.pipeline import recommend_patients, train_effect_model
    from oncoplan.store.bundle import ModelBundle

    params = {**SMALL, "head": head}
    bundle = train_effect_model(colon, np.arange(0, colon.n_patients, 2), model_params=params)
    bundle.save(tmp_path / head)  # safetensors: the Cox heads' baselines must not share memory
    loaded = ModelBundle.load(tmp_path / head)
    frame = colon.features(include_treatment=False).iloc[1:40:2]
    _, before = recommend_patients(bundle, frame)
    _, after = recommend_patients(loaded, frame)
    np.testing.assert_array_equal(after.survival, before.survival)
