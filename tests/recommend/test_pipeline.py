"""Effect-model bundles, recommendations with abstentions, cross-fitting and the treatment demo (colon)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from oncoplan.errors import ModelError
from oncoplan.recommend import crossfit_policy
from oncoplan.recommend.abstain import Abstention, AbstentionReason
from oncoplan.recommend.crossfit_policy import cross_fitted_policy, evaluate_cross_fitted
from oncoplan.recommend.pipeline import (
    predict_counterfactuals,
    recommend_patients,
    train_effect_model,
)
from oncoplan.recommend.pipeline_demo import QUICK_PARAMS, run_treatment_demo
from oncoplan.recommend.ranking import Recommendation
from oncoplan.store.bundle import ModelBundle

PARAMS = {**QUICK_PARAMS, "n_ensemble": 4, "max_epochs": 8, "hidden": (16,)}


@pytest.fixture(scope="module")
def bundle(colon):
    return train_effect_model(colon, np.arange(0, colon.n_patients, 2), PARAMS, seed=1)


@pytest.fixture(scope="module")
def held_out(colon):
    return colon.subset(np.arange(1, colon.n_patients, 2)).features(include_treatment=False)


def test_bundle_metadata(bundle, colon):
    meta = bundle.metadata
    assert meta["kind"] == "treatment_effect" and meta["arms"] == colon.arms == ["Obs", "Lev", "Lev+5FU"]
    assert meta["tau"] == 1826.0 and meta["default_arm"] in meta["arms"]
    assert meta["train_patients"] == len(np.arange(0, colon.n_patients, 2))
    assert meta["default_arm"] == max(meta["mean_rmst_train"], key=meta["mean_rmst_train"].get)


def test_randomised_bundle_averages_follow_kaplan_meier(bundle, colon):
    """colon is randomised: the arm averages are anchored, so the default arm is the Kaplan-Meier best
    arm of the training patients and each mean RMST is close to that arm's KM RMST (lifelines)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    meta = bundle.metadata
    assert meta["anchored_to_kaplan_meier"]
    train = colon.subset(np.arange(0, colon.n_patients, 2))
    received = train.treatment.to_numpy()
    km = {
        arm: restricted_mean_survival_time(
            KaplanMeierFitter().fit(train.time[received == arm], train.event[received == arm]), t=meta["tau"]
        )
        for arm in meta["arms"]
    }
    assert meta["default_arm"] == max(km, key=km.get)
    for arm in meta["arms"]:  # members anchored to resamples, recentred on the full-data curve
        assert meta["mean_rmst_train"][arm] == pytest.approx(km[arm], rel=0.02)


def test_save_load_gives_identical_predictions(bundle, held_out, tmp_path):
    loaded = ModelBundle.load(bundle.save(tmp_path / "effect"))
    a = predict_counterfactuals(bundle, held_out)
    b = predict_counterfactuals(loaded, held_out)
    np.testing.assert_array_equal(a.survival, b.survival)
    np.testing.assert_array_equal(a.rmst.samples, b.rmst.samples)
    np.testing.assert_array_equal(a.propensity, b.propensity)
    np.testing.assert_array_equal(a.ood, b.ood)
    assert loaded.metadata["tau"] == bundle.metadata["tau"]
    assert json.loads((tmp_path / "effect" / "metadata.json").read_text())["kind"] == "treatment_effect"


def test_prediction_shapes_and_survival_at(bundle, held_out):
    pred = predict_counterfactuals(bundle, held_out.head(7))
    assert pred.survival.shape[:3] == (4, 7, 3)
    assert pred.rmst.samples.shape == (4, 7, 3) and pred.propensity.shape == (7, 3)
    at = pred.survival_at(365.25)
    assert list(at.columns) == pred.arms and at.shape == (7, 3)
    assert np.all((at.to_numpy() > 0) & (at.to_numpy() <= 1))


def test_recommendations_are_consistent_with_their_intervals(bundle, held_out):
    results, pred = recommend_patients(bundle, held_out, overlap_band=(0.0, 1.0))
    assert len(results) == len(held_out)
    kinds = {type(r) for r in results}
    assert kinds == {Recommendation, Abstention}  # both outcomes occur on 464 patients
    for i, r in enumerate(results):
        best, nxt = r.ranking[0].arm, r.ranking[1].arm
        samples = pred.rmst.samples[:, i, :]
        gain = samples[:, pred.arms.index(best)] - samples[:, pred.arms.index(nxt)]
        low, high = np.quantile(gain, [0.05, 0.95])
        if isinstance(r, Recommendation):
            assert r.best_arm == best and low > 0
            assert r.gain_vs_next.low == pytest.approx(low)
        else:
            assert r.reason in (AbstentionReason.UNCERTAIN_GAIN, AbstentionReason.OUT_OF_DISTRIBUTION)
            if r.reason == AbstentionReason.UNCERTAIN_GAIN:
                assert low <= 0 <= high and "contains 0" in r.detail


def test_abstains_outside_the_overlap_band(bundle, held_out):
    results, pred = recommend_patients(bundle, held_out.head(20), overlap_band=(0.6, 0.99))
    assert np.all(pred.propensity < 0.6)  # a randomised 3-arm trial: nobody is that predictable
    assert all(r.reason == AbstentionReason.POOR_OVERLAP for r in results)
    assert "outside the overlap band [0.6, 0.99]" in results[0].detail


def test_out_of_distribution_patients_abstain(bundle, held_out):
    frame = held_out.head(4).copy()
    frame.loc[frame.index[:2], "age"] = 140.0
    frame.loc[frame.index[:2], "nodes"] = 60.0
    results, pred = recommend_patients(bundle, frame)
    assert pred.ood[:2].all() and not pred.ood[2:].any()
    assert [r.reason for r in results[:2]] == [AbstentionReason.OUT_OF_DISTRIBUTION] * 2
    assert all(not isinstance(r, Abstention) or r.reason != "out_of_distribution" for r in results[2:])


def test_arm_absent_from_training_is_never_recommended(colon, held_out):
    rows = np.flatnonzero(colon.treatment.to_numpy() != "Lev")[::2]
    bundle = train_effect_model(colon, rows, PARAMS, seed=0)
    assert bundle.metadata["arms"] == ["Obs", "Lev+5FU"]
    results, pred = recommend_patients(bundle, held_out, overlap_band=(0.0, 1.0))
    assert pred.arms == ["Obs", "Lev+5FU"]
    assert all("Lev" not in [x.arm for x in r.ranking] for r in results)
    assert {r.best_arm for r in results if r.recommended} <= {"Lev+5FU", "Obs"}
    with pytest.raises(ModelError, match="not trained on arm 'Lev'"):
        recommend_patients(bundle, held_out.head(2), requested_arms=["Lev", "Obs"])


def test_cross_fitting_never_scores_a_patient_with_a_model_trained_on_it(colon, monkeypatch):
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = crossfit_policy._net_fit_predict

    def spy(cohort, tr, te, params, seed):
        seen.append((tr.copy(), te.copy()))
        return original(cohort, tr, te, params, seed)

    monkeypatch.setattr(crossfit_policy, "_net_fit_predict", spy)
    result = cross_fitted_policy(colon, 1826.0, {**PARAMS, "n_ensemble": 2, "max_epochs": 2}, n_folds=3)
    assert len(seen) == 3
    scored = np.concatenate([te for _, te in seen])
    assert sorted(scored.tolist()) == list(range(colon.n_patients))  # each patient scored exactly once
    for tr, te in seen:
        assert np.intersect1d(tr, te).size == 0
        assert np.all(result.folds[te] == result.folds[te[0]]) and not np.any(
            result.folds[tr] == result.folds[te[0]]
        )
    assert set(result.recommended) <= set(colon.arms)
    assert result.survival_mean.shape[:2] == (colon.n_patients, 3)


def test_cross_fitting_would_expose_a_memorising_model(colon):
    """A model that can only score patients it was trained on fails loudly under cross-fitting."""
    times = np.array([100.0, 1000.0, 2000.0])

    def memoriser(tr, te):  # perfect survival for patients it was trained on, 0.5 for the others
        curves = np.full((2, len(tr), 3, 3), 0.5)
        s_te = np.where(np.isin(te, tr)[None, :, None, None], 1.0, 0.5) * np.ones((2, len(te), 3, 3))
        return curves, s_te, np.full((len(te), 3), 1 / 3), np.zeros(len(te), bool), times, list(colon.arms)

    result = cross_fitted_policy(colon, 1826.0, n_folds=4, fit_predict=memoriser)
    assert np.all(result.survival_mean == 0.5)  # never saw a training patient among the scored ones
    assert result.abstained.all() and set(result.reasons) == {"uncertain_gain"}
    assert set(result.recommended) == {result.default_arms[0]}


def test_evaluate_cross_fitted_table(colon):
    times = np.array([200.0, 900.0, 1900.0])

    def always_lev5fu(tr, te):
        s = np.ones((3, len(te), 3, 3)) * np.array([0.9, 0.7, 0.5])
        s[:, :, 2] = np.array([0.95, 0.85, 0.7])  # Lev+5FU (third arm) best by a wide margin
        s_tr = np.ones((3, len(tr), 3, 3)) * np.array([0.9, 0.7, 0.5])
        s_tr[:, :, 2] = np.array([0.95, 0.85, 0.7])
        return s_tr, s, np.full((len(te), 3), 1 / 3), np.zeros(len(te), bool), times, list(colon.arms)

    result = cross_fitted_policy(colon, 1826.0, n_folds=5, fit_predict=always_lev5fu)
    assert set(result.recommended) == {"Lev+5FU"} and not result.abstained.any()
    table = evaluate_cross_fitted(colon, result, 1826.0, n_boot=20)
    ipw = table[table["estimator"] == "ipw_km"].set_index("policy")["value"]
    # recommending Lev+5FU to everyone is the treat-all-Lev+5FU policy
    assert ipw["recommended"] == pytest.approx(ipw["treat_all:Lev+5FU"])
    assert ipw["recommended"] > ipw["treat_all:Obs"]


def test_run_treatment_demo_quick_writes_outputs(colon, tmp_path):
    lines, payload = run_treatment_demo(colon, tmp_path, quick=True, seed=0)
    for name in ("recommendations.csv", "policy_evaluation.csv", "treatment_demo.json"):
        assert (tmp_path / name).is_file()
    assert (tmp_path / "effect_model" / "model.json").is_file()
    assert payload["tau"] == 1826.0 and len(payload["recommendations"]) == 5
    assert any(line.startswith("Policy evaluation") for line in lines)
    assert json.loads((tmp_path / "treatment_demo.json").read_text())["cohort"] == payload["cohort"]
    loaded = ModelBundle.load(tmp_path / "effect_model")
    assert loaded.metadata["arms"] == ["Obs", "Lev", "Lev+5FU"]


def test_toxicity_penalty_shifts_the_ranking(bundle, held_out):
    plain, pred = recommend_patients(bundle, held_out.head(30), overlap_band=(0.0, 1.0))
    top = plain[0].ranking[0].arm
    penalised, _ = recommend_patients(
        bundle, held_out.head(30), overlap_band=(0.0, 1.0), toxicity_penalty={top: 5000.0}
    )
    assert all(r.ranking[-1].arm == top for r in penalised)
    i = pred.arms.index(top)
    assert penalised[0].ranking[-1].expected_value == pytest.approx(pred.rmst.mean[0, i] - 5000.0)


def _preferring(colon, preferred_of):
    """Stub recommender: every member agrees that arm ``preferred_of(rows)`` is best by a wide margin."""
    times = np.array([200.0, 900.0, 1900.0])

    def curves(rows):
        s = np.ones((3, len(rows), 3, 3)) * np.array([0.9, 0.6, 0.3])
        s[:, np.arange(len(rows)), preferred_of(rows)] = np.array([0.99, 0.97, 0.95])
        return s

    def fit_predict(tr, te):
        return (
            curves(tr),
            curves(te),
            np.full((len(te), 3), 1 / 3),
            np.zeros(len(te), bool),
            times,
            list(colon.arms),
        )

    return fit_predict


def test_inner_check_falls_back_to_treat_all_when_personalising_hurts(colon):
    # Obs (arm 0) for every third row, Lev+5FU (arm 2, the better arm in colon and the default) otherwise
    harmful = _preferring(colon, lambda rows: np.where(rows % 3 == 0, 0, 2))
    plain = cross_fitted_policy(colon, 1826.0, n_folds=3, fit_predict=harmful)
    assert set(plain.recommended) == {"Obs", "Lev+5FU"} and plain.personalized == [True] * 3
    checked = cross_fitted_policy(colon, 1826.0, n_folds=3, fit_predict=harmful, inner_check=2)
    assert checked.personalized == [False] * 3
    assert set(checked.recommended) == set(checked.default_arms) and not checked.abstained.any()


def test_inner_check_keeps_a_policy_that_pays_on_the_training_part(colon):
    # a stub that peeks at outcomes (for the test only): survivors past tau get the arm they received
    received = np.array([colon.arms.index(a) for a in colon.treatment.to_numpy()])
    long = colon.time > 1826.0

    def peek(rows):
        return np.where(long[rows], received[rows], (received[rows] + 1) % 3)

    checked = cross_fitted_policy(
        colon, 1826.0, n_folds=3, fit_predict=_preferring(colon, peek), inner_check=2
    )
    assert checked.personalized == [True] * 3
    assert len(set(checked.recommended)) == 3


def test_design_declared_in_the_spec_drives_settings_and_propensities(colon):
    from oncoplan.recommend.crossfit_policy import evaluation_propensity
    from oncoplan.recommend.pipeline import design_defaults

    assert design_defaults(colon) == {"ipw": "none", "anchor": "randomised"}
    freq = np.bincount(pd.Categorical(colon.treatment, categories=colon.arms).codes) / colon.n_patients
    np.testing.assert_allclose(evaluation_propensity(colon), np.tile(freq, (colon.n_patients, 1)))
    observational = dataclasses.replace(
        colon, spec=colon.spec.model_copy(update={"assignment": "observational"})
    )
    assert design_defaults(observational) == {"anchor": "none"}
    assert evaluation_propensity(observational).std(axis=0).max() > 0  # fitted, patient by patient
