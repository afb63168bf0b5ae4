"""TreatmentEffectNet on real cohorts: counterfactual curves, determinism, ensembles, persistence, IHDP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncoplan.data.sources.ihdp import ate_error, load_ihdp, pehe
from oncoplan.errors import CohortError, ModelError
from oncoplan.models.arms import encode_arms
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.preprocess.tabular import TabularPreprocessor
from tests.conftest import SHARED_DATA

SMALL = {"n_ensemble": 3, "max_epochs": 6, "patience": 3, "hidden": (16,), "head_hidden": (8,), "n_cuts": 10}
requires_ihdp = pytest.mark.skipif(not (SHARED_DATA / "ihdp").is_dir(), reason="shared IHDP data absent")


def _design(cohort):
    frame = cohort.features(include_treatment=False)
    numeric, categorical = cohort.feature_types(include_treatment=False)
    return TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)


@pytest.fixture(scope="module")
def colon_xy(colon):
    return _design(colon), colon.y, colon.treatment.to_numpy()


@pytest.fixture(scope="module")
def colon_net(colon_xy):
    X, y, a = colon_xy
    return TreatmentEffectNet(**SMALL, random_state=3).fit(X, y, a)


def test_counterfactual_curves_shape_and_monotone(colon_net, colon_xy):
    X, _, _ = colon_xy
    surv = colon_net.predict_counterfactual(X[:50])
    assert surv.shape == (3, 50, 3, len(colon_net.times_))
    assert colon_net.arms_ == ["Lev", "Lev+5FU", "Obs"]
    assert np.all((surv >= 0) & (surv <= 1))
    assert np.all(np.diff(surv, axis=-1) <= 1e-12)
    # curves on a custom grid agree with the default grid at shared points
    grid = colon_net.times_[::7]
    np.testing.assert_allclose(colon_net.predict_counterfactual(X[:50], grid), surv[..., ::7], atol=1e-12)


def test_ensemble_spread_and_rmst_intervals(colon_net, colon_xy):
    X, _, _ = colon_xy
    surv = colon_net.predict_counterfactual(X[:100])
    assert surv.std(axis=0).max() > 1e-3  # members differ
    rmst = colon_net.predict_rmst(X[:100], tau=1826.0)
    assert rmst.samples.shape == (3, 100, 3)
    assert np.all(rmst.low <= rmst.mean + 1e-9) and np.all(rmst.mean <= rmst.high + 1e-9)
    assert np.all(rmst.high - rmst.low > 0)
    assert np.all((rmst.samples > 0) & (rmst.samples <= 1826.0 + 1e-9))
    mean_curve = colon_net.predict_survival_function(X[:5], "Obs", return_array=True)
    np.testing.assert_allclose(mean_curve, surv[:, :5, 2].mean(axis=0))


def test_same_seed_identical_other_seed_differs(colon_xy, colon_net):
    X, y, a = colon_xy
    again = TreatmentEffectNet(**SMALL, random_state=3).fit(X, y, a)
    np.testing.assert_array_equal(
        again.predict_counterfactual(X[:30]), colon_net.predict_counterfactual(X[:30])
    )
    other = TreatmentEffectNet(**SMALL, random_state=4).fit(X, y, a)
    assert (
        np.abs(other.predict_counterfactual(X[:30]) - colon_net.predict_counterfactual(X[:30])).max() > 1e-4
    )


def test_export_import_round_trip_identical(colon_net, colon_xy):
    X, _, _ = colon_xy
    state, tensors = colon_net.export_state()
    clone = TreatmentEffectNet.from_exported_state(state, {k: v.clone() for k, v in tensors.items()})
    np.testing.assert_array_equal(clone.predict_counterfactual(X), colon_net.predict_counterfactual(X))
    np.testing.assert_array_equal(clone.predict_propensity(X), colon_net.predict_propensity(X))
    np.testing.assert_array_equal(clone.ood_score(X), colon_net.ood_score(X))
    assert clone.arms_ == colon_net.arms_ and clone.ood_threshold_ == colon_net.ood_threshold_


def test_unknown_arm_is_model_error(colon_net, colon_xy):
    X, _, _ = colon_xy
    with pytest.raises(ModelError, match="not trained on arm 'Surgery'"):
        colon_net.predict_survival_function(X[:2], "Surgery")
    with pytest.raises(ModelError):
        colon_net.arm_index(3)
    assert colon_net.arm_index("Obs") == 2 and colon_net.arm_index(0) == 0


def test_propensity_head_is_a_distribution_and_learns_confounded_assignment():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    a = np.where(rng.random(600) < 1 / (1 + np.exp(-3 * X[:, 0])), "B", "A")
    y = X[:, 1] + (a == "B") + rng.normal(scale=0.1, size=600)
    net = TreatmentEffectNet(outcome="continuous", n_ensemble=2, max_epochs=60, hidden=(16,), random_state=0)
    prop = net.fit(X, y, a).predict_propensity(X)
    np.testing.assert_allclose(prop.sum(axis=1), 1.0, atol=1e-6)
    assert np.corrcoef(prop[:, 1], X[:, 0])[0, 1] > 0.8


def test_ood_flags_extreme_patients(colon_net, colon_xy):
    X, _, _ = colon_xy
    assert colon_net.is_ood(X).mean() <= 0.01  # training quantile 0.995
    far = X[:3] + 25.0
    assert colon_net.is_ood(far).all()
    assert np.all(colon_net.ood_score(far) > colon_net.ood_score(X[:3]))


def test_bad_inputs_raise_clear_errors(colon_xy):
    X, y, a = colon_xy
    net = TreatmentEffectNet(**SMALL)
    missing = a.astype(object).copy()
    missing[[4, 9]] = None
    with pytest.raises(CohortError, match="treatment is missing in rows 5, 10"):
        net.fit(X, y, missing)
    lonely = a.copy()
    lonely[0] = "Surgery"
    with pytest.raises(ModelError, match="fewer than 2 training patients"):
        net.fit(X, y, lonely)
    with pytest.raises(ModelError, match="at least two arms"):
        net.fit(X, y, np.full(len(a), "Obs"))
    fitted = TreatmentEffectNet(**{**SMALL, "n_ensemble": 1, "max_epochs": 1}).fit(X, y, a)
    with pytest.raises(ModelError, match="features"):
        fitted.predict_counterfactual(X[:, :3])
    with pytest.raises(ModelError, match="RMST"):
        TreatmentEffectNet(outcome="continuous").predict_rmst(X, 10.0)


def test_encode_arms_respects_given_order():
    assert encode_arms(["b", "a"], ["b", "a"])[1].tolist() == [0, 1]
    with pytest.raises(CohortError, match="outside"):
        encode_arms(["b", "c"], ["a", "b"])


def test_bootstrap_members_use_different_patients(colon_xy):
    X, y, a = colon_xy
    params = {**SMALL, "n_ensemble": 2, "bootstrap": True}
    net = TreatmentEffectNet(**params, random_state=1)
    rows = [net._member_rows(np.zeros(len(a)), encode_arms(a, None)[1], s)[0] for s in (1, 1001)]
    assert not np.array_equal(rows[0], rows[1])
    net.fit(X, y, a)
    assert len(net.networks_) == 2


# ----------------------------------------------------------------------------- IHDP (shared data)
@requires_ihdp
def test_continuous_head_on_ihdp_beats_the_naive_effect():
    rep = load_ihdp(1, root=SHARED_DATA)
    X = rep.X.to_numpy()
    torch.manual_seed(0)
    net = TreatmentEffectNet(
        outcome="continuous", n_ensemble=2, max_epochs=60, patience=20, random_state=0
    ).fit(X, rep.y_factual, rep.treatment, arms=["0", "1"])
    mu = net.predict_counterfactual(X)
    assert mu.shape == (2, rep.n, 2)
    effect = net.predict_effect(X, "1", "0")
    naive = np.full(
        rep.n, rep.y_factual[rep.treatment == 1].mean() - rep.y_factual[rep.treatment == 0].mean()
    )
    assert pehe(rep.true_effect, effect) < 0.6 * pehe(rep.true_effect, naive)
    assert ate_error(rep.true_effect, effect) < 0.5
    # factual predictions track the observed outcome on the raw scale
    factual = mu.mean(axis=0)[np.arange(rep.n), rep.treatment]
    assert np.corrcoef(factual, rep.y_factual)[0, 1] > 0.8


@requires_ihdp
def test_binary_head_on_ihdp_gives_probabilities():
    rep = load_ihdp(2, root=SHARED_DATA)
    X = rep.X.to_numpy()
    y = (rep.y_factual > np.median(rep.y_factual)).astype(float)
    net = TreatmentEffectNet(outcome="binary", n_ensemble=2, max_epochs=40, random_state=0)
    prob = net.fit(X, y, rep.treatment, arms=["0", "1"]).predict_counterfactual(X)
    assert prob.shape == (2, rep.n, 2) and np.all((prob > 0) & (prob < 1))
    factual = prob.mean(axis=0)[np.arange(rep.n), rep.treatment]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, factual) > 0.75
    with pytest.raises(ModelError, match="0/1"):
        TreatmentEffectNet(outcome="binary").fit(X, rep.y_factual, rep.treatment)
