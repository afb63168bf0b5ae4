"""Cox partial likelihood vs scikit-survival (Breslow, Efron) and lifelines (Efron) on real data;
Breslow baseline survival vs lifelines."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter
from sksurv.linear_model.coxph import CoxPHOptimizer

from oncoplan.models.adapters import CoxAdapter
from oncoplan.models.losses.cox import cox_partial_likelihood
from oncoplan.preprocess.tabular import TabularPreprocessor


@pytest.fixture(scope="module")
def design(request):
    from oncoplan.data import load_cohort

    cohort = load_cohort("survset:GBSG2")
    numeric, categorical = cohort.feature_types()
    X = TabularPreprocessor(numeric, categorical).fit_transform(cohort.features())
    X = X[:, X.std(axis=0) > 0]
    # drop one level per categorical to avoid collinearity for lifelines
    keep = [i for i in range(X.shape[1]) if i not in (5, 7, 10)]
    return X[:, keep], np.ascontiguousarray(cohort.time), cohort.event.copy()


def nll(risk, time, event, ties):
    return float(
        cox_partial_likelihood(
            torch.tensor(risk),
            torch.tensor(time),
            torch.tensor(event.astype(float)),
            ties=ties,
            reduction="sum",
        )
    )


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_matches_scikit_survival_on_fixed_weights(design, ties):
    X, time, event = design
    w = np.random.default_rng(0).normal(scale=0.3, size=X.shape[1])
    ref = CoxPHOptimizer(X, event, time, alpha=np.zeros(X.shape[1]), ties=ties).nlog_likelihood(w) * len(X)
    assert nll(X @ w, time, event, ties) == pytest.approx(ref, rel=1e-9, abs=1e-6)


def test_efron_matches_lifelines_log_likelihood(design):
    X, time, event = design
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["T"], frame["E"] = time, event.astype(int)
    cph = CoxPHFitter().fit(frame, "T", "E")
    risk = X @ cph.params_.to_numpy()
    assert -nll(risk, time, event, "efron") == pytest.approx(cph.log_likelihood_, abs=1e-6)


def test_breslow_baseline_survival_matches_lifelines(design):
    X, time, event = design
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["T"], frame["E"] = time, event.astype(int)
    cph = CoxPHFitter().fit(frame, "T", "E")
    risk = (X @ cph.params_.to_numpy())[:, None]
    adapter = CoxAdapter()
    adapter.finalize(risk, time, event)
    grid = np.unique(time[event])[::10]
    ours = adapter.survival(risk[:25], grid)
    ref = cph.predict_survival_function(frame.iloc[:25], times=grid).to_numpy().T
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_efron_equals_breslow_without_ties(rng):
    time = rng.permutation(50).astype(float) + 1.0
    event = rng.random(50) < 0.6
    risk = rng.normal(size=50)
    assert nll(risk, time, event, "efron") == pytest.approx(nll(risk, time, event, "breslow"), rel=1e-12)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_gradcheck_float64(ties):
    g = torch.Generator().manual_seed(0)
    risk = torch.randn(12, dtype=torch.float64, generator=g, requires_grad=True)
    time = torch.tensor([1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 7, 8], dtype=torch.float64)
    event = torch.tensor([1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda r: cox_partial_likelihood(r, time, event, ties=ties), (risk,))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=3, max_value=40),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["breslow", "efron"]),
)
def test_loss_invariant_to_row_order(n, seed, ties):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 6, size=n).astype(float)
    event = rng.random(n) < 0.7
    risk = rng.normal(size=n)
    perm = rng.permutation(n)
    a, b = nll(risk, time, event, ties), nll(risk[perm], time[perm], event[perm], ties)
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_no_events_gives_zero_loss():
    loss = cox_partial_likelihood(torch.zeros(3), torch.ones(3), torch.zeros(3))
    assert float(loss) == 0.0
