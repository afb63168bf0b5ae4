"""StackedSurvival: weights fitted on out-of-fold curves, convex, and the stacked curve is their mixture."""

import itertools

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from oncoplan.errors import ConfigError
from oncoplan.models.baselines import CoxPHBaseline, RSFBaseline
from oncoplan.models.ensemble import StackedSurvival, brier_design, stacking_weights


@pytest.fixture(scope="module")
def stacked(xy):
    X, y = xy
    return StackedSurvival(learners=("coxph", "rsf"), cv=3, quick=True, random_state=1).fit(X, y)


def test_weights_come_from_out_of_fold_curves(xy, stacked):
    X, y = xy
    event, time = y["event"], y["time"]
    oof = np.zeros((2, len(X), len(stacked.grid_)))
    folds = StratifiedKFold(3, shuffle=True, random_state=1)
    for tr, va in folds.split(X, event.astype(int)):
        for m, model in enumerate([CoxPHBaseline(), RSFBaseline(n_estimators=50, random_state=1)]):
            oof[m, va] = model.fit(X[tr], y[tr]).member_survival(X[va], stacked.grid_)[0]
    target, weight = brier_design(event, time, stacked.grid_)
    np.testing.assert_allclose(stacked.weights_, stacking_weights(oof, target, weight), atol=1e-8)
    assert np.all(stacked.weights_ >= 0) and stacked.weights_.sum() == pytest.approx(1.0, abs=1e-12)


def test_stacked_curve_is_the_weighted_mixture(xy, stacked):
    X, y = xy
    surv = stacked.predict_survival_function(X[:20], return_array=True)
    members = stacked.member_survival(X[:20])
    used = stacked.weights_[stacked.weights_ > 0]
    np.testing.assert_allclose(surv, np.tensordot(used, members, axes=1), atol=1e-12)
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv, axis=1) <= 1e-12)
    assert stacked.score(X, y) > 0.65


def test_stacking_weights_match_brute_force_on_the_simplex(rng):
    curves = rng.uniform(size=(3, 40, 6))
    target = (rng.uniform(size=(40, 6)) > 0.5).astype(float)
    weight = rng.uniform(0.5, 2.0, size=(40, 6))
    w = stacking_weights(curves, target, weight)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)

    def loss(a):
        return float((weight * (np.tensordot(a, curves, axes=1) - target) ** 2).sum())

    grid = np.linspace(0, 1, 101)
    best = min(loss(np.array([a, b, 1 - a - b])) for a, b in itertools.product(grid, grid) if a + b <= 1)
    assert loss(w) <= best + 1e-9


def test_unknown_learner_is_config_error(xy):
    X, y = xy
    with pytest.raises(ConfigError, match="unknown stacking learner"):
        StackedSurvival(learners=("svm",)).fit(X, y)
