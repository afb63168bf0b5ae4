"""Policy evaluation for survival: reference checks against lifelines on real data, and recovery of known
policy values on semi-synthetic data with confounding."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from sksurv.datasets import load_gbsg2

from oncoplan.data.simulate.survival import load_covariates, simulate_survival
from oncoplan.errors import CohortError, ConfigError, ModelError
from oncoplan.evaluate.policy import (
    aipcw_rmst_pseudo_outcome,
    censoring_survival_before,
    cross_fit_folds,
    cross_fit_predict,
    evaluate_policies,
    ipcw_rmst_pseudo_outcome,
    km_rmst,
    policy_value_dr,
    policy_value_ipw,
    recommended_vs_not,
    weighted_kaplan_meier,
)


@pytest.fixture(scope="module")
def gbsg2_obs():
    x, y = load_gbsg2()
    arm = np.where(x["horTh"].astype(str) == "yes", "hormone", "none").astype(object)
    return y["time"].astype(float), y["cens"].astype(bool), arm


@pytest.fixture(scope="module")
def sim():
    cov = load_covariates("survset:rott2")
    return simulate_survival(cov.X, marker=cov.marker, confounding=1.0, n_patients=8000, seed=2)


def _lifelines_km(time, event, weights=None):
    kmf = KaplanMeierFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that weights are not integers
        kmf.fit(time, event, weights=weights)
    return kmf


@pytest.mark.parametrize("tau", [365.0, 1000.5, 1825.0, 2500.0])
def test_km_rmst_equals_lifelines(gbsg2_obs, tau):
    time, event, _ = gbsg2_obs
    expected = restricted_mean_survival_time(_lifelines_km(time, event), t=tau)
    assert km_rmst(time, event, tau) == pytest.approx(expected, abs=1e-8)


def test_weighted_km_equals_lifelines_weighted(gbsg2_obs):
    time, event, _ = gbsg2_obs
    w = np.random.default_rng(0).uniform(0.2, 5.0, size=len(time))
    kmf = _lifelines_km(time, event, w)
    grid, surv = weighted_kaplan_meier(time, event, w)
    np.testing.assert_allclose(grid, kmf.timeline, rtol=0, atol=0)
    np.testing.assert_allclose(surv, kmf.survival_function_.iloc[:, 0].to_numpy(), rtol=0, atol=1e-12)
    for tau in (500.0, 1825.0):
        expected = restricted_mean_survival_time(kmf, t=tau)
        assert km_rmst(time, event, tau, weights=w) == pytest.approx(expected, abs=1e-8)


def test_policy_value_ipw_equal_weights_is_plain_km(gbsg2_obs):
    time, event, arm = gbsg2_obs
    follow = arm == "hormone"
    p = np.full(len(time), 0.37)
    value = policy_value_ipw(time, event, arm, np.full(len(time), "hormone", dtype=object), p, 1825.0)
    expected = restricted_mean_survival_time(_lifelines_km(time[follow], event[follow]), t=1825.0)
    assert value == pytest.approx(expected, abs=1e-8)


def test_policy_value_ipw_is_lifelines_weighted_km_on_followers(gbsg2_obs):
    time, event, arm = gbsg2_obs
    rng = np.random.default_rng(1)
    rec = np.where(rng.random(len(time)) < 0.5, "hormone", "none").astype(object)
    p = rng.uniform(0.1, 0.9, size=len(time))
    follow = rec == arm
    kmf = _lifelines_km(time[follow], event[follow], 1.0 / p[follow])
    expected = restricted_mean_survival_time(kmf, t=1500.0)
    assert policy_value_ipw(time, event, arm, rec, p, 1500.0) == pytest.approx(expected, abs=1e-8)


def test_censoring_km_against_lifelines(gbsg2_obs):
    """Censoring KM with events preceding tied censorings = lifelines KM of censorings shifted just after."""
    time, event, _ = gbsg2_obs
    ut = np.unique(time)
    assert np.any(np.isin(ut, time[event]) & np.isin(ut, time[~event]))
    kmf = _lifelines_km(np.where(event, time, time + 1e-6), ~event)
    q = np.concatenate([[50.0], ut[::37], [2700.0]])
    expected = np.array([kmf.predict(t - 1e-7) for t in q])
    np.testing.assert_allclose(censoring_survival_before(time, event, q), expected, atol=1e-12)


def test_ipcw_pseudo_outcome_mean_is_km_rmst(gbsg2_obs):
    """Satten-Datta identity: the mean IPCW pseudo-outcome equals the KM RMST (also within strata)."""
    time, event, arm = gbsg2_obs
    tau = 1825.0
    assert ipcw_rmst_pseudo_outcome(time, event, tau).mean() == pytest.approx(
        km_rmst(time, event, tau), abs=1e-8
    )
    ps = ipcw_rmst_pseudo_outcome(time, event, tau, strata=arm)
    for level in ("hormone", "none"):
        m = arm == level
        assert ps[m].mean() == pytest.approx(km_rmst(time[m], event[m], tau), abs=1e-8)


def test_pseudo_outcomes_without_censoring_are_truncated_times():
    t = np.array([1.0, 3.0, 4.0, 9.0])
    grid = np.linspace(0, 10, 11)
    curves = np.exp(-grid / 5.0)[None, :].repeat(4, axis=0)
    expected = np.minimum(t, 5.0)
    np.testing.assert_allclose(ipcw_rmst_pseudo_outcome(t, np.ones(4, bool), 5.0), expected)
    np.testing.assert_allclose(aipcw_rmst_pseudo_outcome(t, np.ones(4, bool), 5.0, curves, grid), expected)


def test_dr_with_everyone_following_and_p_one_is_km(gbsg2_obs):
    time, event, _ = gbsg2_obs
    arm = np.full(len(time), "A", dtype=object)
    grid = np.linspace(0, 3000, 50)
    wrong = np.full((len(time), 1, len(grid)), 0.3)  # any outcome model cancels when p = 1 and all follow
    value = policy_value_dr(
        time,
        event,
        arm,
        arm,
        np.ones((len(time), 1)),
        wrong,
        grid,
        1825.0,
        ["A"],
        pseudo_outcome="ipcw",
        censoring_by_arm=False,
    )
    assert value == pytest.approx(km_rmst(time, event, 1825.0), abs=1e-8)


@pytest.mark.parametrize("arm", ["B", "C"])
def test_ipw_recovers_true_value_and_naive_does_not(sim, arm):
    n = len(sim.time)
    policy = np.full(n, arm, dtype=object)
    truth = sim.true_policy_value(policy)
    p_recv = sim.propensity[np.arange(n), sim.treatment_code]
    ipw = policy_value_ipw(sim.time, sim.event, sim.treatment, policy, p_recv, sim.tau)
    naive = policy_value_ipw(sim.time, sim.event, sim.treatment, policy, np.ones(n), sim.tau)
    assert abs(ipw - truth) < 35.0  # days, on an RMST(5y) near 1500 days
    assert abs(naive - truth) > 45.0  # ignoring the weights is biased under confounding
    assert abs(naive - truth) > 2.5 * abs(ipw - truth)


def _marginal_km_curves(sim):
    grid, surv = weighted_kaplan_meier(sim.time, sim.event)
    flat = surv[np.searchsorted(grid, sim.times, side="right") - 1]
    return np.broadcast_to(flat, (len(sim.time), len(sim.arms), len(sim.times)))


def test_dr_is_doubly_robust(sim):
    n = len(sim.time)
    policy = np.full(n, "B", dtype=object)
    truth = sim.true_policy_value(policy)
    wrong_mu, wrong_p = _marginal_km_curves(sim), np.full((n, 3), 1 / 3)

    def dr(curves, prop, **kw):
        return (
            policy_value_dr(
                sim.time, sim.event, sim.treatment, policy, prop, curves, sim.times, sim.tau, sim.arms, **kw
            )
            - truth
        )

    assert abs(dr(sim.true_survival, sim.propensity)) < 35.0
    assert abs(dr(sim.true_survival, sim.propensity, pseudo_outcome="ipcw")) < 60.0
    assert abs(dr(wrong_mu, sim.propensity)) < 35.0
    assert abs(dr(sim.true_survival, wrong_p)) < 35.0
    assert abs(dr(wrong_mu, wrong_p)) > 70.0  # both nuisance models wrong: confounded


def test_ipw_and_dr_recover_a_personalised_policy(sim):
    policy = np.where(sim.marker, "C", "B").astype(object)
    truth = sim.true_policy_value(policy)
    p_recv = sim.propensity[np.arange(len(sim.time)), sim.treatment_code]
    assert abs(policy_value_ipw(sim.time, sim.event, sim.treatment, policy, p_recv, sim.tau) - truth) < 35.0
    dr = policy_value_dr(
        sim.time,
        sim.event,
        sim.treatment,
        policy,
        sim.propensity,
        sim.true_survival,
        sim.times,
        sim.tau,
        sim.arms,
    )
    assert abs(dr - truth) < 35.0


def test_evaluate_policies_table(sim):
    idx = np.arange(0, len(sim.time), 4)  # 2000 patients keep the bootstrap quick
    t, e, a, p = sim.time[idx], sim.event[idx], sim.treatment[idx], sim.propensity[idx]
    rec = sim.oracle_arm[idx]
    kw = {"survival_pred": sim.true_survival[idx], "times": sim.times, "n_boot": 60, "seed": 3}
    df = evaluate_policies(t, e, a, rec, p, sim.arms, sim.tau, **kw)
    assert df.policy.tolist() == ["recommended"] * 2 + [f"treat_all:{k}" for k in "AABBCC"] + ["observed"]
    assert df.estimator.tolist() == ["ipw_km", "dr"] * 4 + ["km"]
    assert (df.ci_low <= df.value).all() and (df.value <= df.ci_high).all()
    assert df.loc[df.policy == "observed", "value"].item() == pytest.approx(km_rmst(t, e, sim.tau), abs=1e-8)
    row = df[(df.policy == "treat_all:B") & (df.estimator == "ipw_km")].iloc[0]
    p_recv = p[np.arange(len(t)), [sim.arms.index(x) for x in a]]
    assert row.value == pytest.approx(
        policy_value_ipw(t, e, a, np.full(len(t), "B", object), p_recv, sim.tau)
    )
    assert row.n_followers == int((a == "B").sum()) and 0 < row.ess <= row.n_followers
    assert set(df.attrs["overlap"]) >= {"share_any_outside", "warning"}
    again = evaluate_policies(t, e, a, rec, p, sim.arms, sim.tau, **kw)
    assert again.equals(df)  # seeded
    json.dumps(df.to_dict(orient="records"))


def test_abstentions_must_be_resolved_before_evaluation(sim):
    rec = sim.oracle_arm.copy()
    rec[[3, 8]] = None
    p_recv = sim.propensity[np.arange(len(rec)), sim.treatment_code]
    with pytest.raises(CohortError, match="rows 3, 8"):
        policy_value_ipw(sim.time, sim.event, sim.treatment, rec, p_recv, sim.tau)
    with pytest.raises(CohortError, match="fallback"):
        evaluate_policies(
            sim.time, sim.event, sim.treatment, rec, sim.propensity, sim.arms, sim.tau, n_boot=2
        )


def test_bad_inputs_raise_clear_errors():
    t, e, a = np.array([1.0, 2.0]), np.array([1, 0]), np.array(["A", "B"], dtype=object)
    with pytest.raises(CohortError, match="propensity"):
        policy_value_ipw(t, e, a, a, np.array([0.5, 0.0]), 1.0)
    with pytest.raises(CohortError, match="time must be finite"):
        policy_value_ipw(np.array([1.0, -2.0]), e, a, a, np.array([0.5, 0.5]), 1.0)
    with pytest.raises(CohortError, match="no patient"):
        policy_value_ipw(t, e, a, np.array(["C", "C"], dtype=object), np.array([0.5, 0.5]), 1.0)
    with pytest.raises(CohortError, match="arms not in"):
        evaluate_policies(t, e, a, np.array(["A", "Z"], dtype=object), np.full((2, 2), 0.5), ["A", "B"], 1.0)
    with pytest.raises(ConfigError, match="pseudo_outcome"):
        policy_value_dr(
            t,
            e,
            a,
            a,
            np.full((2, 2), 0.5),
            np.ones((2, 2, 3)),
            np.arange(3.0),
            1.0,
            ["A", "B"],
            pseudo_outcome="magic",
        )


def test_recommended_vs_not():
    rng = np.random.default_rng(4)
    n = 400
    received = rng.choice(np.array(["A", "B"], dtype=object), size=n)
    recommended = rng.choice(np.array(["A", "B"], dtype=object), size=n)
    followed = received == recommended
    time = rng.exponential(np.where(followed, 20.0, 10.0))
    event = rng.random(n) < 0.8
    res = recommended_vs_not(time, event, received, recommended, tau=15.0)
    assert res.n_followed == followed.sum() and res.n_not_followed == (~followed).sum()
    assert res.hazard_ratio < 1 and res.hr_ci_low < res.hazard_ratio < res.hr_ci_high < 1
    assert res.logrank_p < 1e-3
    assert res.rmst_followed == pytest.approx(km_rmst(time[followed], event[followed], 15.0))
    kmf = _lifelines_km(time[followed], event[followed])
    km = res.km[res.km.group == "followed"]
    np.testing.assert_allclose(km.survival, kmf.survival_function_.iloc[:, 0], atol=1e-12)
    json.dumps(res.to_dict())
    with pytest.raises(CohortError):
        recommended_vs_not(time, event, received, received)


def test_cross_fit_never_scores_a_patient_with_a_model_that_saw_it():
    n = 103
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def fit_predict(train_idx, test_idx):
        seen.append((train_idx, test_idx))
        # the "model" remembers its training set; the prediction says whether the patient was in it
        trained_on = set(train_idx.tolist())
        return np.array([[float(i in trained_on), float(len(train_idx))] for i in test_idx])

    out = cross_fit_predict(fit_predict, n, n_folds=5, seed=0)
    assert out.shape == (n, 2)
    assert np.all(out[:, 0] == 0.0)
    tested = np.concatenate([te for _, te in seen])
    assert sorted(tested.tolist()) == list(range(n))  # every patient scored exactly once
    for tr, te in seen:
        assert not set(tr.tolist()) & set(te.tolist())
        assert len(tr) + len(te) == n


def test_cross_fit_folds_stratified_and_seeded():
    strat = np.repeat(["A", "B", "C"], [50, 30, 20])
    folds = cross_fit_folds(100, n_folds=5, seed=7, stratify=strat)
    for level, size in (("A", 50), ("B", 30), ("C", 20)):
        assert np.bincount(folds[strat == level], minlength=5).tolist() == [size // 5] * 5
    assert np.array_equal(folds, cross_fit_folds(100, n_folds=5, seed=7, stratify=strat))
    assert not np.array_equal(folds, cross_fit_folds(100, n_folds=5, seed=8, stratify=strat))
    with pytest.raises(CohortError, match="fewer than n_folds"):
        cross_fit_folds(10, n_folds=5, stratify=np.array(["A"] * 7 + ["B"] * 3))
    with pytest.raises(ModelError, match="fold 0"):
        cross_fit_predict(lambda tr, te: np.zeros(len(te) + 1), 20, n_folds=4)
