"""Weighted Cox partial likelihood and Breslow baseline against lifelines and scikit-survival on GBSG2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from sksurv.linear_model.coxph import BreslowEstimator

from oncoplan.models.heads.cox import breslow_baseline
from oncoplan.models.losses.cox import cox_partial_likelihood


@pytest.fixture(scope="module")
def gbsg2_numeric(gbsg2):
    numeric, _ = gbsg2.feature_types(include_treatment=False)
    X = gbsg2.features(include_treatment=False)[numeric].to_numpy(dtype=float)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    weights = np.random.default_rng(0).uniform(0.5, 3.0, len(X))
    return X, gbsg2.time, gbsg2.event, weights


def test_weighted_efron_likelihood_matches_lifelines_at_its_optimum(gbsg2_numeric):
    X, time, event, w = gbsg2_numeric
    assert len(np.unique(time[event])) < event.sum()  # tied event times: the Efron weighting matters
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(
        T=time, E=event.astype(int), w=w
    )
    fitted = CoxPHFitter().fit(frame, "T", "E", weights_col="w", robust=True)
    eta = torch.tensor(X @ fitted.params_.to_numpy(), requires_grad=True)
    nll = cox_partial_likelihood(
        eta, torch.tensor(time), torch.tensor(event, dtype=torch.float64), "efron", "sum", torch.tensor(w)
    )
    assert float(nll.detach()) == pytest.approx(-fitted.log_likelihood_, rel=1e-10)
    nll.backward()
    score = torch.tensor(X).T @ eta.grad  # lifelines' optimum is ours: the score is ~0
    assert float(score.abs().max()) < 0.05


def test_integer_weights_equal_duplicated_rows_under_breslow_ties(gbsg2_numeric):
    X, time, event, _ = gbsg2_numeric
    k = np.random.default_rng(1).integers(1, 4, len(X))
    rows = np.repeat(np.arange(len(X)), k)
    eta = torch.tensor(X @ np.linspace(-0.3, 0.3, X.shape[1]))
    t, e = torch.tensor(time), torch.tensor(event, dtype=torch.float64)
    for reduction in ("sum", "mean"):
        weighted = cox_partial_likelihood(
            eta, t, e, "breslow", reduction, torch.tensor(k, dtype=torch.float64)
        )
        duplicated = cox_partial_likelihood(eta[rows], t[rows], e[rows], "breslow", reduction)
        assert float(weighted) == pytest.approx(float(duplicated), rel=1e-12)
    unit = cox_partial_likelihood(eta, t, e, "efron", "mean", torch.ones(len(X), dtype=torch.float64))
    assert float(unit) == pytest.approx(float(cox_partial_likelihood(eta, t, e, "efron", "mean")), rel=1e-12)


def test_breslow_baseline_matches_scikit_survival_unweighted_and_duplicated(gbsg2_numeric):
    X, time, event, _ = gbsg2_numeric
    eta = X @ np.linspace(-0.3, 0.3, X.shape[1])
    times, cum = breslow_baseline(eta, time, event)
    reference = BreslowEstimator().fit(eta, event, time).cum_baseline_hazard_
    np.testing.assert_allclose(times, reference.x)
    np.testing.assert_allclose(cum, reference.y, rtol=1e-10)
    k = np.random.default_rng(2).integers(1, 4, len(X))
    rows = np.repeat(np.arange(len(X)), k)
    _, weighted = breslow_baseline(eta, time, event, k)
    duplicated = BreslowEstimator().fit(eta[rows], event[rows], time[rows]).cum_baseline_hazard_.y
    np.testing.assert_allclose(weighted, duplicated, rtol=1e-10)
