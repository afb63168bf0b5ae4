"""Univariate Cox screening: score statistics equal statsmodels' Cox score test; CoxScreen keeps the top k."""

import numpy as np
import pytest
from sksurv.linear_model import CoxPHSurvivalAnalysis
from statsmodels.duration.hazard_regression import PHReg

from oncoplan.errors import ConfigError
from oncoplan.models.feature_selection import CoxScreen, auto_n_features, univariate_cox_scores


@pytest.fixture(scope="module")
def dlbcl():
    from SurvSet.data import SurvLoader

    frame = SurvLoader().load_dataset("DLBCL")["df"]
    genes = [c for c in frame.columns if c.startswith("num_")]
    return frame[genes].to_numpy(float), frame["time"].to_numpy(float), frame["event"].to_numpy(bool)


def _score_z(x, time, event):
    model = PHReg(time, x[:, None], status=event.astype(int), ties="breslow")
    zero = np.zeros(1)
    return float(model.score(zero)[0] / np.sqrt(-model.hessian(zero)[0, 0]))


def test_scores_equal_statsmodels_score_test(dlbcl):
    X, time, event = dlbcl
    cols = [0, 5, 17, 250, 3000, 7000]
    z = univariate_cox_scores(X[:, cols], time, event)
    expected = [_score_z(X[:, j], time, event) for j in cols]
    np.testing.assert_allclose(z, expected, rtol=1e-8, atol=1e-10)


def test_screen_keeps_top_columns_and_agrees_with_univariate_cox_fits(dlbcl):
    X, time, event = dlbcl
    X = X[:, :400]
    from sksurv.util import Surv

    y = Surv.from_arrays(event, time)
    screen = CoxScreen(k=10).fit(X, y)
    order = np.argsort(-np.abs(screen.scores_))
    np.testing.assert_array_equal(screen.support_, np.sort(order[:10]))
    np.testing.assert_array_equal(screen.transform(X), X[:, screen.support_])
    # the sign of each score is the sign of sksurv's fitted univariate Cox coefficient
    for j in list(order[:3]) + list(order[-2:]):
        z = (X[:, [j]] - X[:, j].mean()) / X[:, j].std()
        coef = CoxPHSurvivalAnalysis(ties="breslow").fit(z, y).coef_[0]
        assert np.sign(coef) == np.sign(screen.scores_[j])
    with pytest.raises(ConfigError, match="'k'"):
        CoxScreen(k=0).fit(X, y)


def test_auto_n_features():
    assert auto_n_features(192, 7399) == 38
    assert auto_n_features(2000, 40) is None
    assert auto_n_features(1000, 5000) == 100
