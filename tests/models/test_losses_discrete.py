"""Logistic-hazard and PC-hazard losses against float64 brute force, pycox (when installed) and likelihoods
built from the heads' survival curves, on GBSG2 (SurvSet) with fixed random weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from SurvSet.data import SurvLoader

from oncoplan.errors import ModelError
from oncoplan.models.heads.discrete import (
    interpolate_survival,
    survival_logistic_hazard,
    survival_pc_hazard,
)
from oncoplan.models.losses.discrete import nll_logistic_hazard, nll_pc_hazard
from oncoplan.models.time_grid import TimeGrid

_spec = importlib.util.spec_from_file_location(
    "_pycox_reference", Path(__file__).with_name("_pycox_reference.py")
)
_ref = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_ref)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def gbsg2() -> dict[str, np.ndarray]:
    df, _ = SurvLoader().load_dataset("GBSG2").values()
    x = df.filter(like="num_").to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    return {"x": x, "time": df["time"].to_numpy(float), "event": df["event"].to_numpy(float)}


def _logits(x: np.ndarray, n_out: int, seed: int = 0) -> torch.Tensor:
    w = np.random.default_rng(seed).normal(size=(x.shape[1], n_out))
    return torch.tensor(x @ w, dtype=torch.float64)


def brute_nll_logistic_hazard(phi: np.ndarray, idx: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """-log L_i = -[sum_{j<k} log(1-h_j) + d log h_k + (1-d) log(1-h_k)], one patient at a time."""
    out = np.empty(len(idx))
    for i in range(len(idx)):
        log_h = -np.logaddexp(0.0, -phi[i])  # log sigmoid, without cancellation
        log_1m_h = -np.logaddexp(0.0, phi[i])  # log(1 - sigmoid)
        k = idx[i]
        ll = np.sum(log_1m_h[:k]) + (log_h[k] if ev[i] else log_1m_h[k])
        out[i] = -ll
    return out


def brute_nll_pc_hazard(phi: np.ndarray, idx: np.ndarray, ev: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """-log L_i = -[d log eta_k - frac eta_k - sum_{j<k} eta_j], eta = softplus(phi); rows k=-1 dropped."""
    out = []
    for i in range(len(idx)):
        k = idx[i]
        if k < 0:
            continue
        eta = np.log1p(np.exp(phi[i]))
        out.append(-(ev[i] * np.log(eta[k]) - frac[i] * eta[k] - eta[:k].sum()))
    return np.array(out)


@pytest.mark.parametrize("scheme,n_cuts", [("quantiles", 10), ("equidistant", 25)])
def test_logistic_hazard_matches_brute_force(gbsg2, scheme, n_cuts):
    grid = TimeGrid(n_cuts, scheme=scheme).fit(gbsg2["time"], gbsg2["event"])
    idx, ev = grid.transform(gbsg2["time"], gbsg2["event"])
    phi = _logits(gbsg2["x"], len(grid.cuts))
    got = nll_logistic_hazard(phi, torch.tensor(idx), torch.tensor(ev), reduction="none").numpy()
    want = brute_nll_logistic_hazard(phi.numpy(), idx, ev)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    mean = nll_logistic_hazard(phi, torch.tensor(idx), torch.tensor(ev))
    assert float(mean) == pytest.approx(want.mean(), rel=1e-12)
    total = nll_logistic_hazard(phi, torch.tensor(idx), torch.tensor(ev), reduction="sum")
    assert float(total) == pytest.approx(want.sum(), rel=1e-12)


def test_logistic_hazard_equals_likelihood_from_survival_curve(gbsg2):
    """Event in (t_{k-1}, t_k]: L = S(t_{k-1}) h_k = S(t_{k-1}) - S(t_k); censored at t_k: L = S(t_k)."""
    grid = TimeGrid(15).fit(gbsg2["time"], gbsg2["event"])
    idx, ev = grid.transform(gbsg2["time"], gbsg2["event"])
    phi = _logits(gbsg2["x"], len(grid.cuts), seed=3)
    surv = survival_logistic_hazard(phi).numpy()
    surv_prev = np.concatenate([np.ones((len(idx), 1)), surv[:, :-1]], axis=1)
    rows = np.arange(len(idx))
    lik = np.where(ev == 1, surv_prev[rows, idx] - surv[rows, idx], surv[rows, idx])
    got = nll_logistic_hazard(phi, torch.tensor(idx), torch.tensor(ev), reduction="none").numpy()
    np.testing.assert_allclose(got, -np.log(lik), rtol=1e-9)


@pytest.mark.parametrize("scheme,n_cuts", [("quantiles", 10), ("equidistant", 25)])
def test_pc_hazard_matches_brute_force(gbsg2, scheme, n_cuts):
    grid = TimeGrid(n_cuts, scheme=scheme).fit(gbsg2["time"], gbsg2["event"])
    idx, ev, frac = grid.transform_pc(gbsg2["time"], gbsg2["event"])
    phi = _logits(gbsg2["x"], grid.n_intervals, seed=1)
    args = (phi, torch.tensor(idx), torch.tensor(ev), torch.tensor(frac))
    got = nll_pc_hazard(*args, reduction="none").numpy()
    np.testing.assert_allclose(got, brute_nll_pc_hazard(phi.numpy(), idx, ev, frac), rtol=1e-12, atol=1e-12)


def test_pc_hazard_is_continuous_likelihood_up_to_constant(gbsg2):
    """-log[lambda(t)^d S(t)], lambda = eta_k / width_k, S = the head's survival curve at the real t."""
    grid = TimeGrid(12).fit(gbsg2["time"], gbsg2["event"])
    time, event = gbsg2["time"], gbsg2["event"]
    idx, ev, frac = grid.transform_pc(time, event)
    phi = _logits(gbsg2["x"], grid.n_intervals, seed=2)
    surv_t = interpolate_survival(survival_pc_hazard(phi), grid.cuts, time, scheme="const_hazard").numpy()
    surv_t = surv_t[np.arange(len(time)), np.arange(len(time))]
    eta = np.log1p(np.exp(phi.numpy()))[np.arange(len(time)), idx]
    width = np.diff(grid.cuts)[idx]
    nll_continuous = -(ev * np.log(eta / width) + np.log(surv_t))
    got = nll_pc_hazard(
        phi, torch.tensor(idx), torch.tensor(ev), torch.tensor(frac), reduction="none"
    ).numpy()
    np.testing.assert_allclose(got + ev * np.log(width), nll_continuous, rtol=1e-9)


def test_losses_match_pycox(gbsg2):
    pycox = _ref.load_pycox()
    if pycox is None:
        pytest.skip("pycox not installed (pip install --no-deps pycox torchtuples to run this comparison)")
    loss = pycox["loss"]
    grid = TimeGrid(20).fit(gbsg2["time"], gbsg2["event"])
    idx, ev = grid.transform(gbsg2["time"], gbsg2["event"])
    phi = _logits(gbsg2["x"], len(grid.cuts), seed=4)
    it, et = torch.tensor(idx), torch.tensor(ev)
    assert float(nll_logistic_hazard(phi, it, et)) == pytest.approx(
        float(loss.nll_logistic_hazard(phi, it, et)), abs=1e-12
    )
    idx, ev, frac = grid.transform_pc(gbsg2["time"], gbsg2["event"])
    args = (phi[:, :-1], torch.tensor(idx), torch.tensor(ev), torch.tensor(frac))
    assert float(nll_pc_hazard(*args)) == pytest.approx(float(loss.nll_pc_hazard_loss(*args)), abs=1e-8)


def _small_problem(seed: int, n: int = 9, m: int = 5):
    g = torch.Generator().manual_seed(seed)
    phi = torch.randn(n, m, generator=g, dtype=torch.float64)
    idx = torch.randint(0, m, (n,), generator=g)
    ev = torch.randint(0, 2, (n,), generator=g).to(torch.float64)
    frac = torch.rand(n, generator=g, dtype=torch.float64)
    return phi, idx, ev, frac


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradcheck(reduction):
    phi, idx, ev, frac = _small_problem(0)
    phi.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: nll_logistic_hazard(p, idx, ev, reduction), (phi,))
    assert torch.autograd.gradcheck(lambda p: nll_pc_hazard(p, idx, ev, frac, reduction), (phi,))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_losses_invariant_to_row_order(seed, perm_seed):
    phi, idx, ev, frac = _small_problem(seed)
    perm = torch.randperm(len(idx), generator=torch.Generator().manual_seed(perm_seed))
    a = nll_logistic_hazard(phi, idx, ev)
    b = nll_logistic_hazard(phi[perm], idx[perm], ev[perm])
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    a = nll_pc_hazard(phi, idx, ev, frac)
    b = nll_pc_hazard(phi[perm], idx[perm], ev[perm], frac[perm])
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_errors_name_the_problem():
    phi = torch.zeros(3, 4)
    with pytest.raises(ModelError, match="only 4 outputs"):
        nll_logistic_hazard(phi, torch.tensor([0, 1, 4]), torch.ones(3))
    with pytest.raises(ModelError, match="shape"):
        nll_logistic_hazard(phi, torch.tensor([0, 1]), torch.ones(2))
    with pytest.raises(ModelError, match="reduction"):
        nll_logistic_hazard(phi, torch.tensor([0, 1, 2]), torch.ones(3), reduction="avg")
