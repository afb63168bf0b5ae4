"""RMST from curves (vs lifelines) and the recommendation as a pure function of per-arm predictions."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from sksurv.datasets import load_gbsg2

from oncoplan.data.simulate.survival import load_covariates, policy_regret, simulate_survival
from oncoplan.errors import ConfigError, ModelError
from oncoplan.recommend.ranking import (
    Recommendation,
    policy_arms,
    recommend,
    recommendations_to_frame,
)
from oncoplan.recommend.rmst import rmst_ensemble, rmst_from_curves, survival_at


@pytest.fixture(scope="module")
def km_gbsg2():
    _, y = load_gbsg2()
    return KaplanMeierFitter().fit(y["time"], y["cens"])


@pytest.mark.parametrize("tau", [1.0, 400.0, 1234.5, 1825.0, 2659.0])
def test_rmst_from_km_curve_equals_lifelines(km_gbsg2, tau):
    times = km_gbsg2.timeline
    surv = km_gbsg2.survival_function_.iloc[:, 0].to_numpy()[None, :]
    expected = restricted_mean_survival_time(km_gbsg2, t=tau)
    assert rmst_from_curves(surv, times, tau)[0] == pytest.approx(expected, abs=1e-8)
    # the same curve without its leading t=0 point: S = 1 before the first grid time
    assert rmst_from_curves(surv[:, 1:], times[1:], tau)[0] == pytest.approx(expected, abs=1e-8)


def test_rmst_from_curves_of_other_lifelines_curves():
    """Curves from lifelines' weighted fit on a subset, integrated on its own timeline."""
    _, y = load_gbsg2()
    w = np.random.default_rng(0).uniform(0.5, 2, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = KaplanMeierFitter().fit(y["time"][:300], y["cens"][:300], weights=w[:300])
    surv = kmf.survival_function_.iloc[:, 0].to_numpy()
    assert rmst_from_curves(surv, kmf.timeline, 1500.0) == pytest.approx(
        restricted_mean_survival_time(kmf, t=1500.0), abs=1e-8
    )


def test_survival_at_matches_lifelines_predict(km_gbsg2):
    surv = km_gbsg2.survival_function_.iloc[:, 0].to_numpy()[None, :]
    for t in (0.0, 72.0, 500.5, 1807.0, 2000.0):
        assert survival_at(surv, km_gbsg2.timeline, t)[0] == pytest.approx(km_gbsg2.predict(t), abs=1e-12)
    assert survival_at(np.array([[0.5]]), np.array([10.0]), 3.0).tolist() == [1.0]


def test_rmst_grid_validation():
    s = np.array([[1.0, 0.5]])
    with pytest.raises(ConfigError, match="beyond the last grid time"):
        rmst_from_curves(s, np.array([0.0, 1.0]), tau=2.0)
    assert rmst_from_curves(s, np.array([0.0, 1.0]), tau=2.0, extrapolate=True)[0] == pytest.approx(1.5)
    with pytest.raises(ConfigError, match="increasing"):
        rmst_from_curves(s, np.array([1.0, 0.0]), tau=0.5)
    with pytest.raises(ConfigError, match="time points"):
        rmst_from_curves(s, np.array([0.0, 1.0, 2.0]), tau=0.5)
    with pytest.raises(ConfigError, match="probabilities"):
        rmst_from_curves(np.array([[1.0, 1.5]]), np.array([0.0, 1.0]), tau=0.5)


def test_rmst_ensemble_intervals():
    rng = np.random.default_rng(0)
    times = np.linspace(0, 10, 21)
    hazards = rng.uniform(0.05, 0.3, size=(7, 4, 3))  # members x patients x arms
    curves = np.exp(-hazards[..., None] * times)
    ens = rmst_ensemble(curves, times, tau=8.0, arm_names=["A", "B", "C"], level=0.8)
    per = rmst_from_curves(curves, times, 8.0)
    np.testing.assert_allclose(ens.samples, per)
    np.testing.assert_allclose(ens.mean, per.mean(axis=0))
    np.testing.assert_allclose(ens.low, np.quantile(per, 0.1, axis=0))
    np.testing.assert_allclose(ens.high, np.quantile(per, 0.9, axis=0))
    mean, low, high = ens.difference("B", "A")
    d = per[:, :, 1] - per[:, :, 0]
    np.testing.assert_allclose(mean, d.mean(axis=0))
    np.testing.assert_allclose(low, np.quantile(d, 0.1, axis=0))
    table = ens.pairwise()
    assert len(table) == 4 * 6
    row = table[(table.arm_a == "B") & (table.arm_b == "A")].sort_values("patient")
    np.testing.assert_allclose(row.diff_high, high)
    with pytest.raises(ConfigError):
        rmst_ensemble(curves[0], times, tau=8.0)
    with pytest.raises(ConfigError):
        ens.difference("Z", "A")


def _samples(means, spread=1.0, members=20, seed=0):
    """members x patients x arms, centred on ``means`` (patients x arms)."""
    rng = np.random.default_rng(seed)
    means = np.asarray(means, dtype=float)
    return means[None] + spread * rng.standard_normal((members,) + means.shape)


def test_clear_winner_is_recommended_with_ranking_and_gain():
    s = _samples([[1500.0, 1300.0, 1400.0]], spread=10.0)
    [res] = recommend(["A", "B", "C"], s, np.full((1, 3), 1 / 3), trained_arms=["A", "B", "C"])
    assert isinstance(res, Recommendation) and res.recommended
    assert res.best_arm == "A" and res.runner_up == "C"
    assert [r.arm for r in res.ranking] == ["A", "C", "B"]
    vals = [r.expected_value for r in res.ranking]
    assert vals == sorted(vals, reverse=True)
    gain = s[:, 0, 0] - s[:, 0, 2]
    assert res.gain_vs_next.value == pytest.approx(gain.mean())
    assert res.gain_vs_next.low == pytest.approx(np.quantile(gain, 0.05))
    assert 0 < res.gain_vs_next.low < res.gain_vs_next.value < res.gain_vs_next.high
    for r in res.ranking:
        assert r.low <= r.expected_value <= r.high
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["best_arm"] == "A" and payload["status"] == "recommend"


def test_toxicity_penalty_changes_the_ranking():
    s = _samples([[1500.0, 1450.0]], spread=5.0)
    [plain] = recommend(["chemo", "hormone"], s, trained_arms=["chemo", "hormone"])
    [penal] = recommend(
        ["chemo", "hormone"], s, trained_arms=["chemo", "hormone"], toxicity_penalty={"chemo": 120.0}
    )
    assert plain.best_arm == "chemo" and penal.best_arm == "hormone"
    assert penal.ranking[1].expected_value == pytest.approx(s[:, 0, 0].mean() - 120.0)
    with pytest.raises(ConfigError, match="unknown arms"):
        recommend(["chemo", "hormone"], s, trained_arms=["chemo", "hormone"], toxicity_penalty={"x": 1.0})


def test_recommend_is_pure():
    s = _samples([[10.0, 20.0], [30.0, 5.0]], spread=1.0)
    p = np.array([[0.4, 0.6], [0.5, 0.5]])
    s0, p0 = s.copy(), p.copy()
    kw = {"trained_arms": ["A", "B"], "patient_ids": ["p1", "p2"]}
    json.dumps(
        [
            r.to_dict()
            for r in recommend(["A", "B"], s, p, trained_arms=["A", "B"], patient_ids=np.array([7, 9]))
        ]
    )
    first = recommend(["A", "B"], s, p, **kw)
    second = recommend(["A", "B"], copy.deepcopy(s), copy.deepcopy(p), **kw)
    assert [r.to_dict() for r in first] == [r.to_dict() for r in second]
    assert np.array_equal(s, s0) and np.array_equal(p, p0)
    assert [r.patient for r in first] == ["p1", "p2"]
    frame = recommendations_to_frame(first)
    assert frame.best_arm.tolist() == ["B", "A"] and frame.status.tolist() == ["recommend"] * 2


@settings(max_examples=60, deadline=None)
@given(
    means=st.lists(st.floats(0, 3000), min_size=3, max_size=3),
    spread=st.floats(0.1, 300),
    trained=st.sets(st.sampled_from(["A", "B", "C"]), min_size=0, max_size=3),
    seed=st.integers(0, 1000),
)
def test_never_recommends_an_untrained_arm(means, spread, trained, seed):
    s = _samples([means], spread=spread, members=5, seed=seed)
    [res] = recommend(["A", "B", "C"], s, trained_arms=sorted(trained))
    assert all(r.arm in trained for r in res.ranking)
    if res.recommended:
        assert res.best_arm in trained and res.runner_up in trained


def test_asking_for_an_untrained_arm_raises():
    s = _samples([[1.0, 2.0, 3.0]])
    with pytest.raises(ModelError, match="not trained"):
        recommend(["A", "B", "C"], s, trained_arms=["A", "B"], requested_arms=["A", "C"])
    with pytest.raises(ConfigError, match="no predictions"):
        recommend(["A", "B", "C"], s, trained_arms=["A", "D"])
    with pytest.raises(ConfigError, match="not among"):
        recommend(["A", "B", "C"], s, trained_arms=["A", "B"], requested_arms=["A", "X"])
    [res] = recommend(
        ["A", "B", "C"],
        _samples([[1.0, 2.0, 300.0]], spread=0.1),
        trained_arms=["A", "B", "C"],
        requested_arms=["A", "B"],
    )
    assert res.best_arm == "B" and [r.arm for r in res.ranking] == ["B", "A"]


def test_input_validation():
    s = _samples([[1.0, 2.0]])
    with pytest.raises(ConfigError, match="single member"):
        recommend(["A", "B"], s[:1], trained_arms=["A", "B"])
    with pytest.raises(ConfigError, match="shape"):
        recommend(["A", "B", "C"], s, trained_arms=["A", "B"])
    with pytest.raises(ConfigError, match="propensity"):
        recommend(["A", "B"], s, np.array([[0.5, 1.5]]), trained_arms=["A", "B"])
    with pytest.raises(ConfigError, match="ood_flags"):
        recommend(["A", "B"], s, ood_flags=np.array([True, False]), trained_arms=["A", "B"])
    bad = s.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        recommend(["A", "B"], bad, trained_arms=["A", "B"])
    with pytest.raises(ConfigError, match="unique"):
        recommend(["A", "A"], s, trained_arms=["A"])


def test_end_to_end_on_simulated_truth():
    """A noisy but unbiased 'ensemble' around the true RMST: confident recommendations have low regret."""
    cov = load_covariates("gbsg2")
    sim = simulate_survival(cov.X, marker=cov.marker, confounding=0.5, seed=0)
    rng = np.random.default_rng(1)
    members = sim.true_rmst[None] + 15.0 * rng.standard_normal((10,) + sim.true_rmst.shape)
    results = recommend(list(sim.arms), members, sim.propensity, trained_arms=list(sim.arms))
    chosen = policy_arms(results, fallback=sim.treatment)
    rec_mask = np.array([r.recommended for r in results])
    assert 0.2 < rec_mask.mean() < 1.0
    assert np.mean(chosen[rec_mask] == sim.oracle_arm[rec_mask]) > 0.9
    assert policy_regret(sim.true_rmst, chosen, sim.arms) < policy_regret(
        sim.true_rmst, sim.treatment, sim.arms
    )
    assert list(policy_arms(results)[~rec_mask]) == [None] * int((~rec_mask).sum())
