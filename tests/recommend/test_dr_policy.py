"""DR-learner stage: AIPW RMST scores against a hand computation, the ridge contrast policy, cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from oncoplan.errors import ConfigError
from oncoplan.evaluate.censoring import km_rmst
from oncoplan.recommend.crossfit_learners import meta_learner_fit_predict
from oncoplan.recommend.crossfit_policy import cross_fitted_policy
from oncoplan.recommend.dr_policy import CalibratedContrastPolicy, DRContrastPolicy, aipw_rmst_scores
from oncoplan.recommend.rmst import rmst_from_curves

TIMES = np.array([0.0, 1.0, 2.0, 4.0])


def _curves(n: int, k: int) -> np.ndarray:
    return np.ones((n, k, len(TIMES))) * np.array([1.0, 0.8, 0.5, 0.2])


def test_scores_without_censoring_match_the_aipw_formula():
    rng = np.random.default_rng(0)
    n = 50
    t = rng.uniform(0.1, 3.0, n)
    a = rng.integers(0, 2, n)
    p = np.column_stack([np.full(n, 0.4), np.full(n, 0.6)])
    curves = _curves(n, 2)
    curves[:, 1, 1:] *= 0.9
    scores = aipw_rmst_scores(t, np.ones(n, bool), a, p, curves, TIMES, tau=2.5)
    mu = rmst_from_curves(curves, TIMES, 2.5)
    y = np.minimum(t, 2.5)  # no censoring: the pseudo-outcome is min(T, tau) itself
    expected = mu + np.eye(2)[a] / p * (y[:, None] - mu)
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_scores_with_zero_outcome_model_average_to_the_kaplan_meier_rmst():
    """With mu = 0 and p = 1 (one arm) the AIPW score is the IPCW pseudo-outcome: mean = KM RMST."""
    rng = np.random.default_rng(1)
    n = 80
    t = rng.exponential(2.0, n)
    e = rng.random(n) < 0.7
    zero = np.zeros((n, 1, len(TIMES)))
    scores = aipw_rmst_scores(t, e, np.zeros(n, int), np.ones((n, 1)), zero, TIMES, tau=3.0)
    assert scores.mean() == pytest.approx(km_rmst(t, e, tau=3.0), rel=1e-10)


def test_scores_check_shapes():
    with pytest.raises(ConfigError):
        aipw_rmst_scores(
            np.ones(3), np.ones(3, bool), np.zeros(3, int), np.ones((3, 1)), _curves(3, 2), TIMES, 2.0
        )


def test_ridge_stage_finds_a_subgroup_and_ignores_noise():
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 3))
    base = rng.normal(100.0, 30.0, size=(n, 1)) * np.ones((1, 2))
    # arm 1 is better on average, but arm 0 wins by 80 for x0 < -0.5
    gain = np.where(X[:, 0] < -0.5, -80.0, 40.0)
    scores = base + np.column_stack([np.zeros(n), gain]) + rng.normal(0.0, 20.0, size=(n, 2))
    stage = DRContrastPolicy(default=1).fit(X, scores)
    picks = stage.predict_arm(X)
    assert np.mean(picks[X[:, 0] < -1.0] == 0) > 0.9 and np.mean(picks[X[:, 0] > 0.0] == 1) > 0.95
    # the intercept is not penalised: predictions average to the mean AIPW contrast
    np.testing.assert_allclose(stage.predict_contrast(X)[:, 0].mean(), (scores[:, 0] - scores[:, 1]).mean())


def _identical_patients(colon):
    """``fit_predict`` in which every patient has the same curves and Lev+5FU is best: a DR stage can only
    rely on the outcomes."""
    times = np.array([200.0, 900.0, 1900.0])

    def curves(rows):
        s = np.ones((2, len(rows), 3, 3)) * np.array([0.9, 0.7, 0.5])
        s[:, :, 2] = np.array([0.95, 0.8, 0.65])
        return s

    def flat(tr, te):
        uniform = np.full((len(te), 3), 1 / 3)
        return curves(tr), curves(te), uniform, np.zeros(len(te), bool), times, list(colon.arms)

    return flat


def test_cross_fitted_policy_with_dr_stage(colon):
    flat = _identical_patients(colon)
    result = cross_fitted_policy(colon, 1826.0, n_folds=3, fit_predict=flat, dr_stage="ridge", inner_check=2)
    assert set(result.recommended) <= set(colon.arms)
    assert pd_share(result.recommended, "Lev+5FU") > 0.5  # the best arm on average stays the default
    assert result.abstained.shape == (colon.n_patients,)


def pd_share(values: np.ndarray, arm: str) -> float:
    return float(np.mean(np.asarray(values) == arm))


def test_calibrated_stage_matches_least_squares_and_gates_on_the_t_statistic():
    rng = np.random.default_rng(3)
    n = 400
    c = np.column_stack([rng.normal(-20.0, 40.0, n), rng.normal(-5.0, 10.0, n), np.zeros(n)])
    strong = 1.8 * (c[:, 0] - c[:, 0].mean()) - 20.0 + rng.normal(0.0, 30.0, n)
    scores = np.column_stack([strong, rng.normal(-5.0, 300.0, n), np.zeros(n)]) + 500.0
    stage = CalibratedContrastPolicy(default=2).fit(c, scores)
    x = np.column_stack([np.ones(n), c[:, 0] - c[:, 0].mean()])
    coef = np.linalg.lstsq(x, scores[:, 0] - scores[:, 2], rcond=None)[0]
    assert stage.slopes_[0] == pytest.approx(coef[1], rel=1e-10)
    assert stage.intercepts_[0] == pytest.approx(coef[0], rel=1e-10)
    assert stage.slopes_[1] == 0.0 and stage.t_stats_[0, 1] < 1.645  # noise: slope dropped
    cal = stage.predict_contrast(c)
    assert np.all(cal[:, 2] == 0.0)
    np.testing.assert_allclose(cal[:, 1], stage.intercepts_[1])
    picks = stage.predict_arm(c)
    np.testing.assert_array_equal(picks == 0, cal[:, 0] > np.maximum(cal[:, 1], 0.0))
    # two candidates: pure noise first, the informative contrasts second -> the second is used
    both = np.stack([rng.normal(size=c.shape), c])
    two = CalibratedContrastPolicy(default=2).fit(both, scores)
    assert two.chosen_[0] == 1 and two.slopes_[0] == pytest.approx(coef[1], rel=1e-10)
    assert two.z_ == pytest.approx(norm.ppf(1 - 0.05 / 2))
    np.testing.assert_allclose(two.predict_contrast(both), cal)


def test_cross_fitted_policy_rejects_an_unknown_stage(colon):
    with pytest.raises(ConfigError, match="dr_stage"):
        cross_fitted_policy(colon, 1826.0, n_folds=3, dr_stage="forest")


def test_calibrated_stage_with_identical_patients_treats_all_with_the_best_arm(colon):
    flat = _identical_patients(colon)
    result = cross_fitted_policy(
        colon, 1826.0, n_folds=3, fit_predict=flat, dr_stage="calibrated", inner_check=2
    )
    assert set(result.recommended) == {"Lev+5FU"}  # no contrast spread: nothing to calibrate, treat all


def test_calibrated_stage_uses_a_candidate_model_whose_contrasts_the_outcomes_support(colon):
    times = np.array([200.0, 900.0, 1900.0])
    received = np.array([colon.arms.index(a) for a in colon.treatment.to_numpy()])
    long = colon.time > 1826.0

    def curves(rows, peek):
        s = np.ones((1, len(rows), 3, 3)) * np.array([0.9, 0.7, 0.5])
        s[:, :, 2] = np.array([0.95, 0.8, 0.65])
        if peek:  # for the test only: survivors past tau look much better on the arm they received
            hit = np.flatnonzero(long[rows] & (received[rows] != 2))
            s[:, hit, received[rows][hit]] = np.array([0.99, 0.98, 0.97])
        return s

    def model(peek):
        def fit_predict(tr, te):
            prop, ood = np.full((len(te), 3), 1 / 3), np.zeros(len(te), bool)
            return curves(tr, peek), curves(te, peek), prop, ood, times, list(colon.arms)

        return fit_predict

    plain = cross_fitted_policy(
        colon, 1826.0, n_folds=3, fit_predict=model(False), dr_stage="calibrated", inner_check=2
    )
    assert set(plain.recommended) == {"Lev+5FU"}
    stacked = cross_fitted_policy(
        colon,
        1826.0,
        n_folds=3,
        fit_predict=model(False),
        dr_stage="calibrated",
        inner_check=2,
        contrast_models={"peek": model(True)},
    )
    moved = stacked.recommended != "Lev+5FU"
    assert moved.any() and np.all(long[moved])  # only the peeked long survivors leave the default arm
    assert stacked.default_arms == ["Lev+5FU"] * 3 and plain.personalized == [False] * 3
    assert any(stacked.personalized)


def test_meta_learner_fit_predict_shapes_and_errors(colon):
    fp = meta_learner_fit_predict(colon, "cox", "s")
    s_tr, s_te, prop, ood, times, arms = fp(np.arange(0, 600), np.arange(600, 640))
    assert s_tr.shape[:3] == (1, 600, 3) and s_te.shape[:3] == (1, 40, 3) and arms == colon.arms
    assert prop.shape == (40, 3) and not ood.any() and len(times) == s_te.shape[3]
    with pytest.raises(ConfigError, match="kind"):
        meta_learner_fit_predict(colon, "cox", "x")


def test_tau_beyond_follow_up_is_a_clear_error(colon):
    from oncoplan.errors import ConfigError

    with pytest.raises(ConfigError, match="beyond the cohort's follow-up"):
        cross_fitted_policy(colon, float(colon.time.max()) + 1.0, n_folds=2, dr_stage="calibrated")


def test_fold_grids_ending_before_tau_are_held_flat(colon):
    flat = _identical_patients(colon)  # grids end at 1900 days
    tau = 2500.0
    assert tau <= colon.time.max()
    result = cross_fitted_policy(colon, tau, n_folds=2, fit_predict=flat, level=0.01)
    assert set(result.recommended) == {"Lev+5FU"}  # the best arm on every curve, RMST computed to 2500
    with pytest.raises(Exception, match="beyond"):
        from oncoplan.recommend.rmst import rmst_from_curves

        rmst_from_curves(np.array([[0.9, 0.7, 0.5]]), np.array([200.0, 900.0, 1900.0]), tau)


def test_select_policy_takes_the_candidate_with_the_best_inner_value_and_prefers_treat_all_on_ties():
    from oncoplan.recommend.dr_policy import select_policy

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    scores = np.column_stack([np.zeros(200), np.where(x > 0, 10.0, -10.0)])  # arm 1 helps when x > 0
    good = np.column_stack([np.zeros(200), x])  # inner predictions that rank correctly
    bad = np.column_stack([np.zeros(200), -x])
    test_good, test_bad = np.array([[0.0, 1.0], [0.0, -1.0]]), np.array([[0.0, -1.0], [0.0, 1.0]])
    picks = select_policy(scores, 0, [bad, good], [test_bad, test_good], ["bad", "good"])
    assert picks.tolist() == [1, 0]  # the good model's test argmax
    flat = np.zeros((200, 2))
    assert select_policy(flat, 1, [good], [test_good]).tolist() == [1, 1]  # a tie: treat all with default
    nan_test = np.array([[0.0, np.nan], [0.0, np.nan]])
    assert select_policy(scores, 0, [good], [nan_test]).tolist() == [0, 0]  # an arm the model could not score


def test_policy_tree_keeps_everyone_on_a_uniformly_better_default():
    from oncoplan.recommend.dr_policy import policy_tree_arms

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    scores = np.column_stack([np.full(300, 20.0), np.zeros(300)]) + rng.normal(0, 5, (300, 2))
    assert set(policy_tree_arms(x, scores, x[:50], default=0).tolist()) == {0}


@pytest.mark.parametrize("stage", ["select", "tree"])
def test_select_and_tree_stages_run_cross_fitted_on_colon(colon, stage):
    flat = _identical_patients(colon)
    result = cross_fitted_policy(colon, 1826.0, n_folds=3, fit_predict=flat, dr_stage=stage, inner_check=2)
    assert len(result.recommended) == colon.n_patients and set(result.recommended) <= set(colon.arms)
    if stage == "select":  # identical patients: the model's argmax policy is treat-all-Lev+5FU
        assert set(result.recommended) == {"Lev+5FU"}
