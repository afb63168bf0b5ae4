"""DeepHit PMF likelihood and ranking loss (single and competing risks) against float64 brute force,
pycox (when installed) and the likelihood read off the head's survival curve, on GBSG2 (SurvSet)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from SurvSet.data import SurvLoader

from oncoplan.errors import ModelError
from oncoplan.models.heads.deephit import survival_deephit
from oncoplan.models.losses.deephit import deephit_loss, nll_pmf, pair_rank_mat, rank_loss_deephit
from oncoplan.models.time_grid import TimeGrid

_path = Path(__file__).with_name("_pycox_reference.py")
_spec = importlib.util.spec_from_file_location("_pycox_reference", _path)
_ref = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_ref)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def gbsg2() -> dict[str, np.ndarray]:
    df, _ = SurvLoader().load_dataset("GBSG2").values()
    x = df.filter(like="num_").to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    time, event = df["time"].to_numpy(float), df["event"].to_numpy(float)
    grid = TimeGrid(15).fit(time, event)
    idx, ev = grid.transform(time, event)
    cause = np.where(ev > 0, np.random.default_rng(7).integers(1, 3, size=len(ev)), 0)  # 2 synthetic causes
    return {"x": x, "idx": idx, "ev": ev, "cause": cause, "m": len(grid.cuts)}


def _logits(x: np.ndarray, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    w = np.random.default_rng(seed).normal(size=(x.shape[1], int(np.prod(shape))))
    return torch.tensor(x @ w, dtype=torch.float64).view(-1, *shape)


def brute_nll_pmf(phi: np.ndarray, idx: np.ndarray, cause: np.ndarray) -> np.ndarray:
    """phi (n, K, m); pmf = softmax over K*m slots + one 0-logit; event: -log pmf[k, j]; else -log S(t_j)."""
    out = np.empty(len(idx))
    for i in range(len(idx)):
        flat = np.append(phi[i].ravel(), 0.0)
        log_pmf = (flat - logsumexp(flat))[:-1].reshape(phi[i].shape)
        if cause[i] > 0:
            out[i] = -log_pmf[cause[i] - 1, idx[i]]
        else:
            later = np.append(log_pmf[:, idx[i] + 1 :].ravel(), -logsumexp(flat))  # past-grid slot
            out[i] = -logsumexp(later)
    return out


def brute_rank(phi: np.ndarray, idx: np.ndarray, cause: np.ndarray, sigma: float) -> float:
    """sum_k mean_ij 1{cause_i=k, (T_i<T_j or T_i=T_j, j censored)} exp(-(F_ki(T_i)-F_kj(T_i))/sigma)."""
    n, n_risks, _ = phi.shape
    flat = np.concatenate([phi.reshape(n, -1), np.zeros((n, 1))], axis=1)
    pmf = (np.exp(flat - logsumexp(flat, axis=1, keepdims=True))[:, :-1]).reshape(phi.shape)
    cif = pmf.cumsum(2)
    total = 0.0
    for k in range(n_risks):
        acc = 0.0
        for i in range(n):
            if cause[i] != k + 1:
                continue
            for j in range(n):
                if idx[i] < idx[j] or (idx[i] == idx[j] and cause[j] == 0):
                    acc += np.exp(-(cif[i, k, idx[i]] - cif[j, k, idx[i]]) / sigma)
        total += acc / (n * n)
    return total


def test_nll_pmf_single_risk_matches_brute_force_and_survival(gbsg2):
    phi = _logits(gbsg2["x"], (gbsg2["m"],))
    idx, ev = torch.tensor(gbsg2["idx"]), torch.tensor(gbsg2["ev"])
    got = nll_pmf(phi, idx, ev, reduction="none").numpy()
    want = brute_nll_pmf(phi.numpy()[:, None, :], gbsg2["idx"], gbsg2["ev"].astype(int))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # direct likelihood from the survival curve: event P(T = t_k) = S(t_{k-1}) - S(t_k); censored S(t_k)
    surv = survival_deephit(phi).numpy()
    prev = np.concatenate([np.ones((len(surv), 1)), surv[:, :-1]], axis=1)
    rows = np.arange(len(surv))
    lik = np.where(
        gbsg2["ev"] == 1, prev[rows, gbsg2["idx"]] - surv[rows, gbsg2["idx"]], surv[rows, gbsg2["idx"]]
    )
    np.testing.assert_allclose(np.exp(-got), lik, rtol=1e-9, atol=1e-14)  # S differences cancel for tiny P


def test_nll_pmf_competing_risks_matches_brute_force(gbsg2):
    phi = _logits(gbsg2["x"], (2, gbsg2["m"]), seed=1)
    got = nll_pmf(phi, torch.tensor(gbsg2["idx"]), torch.tensor(gbsg2["cause"]), reduction="none").numpy()
    np.testing.assert_allclose(got, brute_nll_pmf(phi.numpy(), gbsg2["idx"], gbsg2["cause"]), rtol=1e-12)


@pytest.mark.parametrize("n_risks", [1, 2])
def test_rank_loss_matches_brute_force(gbsg2, n_risks):
    sub = slice(0, 150)  # the brute force is O(n^2) in python
    shape = (gbsg2["m"],) if n_risks == 1 else (n_risks, gbsg2["m"])
    phi = _logits(gbsg2["x"][sub], shape, seed=2)
    causes = gbsg2["ev"][sub].astype(int) if n_risks == 1 else gbsg2["cause"][sub]
    got = rank_loss_deephit(phi, torch.tensor(gbsg2["idx"][sub]), torch.tensor(causes), sigma=0.3)
    phi3 = phi.numpy()[:, None, :] if n_risks == 1 else phi.numpy()
    assert float(got) == pytest.approx(brute_rank(phi3, gbsg2["idx"][sub], causes, 0.3), rel=1e-12)


def test_deephit_loss_is_weighted_sum(gbsg2):
    phi = _logits(gbsg2["x"], (gbsg2["m"],), seed=3)
    idx, ev = torch.tensor(gbsg2["idx"]), torch.tensor(gbsg2["ev"])
    want = 0.3 * nll_pmf(phi, idx, ev) + 0.7 * rank_loss_deephit(phi, idx, ev, 0.5)
    torch.testing.assert_close(deephit_loss(phi, idx, ev, alpha=0.3, sigma=0.5), want, rtol=1e-14, atol=0)


def test_losses_match_pycox(gbsg2):
    pycox = _ref.load_pycox()
    if pycox is None:
        pytest.skip("pycox not installed (pip install --no-deps pycox torchtuples to run this comparison)")
    loss, data = pycox["loss"], pycox["data"]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # pycox builds helper tensors in the default dtype
    try:
        _compare_with_pycox(gbsg2, loss, data)
    finally:
        torch.set_default_dtype(default)


def _compare_with_pycox(gbsg2, loss, data) -> None:
    idx, ev = torch.tensor(gbsg2["idx"]), torch.tensor(gbsg2["ev"])
    phi = _logits(gbsg2["x"], (gbsg2["m"],), seed=4)
    rank_mat = torch.tensor(data.pair_rank_mat(gbsg2["idx"], gbsg2["ev"], "float64"))
    torch.testing.assert_close(pair_rank_mat(idx, ev).double(), rank_mat)
    # pycox adds 1e-7 inside log(); ours is exact, so the NLL differs by O(1e-7)
    assert float(nll_pmf(phi, idx, ev)) == pytest.approx(float(loss.nll_pmf(phi, idx, ev)), abs=1e-6)
    ours = float(rank_loss_deephit(phi, idx, ev, 0.1))
    assert ours == pytest.approx(float(loss.rank_loss_deephit_single(phi, idx, ev, rank_mat, 0.1)), rel=1e-12)
    ref_total = float(loss.DeepHitSingleLoss(0.2, 0.1)(phi, idx, ev, rank_mat))
    assert float(deephit_loss(phi, idx, ev, 0.2, 0.1)) == pytest.approx(ref_total, abs=1e-6)
    cause = torch.tensor(gbsg2["cause"])
    phi2 = _logits(gbsg2["x"], (2, gbsg2["m"]), seed=5)
    rank_mat2 = torch.tensor(data.pair_rank_mat(gbsg2["idx"], gbsg2["cause"], "float64"))
    want = float(loss.rank_loss_deephit_cr(phi2, idx, cause, rank_mat2, 0.1))
    assert float(rank_loss_deephit(phi2, idx, cause, 0.1)) == pytest.approx(want, rel=1e-12)
    # pycox's competing-risks NLL is exactly -log(p + 1e-7) per row where ours is -log(p)
    ours_rows = nll_pmf(phi2, idx, cause, reduction="none").numpy()
    ref_rows = loss.nll_pmf_cr(phi2, idx, cause, reduction="none").numpy()
    np.testing.assert_allclose(-np.log(np.exp(-ours_rows) + 1e-7), ref_rows, rtol=1e-9, atol=1e-9)


def _small(seed: int, n_risks: int, n: int = 8, m: int = 4):
    g = torch.Generator().manual_seed(seed)
    phi = torch.randn(n, n_risks, m, generator=g, dtype=torch.float64)
    idx = torch.randint(0, m, (n,), generator=g)
    cause = torch.randint(0, n_risks + 1, (n,), generator=g).to(torch.float64)
    return (phi[:, 0] if n_risks == 1 else phi), idx, cause


@pytest.mark.parametrize("n_risks", [1, 2])
def test_gradcheck(n_risks):
    phi, idx, cause = _small(0, n_risks)
    phi.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: nll_pmf(p, idx, cause), (phi,))
    assert torch.autograd.gradcheck(lambda p: rank_loss_deephit(p, idx, cause, 0.2), (phi,))
    assert torch.autograd.gradcheck(lambda p: deephit_loss(p, idx, cause, 0.4, 0.2, "sum"), (phi,))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000), n_risks=st.sampled_from([1, 2]))
def test_losses_invariant_to_row_order(seed, perm_seed, n_risks):
    phi, idx, cause = _small(seed, n_risks)
    perm = torch.randperm(len(idx), generator=torch.Generator().manual_seed(perm_seed))
    for fn in (nll_pmf, rank_loss_deephit, deephit_loss):
        torch.testing.assert_close(
            fn(phi, idx, cause), fn(phi[perm], idx[perm], cause[perm]), rtol=1e-12, atol=1e-12
        )


def test_bad_cause_is_rejected():
    with pytest.raises(ModelError, match="cause"):
        nll_pmf(torch.zeros(2, 2, 3), torch.tensor([0, 1]), torch.tensor([0, 3]))
    with pytest.raises(ModelError, match="sigma"):
        rank_loss_deephit(torch.zeros(2, 3), torch.tensor([0, 1]), torch.tensor([1, 0]), sigma=0.0)
