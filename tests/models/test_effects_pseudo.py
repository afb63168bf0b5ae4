"""EconML learners on the RMST pseudo-outcome: known truth on real covariates, errors, cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest

from oncoplan.data.simulate import load_covariates, simulate_survival
from oncoplan.errors import ConfigError
from oncoplan.models.effects_pseudo import RMSTPseudoOutcomeLearner
from oncoplan.recommend.crossfit_learners import cross_fitted_arms


@pytest.fixture(scope="module")
def simulated():
    cov = load_covariates("gbsg2")  # real GBSG2 covariates, known simulated effects (marker-only arm C)
    return simulate_survival(cov.X, marker=cov.marker, confounding=0.5, n_patients=4000, seed=3)


@pytest.mark.parametrize("learner", ["dr_learner", "causal_forest"])
def test_contrasts_find_the_marker_subgroup_and_the_average_effects(simulated, learner):
    """The IPCW pseudo-outcome is noisy (individual contrasts are poor), but with 3000 training patients the
    average contrasts and the marker-only effect of arm C must show."""
    sim = simulated
    X = sim.X.to_numpy()
    tr, te = np.arange(3000), np.arange(3000, 4000)
    model = RMSTPseudoOutcomeLearner(learner, tau=sim.tau, random_state=0)
    est = model.fit(X[tr], sim.y[tr], sim.treatment[tr], arms=list(sim.arms)).predict_rmst_contrast(X[te])
    truth = sim.true_rmst[te] - sim.true_rmst[te, :1]
    assert np.all(est[:, 0] == 0)
    np.testing.assert_allclose(est.mean(axis=0), truth.mean(axis=0), atol=40.0)  # days, truth 50 / 135
    m = sim.marker[te]
    true_gap = truth[m, 2].mean() - truth[~m, 2].mean()
    assert est[m, 2].mean() - est[~m, 2].mean() > 0.5 * true_gap
    assert set(model.predict_arm(X[te[:20]])) <= set(sim.arms)


def test_seeded_fit_is_deterministic(simulated):
    sim = simulated
    X = sim.X.to_numpy()[:400]
    fits = [
        RMSTPseudoOutcomeLearner("causal_forest", tau=sim.tau, random_state=1)
        .fit(X, sim.y[:400], sim.treatment[:400], arms=list(sim.arms))
        .predict_rmst_contrast(X[:10])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*fits)


def test_errors_are_clear(simulated):
    sim = simulated
    X = sim.X.to_numpy()[:50]
    with pytest.raises(ConfigError, match="tau"):
        RMSTPseudoOutcomeLearner("dr_learner").fit(X, sim.y[:50], sim.treatment[:50])
    with pytest.raises(ConfigError, match="learner"):
        RMSTPseudoOutcomeLearner("forest", tau=100.0).fit(X, sim.y[:50], sim.treatment[:50])
    one = np.array(["A"] * 49 + ["B"])
    with pytest.raises(ConfigError, match="two patients"):
        RMSTPseudoOutcomeLearner("dr_learner", tau=100.0).fit(X, sim.y[:50], one)


def test_cross_fitted_arms_never_score_a_patient_with_a_model_that_saw_it(colon):
    seen = []

    def recommend_rows(tr, te):
        assert not set(tr) & set(te)
        seen.append(te)
        return np.full(len(te), colon.arms[len(seen) % 3], dtype=object)

    arms = cross_fitted_arms(colon, recommend_rows, n_folds=3, seed=0)
    assert sorted(np.concatenate(seen).tolist()) == list(range(colon.n_patients))
    assert set(arms) == set(colon.arms)
