"""Weibull and log-normal AFT likelihoods against lifelines fits on GBSG2 (SurvSet) and scipy.stats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import LogNormalAFTFitter, WeibullAFTFitter
from scipy import stats
from SurvSet.data import SurvLoader

from oncoplan.errors import ModelError
from oncoplan.models.heads.parametric import LogNormalHead, WeibullHead, survival_lognormal, survival_weibull
from oncoplan.models.losses.parametric import nll_lognormal_aft, nll_weibull_aft

# (lifelines fitter, oncoplan head, lifelines name of the location and spread parameters)
MODELS = {
    "weibull": (WeibullAFTFitter, WeibullHead, "lambda_", "rho_"),
    "lognormal": (LogNormalAFTFitter, LogNormalHead, "mu_", "sigma_"),
}


@pytest.fixture(scope="module")
def gbsg2() -> pd.DataFrame:
    df, _ = SurvLoader().load_dataset("GBSG2").values()
    cols = [c for c in df if c.startswith("num_")]
    x = df[cols].to_numpy(float)
    out = pd.DataFrame((x - x.mean(0)) / x.std(0), columns=cols)
    out["T"] = df["time"].to_numpy(float)
    out["E"] = df["event"].to_numpy(int)
    return out


def _tensors(data: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    z = torch.tensor(data.drop(columns=["T", "E"]).to_numpy(), dtype=torch.float64)
    return z, torch.tensor(data["T"].to_numpy()), torch.tensor(data["E"].to_numpy(float))


def _load_lifelines_params(head, fitter, loc: str, spread: str, cols: list[str]) -> None:
    p = fitter.params_
    with torch.no_grad():
        head.location.weight.copy_(torch.tensor(p[loc][cols].to_numpy()).view(1, -1))
        head.location.bias.fill_(float(p[loc]["Intercept"]))
        if head.ancillary:
            head.log_spread.weight.copy_(torch.tensor(p[spread][cols].to_numpy()).view(1, -1))
            head.log_spread.bias.fill_(float(p[spread]["Intercept"]))
        else:
            head.log_spread_const.fill_(float(p[spread]["Intercept"]))


@pytest.mark.parametrize("ancillary", [False, True])
@pytest.mark.parametrize("name", ["weibull", "lognormal"])
def test_loglik_at_lifelines_estimate_equals_lifelines(gbsg2, name, ancillary):
    fitter_cls, head_cls, loc, spread = MODELS[name]
    fitter = fitter_cls().fit(gbsg2, "T", "E", ancillary=ancillary)
    cols = [c for c in gbsg2 if c.startswith("num_")]
    head = head_cls(len(cols), ancillary=ancillary).double()
    _load_lifelines_params(head, fitter, loc, spread, cols)
    z, t, e = _tensors(gbsg2)
    with torch.no_grad():
        loglik = -float(head.loss(head(z), t, e, reduction="sum"))
    assert loglik == pytest.approx(fitter.log_likelihood_, rel=1e-12)
    # the closed-form survival equals lifelines' prediction
    times = np.array([100.0, 500.0, 1000.0, 2000.0])
    want = fitter.predict_survival_function(gbsg2.iloc[:20], times=times).to_numpy().T
    with torch.no_grad():
        got = head.survival(head(z[:20]), times).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["weibull", "lognormal"])
def test_lbfgs_fit_agrees_with_lifelines(gbsg2, name):
    fitter_cls, head_cls, loc, spread = MODELS[name]
    fitter = fitter_cls().fit(gbsg2, "T", "E")
    z, t, e = _tensors(gbsg2)
    torch.manual_seed(0)
    head = head_cls(z.shape[1]).double()
    with torch.no_grad():
        head.location.bias.fill_(float(np.log(gbsg2["T"].mean())))
    opt = torch.optim.LBFGS(
        head.parameters(),
        lr=1.0,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = head.loss(head(z), t, e)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    with torch.no_grad():
        loglik = -float(head.loss(head(z), t, e, reduction="sum"))
    # both are maxima of the same likelihood: equal to 1e-9 relative (torch may be marginally higher)
    assert loglik == pytest.approx(fitter.log_likelihood_, rel=1e-9)
    assert loglik >= fitter.log_likelihood_ - 1e-7
    cols = [c for c in gbsg2 if c.startswith("num_")]
    p = fitter.params_
    np.testing.assert_allclose(
        head.location.weight.detach().numpy().ravel(), p[loc][cols].to_numpy(), atol=1e-4
    )
    assert float(head.location.bias.detach()) == pytest.approx(float(p[loc]["Intercept"]), abs=1e-4)
    assert float(head.log_spread_const.detach()) == pytest.approx(float(p[spread]["Intercept"]), abs=1e-4)


def test_per_patient_likelihood_matches_scipy(gbsg2):
    rng = np.random.default_rng(0)
    n = len(gbsg2)
    a, b = rng.normal(7.0, 0.5, n), rng.normal(0.0, 0.3, n)
    t, e = gbsg2["T"].to_numpy(), gbsg2["E"].to_numpy(float)
    args = (torch.tensor(a), torch.tensor(b), torch.tensor(t), torch.tensor(e))
    weib = stats.weibull_min(c=np.exp(b), scale=np.exp(a))
    want = -np.where(e == 1, weib.logpdf(t), weib.logsf(t))
    np.testing.assert_allclose(nll_weibull_aft(*args, reduction="none").numpy(), want, rtol=1e-12)
    logn = stats.lognorm(s=np.exp(b), scale=np.exp(a))
    want = -np.where(e == 1, logn.logpdf(t), logn.logsf(t))
    np.testing.assert_allclose(nll_lognormal_aft(*args, reduction="none").numpy(), want, rtol=1e-12)
    params = torch.tensor(np.stack([a, b], 1))
    np.testing.assert_allclose(survival_weibull(params, t).numpy().diagonal(), weib.sf(t), rtol=1e-10)
    np.testing.assert_allclose(survival_lognormal(params, t).numpy().diagonal(), logn.sf(t), rtol=1e-10)


@pytest.mark.parametrize("loss_fn", [nll_weibull_aft, nll_lognormal_aft])
def test_gradcheck(loss_fn):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(10, generator=g, dtype=torch.float64, requires_grad=True)
    b = (0.3 * torch.randn(10, generator=g, dtype=torch.float64)).requires_grad_(True)
    t = torch.rand(10, generator=g, dtype=torch.float64) * 3 + 0.1
    e = torch.randint(0, 2, (10,), generator=g).double()
    assert torch.autograd.gradcheck(lambda a_, b_: loss_fn(a_, b_, t, e), (a, b))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_losses_invariant_to_row_order(seed, perm_seed):
    g = torch.Generator().manual_seed(seed)
    a, b = (
        torch.randn(12, generator=g, dtype=torch.float64),
        torch.randn(12, generator=g, dtype=torch.float64),
    )
    t = torch.rand(12, generator=g, dtype=torch.float64) + 0.01
    e = torch.randint(0, 2, (12,), generator=g).double()
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(perm_seed))
    for fn in (nll_weibull_aft, nll_lognormal_aft):
        torch.testing.assert_close(
            fn(a, b, t, e), fn(a[perm], b[perm], t[perm], e[perm]), rtol=1e-12, atol=1e-12
        )


def test_nonpositive_time_is_rejected():
    with pytest.raises(ModelError, match="time"):
        nll_weibull_aft(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, 0.0]), torch.ones(2))
    with pytest.raises(ModelError, match="shape"):
        nll_lognormal_aft(torch.zeros(3), torch.zeros(2), torch.ones(2), torch.ones(2))
