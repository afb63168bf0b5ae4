"""Anchoring the effect network's arm averages to each arm's (weighted) Kaplan-Meier curve (lifelines)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.exceptions import StatisticalWarning
from sksurv.util import Surv

from oncoplan.errors import ModelError
from oncoplan.models.arms import encode_arms
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.models.effects_anchor import POWER_BOUNDS, anchor_powers, anchor_targets, apply_anchor
from oncoplan.preprocess.tabular import TabularPreprocessor

SMALL = {"max_epochs": 5, "patience": 3, "hidden": (16,), "head_hidden": (8,), "n_cuts": 10}


def _design(cohort):
    frame = cohort.features(include_treatment=False)
    numeric, categorical = cohort.feature_types(include_treatment=False)
    return TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)


def _km(time, event, grid, weights=None):
    with warnings.catch_warnings():  # lifelines warns about non-integer weights (its variance only)
        warnings.simplefilter("ignore", StatisticalWarning)
        fitter = KaplanMeierFitter().fit(time, event, weights=weights)
    return fitter.survival_function_at_times(grid).to_numpy()


def test_powers_reach_the_target_mean():
    rng = np.random.default_rng(0)
    curves = np.sort(rng.uniform(0.05, 1.0, size=(40, 12)), axis=1)[:, ::-1]
    target = np.sort(rng.uniform(0.1, 0.95, size=12))[::-1]
    powers = anchor_powers(curves, target)
    np.testing.assert_allclose((curves**powers).mean(axis=0), target, atol=1e-9)
    # the order of patients at each time is kept
    assert (np.argsort(curves, axis=0) == np.argsort(curves**powers, axis=0)).all()


def test_powers_where_nothing_happens():
    curves = np.array([[1.0, 0.99, 0.9], [1.0, 0.98, 0.7]])
    powers = anchor_powers(curves, np.array([1.0, 1.0, 0.8]))
    assert powers[0] == 1.0  # every curve is 1: nothing to anchor
    assert powers[1] == POWER_BOUNDS[0]  # no event yet in the data: pulled as close to 1 as allowed


def test_apply_anchor_is_monotone_on_any_grid():
    curves = np.array([[[1.0, 0.9, 0.8, 0.7]]])
    powers = np.array([[1.0, 3.0, 0.5, 1.0]])
    out = apply_anchor(curves, powers, np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    assert np.all(np.diff(out, axis=-1) <= 0)


def test_targets_centre_on_the_full_data_curve():
    rng = np.random.default_rng(1)
    n = 300
    time, event = rng.exponential(5.0, n), rng.random(n) < 0.7
    codes = (rng.random(n) < 0.5).astype(int)
    grid = np.linspace(0, 10, 30)
    members = [np.sort(rng.choice(n, n)) for _ in range(4)]
    targets = anchor_targets(time, event, codes, members, grid, 2)
    for k in range(2):
        full = _km(time[codes == k], event[codes == k], grid)
        # exact up to the clipping to [0, 1] and the monotone repair of each member's target
        np.testing.assert_allclose(targets[:, k].mean(axis=0), full, atol=5e-3)
        assert np.all(np.diff(targets[:, k], axis=-1) <= 0)
    assert targets[:, 0].std(axis=0).max() > 0.01  # members keep their resampling spread
    single = anchor_targets(time, event, codes, members[:1], grid, 2)
    np.testing.assert_allclose(single[0, 1], _km(time[codes == 1], event[codes == 1], grid), atol=1e-12)


def test_weighted_targets_match_lifelines_weighted_km():
    rng = np.random.default_rng(2)
    n = 200
    time, event = rng.exponential(5.0, n), rng.random(n) < 0.7
    codes, w = (rng.random(n) < 0.5).astype(int), rng.uniform(0.5, 3.0, n)
    grid = np.linspace(0, 10, 25)
    targets = anchor_targets(time, event, codes, [np.arange(n)], grid, 2, weights=w)
    rows = codes == 1
    np.testing.assert_allclose(targets[0, 1], _km(time[rows], event[rows], grid, w[rows]), atol=1e-12)


def test_fitted_network_averages_equal_each_arms_km(colon):
    """One member on all rows: its mean curve per arm over the training patients is that arm's KM curve."""
    X, a = _design(colon), colon.treatment.to_numpy()
    trained = {**SMALL, "max_epochs": 40, "patience": 40}  # S(0) near 1, so every power is reachable
    net = TreatmentEffectNet(**trained, n_ensemble=1, validation_fraction=0.0, random_state=0)
    net.fit(X, colon.y, a)
    surv = net.predict_counterfactual(X)[0]
    _, codes = encode_arms(a, net.arms_)
    inside = net.times_ <= np.quantile(colon.time, 0.9)
    for k in range(len(net.arms_)):
        km = _km(colon.time[codes == k], colon.event[codes == k], net.times_)
        # before the arm's first event (KM = 1) the lower power bound leaves S within 5e-3 of 1; after it
        # the match is exact except where a patient's anchored curve had to be made non-increasing
        np.testing.assert_allclose(surv[:, k, inside].mean(axis=0), km[inside], atol=1e-2)
        early = inside & (net.times_ <= np.median(colon.time))
        np.testing.assert_allclose(surv[:, k, early].mean(axis=0), km[early], atol=5e-3)
    raw = TreatmentEffectNet(**trained, n_ensemble=1, validation_fraction=0.0, random_state=0, anchor="none")
    raw_surv = raw.fit(X, colon.y, a).predict_counterfactual(X)[0]
    assert np.abs(raw_surv.mean(axis=0) - surv.mean(axis=0)).max() > 1e-3  # anchoring did something


def test_anchor_survives_export_and_bad_values_fail(colon):
    X, a = _design(colon)[:300], colon.treatment.to_numpy()[:300]
    y = colon.y[:300]
    net = TreatmentEffectNet(**SMALL, n_ensemble=2, bootstrap=True, random_state=1).fit(X, y, a)
    state, tensors = net.export_state()
    clone = TreatmentEffectNet.from_exported_state(state, tensors)
    np.testing.assert_array_equal(clone.predict_counterfactual(X), net.predict_counterfactual(X))
    with pytest.raises(ModelError, match="anchor"):
        TreatmentEffectNet(**SMALL, anchor="cox").fit(X, Surv.from_arrays(y["event"], y["time"]), a)


def test_auto_anchors_randomised_arms_only():
    """auto: anchored when the covariates do not predict the arm; left alone under confounding."""
    rng = np.random.default_rng(4)
    n = 400
    X = rng.normal(size=(n, 3))
    t = rng.exponential(np.exp(0.5 * X[:, 1]) * 5.0)
    y = Surv.from_arrays(rng.random(n) < 0.8, t)
    randomised = np.where(rng.random(n) < 0.5, "A", "B")
    confounded = np.where(rng.random(n) < 1 / (1 + np.exp(-2.5 * X[:, 0])), "A", "B")
    small = {**SMALL, "n_ensemble": 1}
    assert TreatmentEffectNet(**small).fit(X, y, randomised).anchored_
    auto = TreatmentEffectNet(**small).fit(X, y, confounded)
    assert not auto.anchored_ and auto.anchor_powers_ is None
    forced = TreatmentEffectNet(**small, anchor="km").fit(X, y, confounded)
    assert forced.anchored_ and forced.anchor_powers_.shape[:2] == (1, 2)


def test_declared_randomisation_anchors_to_plain_km_whatever_the_covariates_say():
    rng = np.random.default_rng(5)
    n = 400
    X = rng.normal(size=(n, 3))
    y = Surv.from_arrays(rng.random(n) < 0.8, rng.exponential(np.exp(0.5 * X[:, 1]) * 5.0))
    looks_confounded = np.where(rng.random(n) < 1 / (1 + np.exp(-2.5 * X[:, 0])), "A", "B")
    small = {**SMALL, "n_ensemble": 1, "validation_fraction": 0.0}
    trial = TreatmentEffectNet(**small, anchor="randomised").fit(X, y, looks_confounded)
    weighted = TreatmentEffectNet(**small, anchor="km").fit(X, y, looks_confounded)
    assert trial.anchored_ and weighted.anchored_
    assert not np.allclose(trial.anchor_powers_, weighted.anchor_powers_)  # plain vs IPW Kaplan-Meier
    surv = trial.predict_counterfactual(X)[0]
    _, codes = encode_arms(looks_confounded, trial.arms_)
    grid = trial.times_[trial.times_ <= np.median(y["time"])]
    for k in range(2):
        plain = _km(y["time"][codes == k], y["event"][codes == k], grid)
        np.testing.assert_allclose(surv[:, k, : len(grid)].mean(axis=0), plain, atol=1e-2)
