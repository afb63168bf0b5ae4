"""Fast DeLong vs a brute-force O(m n) DeLong and scikit-learn's AUC; paired bootstrap differences."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from oncoplan.errors import CohortError
from oncoplan.evaluate.binary import auc_roc
from oncoplan.evaluate.compare import bootstrap_p_value, delong_covariance, delong_test, paired_difference
from oncoplan.evaluate.survival import harrell_c


def _brute_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. 1988 directly: placement values from all positive-negative pairs."""
    v10s, v01s, aucs = [], [], []
    for s in scores:
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        aucs.append(psi.mean())
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
    m, n = len(v10s[0]), len(v01s[0])
    cov = np.cov(np.vstack(v10s)) / m + np.cov(np.vstack(v01s)) / n
    return np.array(aucs), cov


@pytest.fixture(scope="module")
def two_models(gbsg2):
    y = (gbsg2.event & (gbsg2.time <= 3 * 365.0)).astype(int)
    known = gbsg2.event | (gbsg2.time > 3 * 365.0)
    rng = np.random.default_rng(0)
    a = gbsg2.risk[known]
    b = np.round(a + rng.normal(scale=0.5, size=len(a)), 1)  # a noisier model with tied scores
    return y[known], a, b


def test_fast_delong_equals_brute_force_and_sklearn(two_models) -> None:
    y, a, b = two_models
    aucs, cov = delong_covariance(y, a, b)
    ref_aucs, ref_cov = _brute_delong(y, [a, b])
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-12)
    assert aucs[0] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert aucs[1] == pytest.approx(roc_auc_score(y, b), abs=1e-12)


def test_delong_test_statistics(two_models) -> None:
    y, a, b = two_models
    res = delong_test(y, a, b)
    _, cov = _brute_delong(y, [a, b])
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert res.std_error == pytest.approx(se, rel=1e-10)
    assert res.z == pytest.approx((res.auc_a - res.auc_b) / se, rel=1e-10)
    assert 0 < res.p_value < 1
    assert res.ci_low < res.difference < res.ci_high
    same = delong_test(y, a, a)
    assert same.difference == 0 and same.p_value == 1.0


def test_delong_rejects_only_with_a_real_difference() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    good = y + rng.normal(size=500)
    bad = y * 0.2 + rng.normal(size=500)
    assert delong_test(y, good, bad).p_value < 1e-4
    equal_p = [delong_test(y, y + rng.normal(size=500), y + rng.normal(size=500)).p_value for _ in range(40)]
    assert np.mean(np.array(equal_p) < 0.05) <= 0.15


def test_delong_needs_both_classes() -> None:
    with pytest.raises(CohortError, match="positives"):
        delong_test([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])


def test_paired_difference_on_survival_and_binary(gbsg2, two_models) -> None:
    noisy = gbsg2.risk + np.random.default_rng(2).normal(scale=2.0, size=len(gbsg2.risk))
    cmp = paired_difference(
        harrell_c, gbsg2.risk, noisy, gbsg2.event, gbsg2.time, n_boot=150, stratify=gbsg2.event
    )
    assert cmp.value_a == pytest.approx(harrell_c(gbsg2.event, gbsg2.time, gbsg2.risk))
    assert cmp.difference.value == pytest.approx(cmp.value_a - cmp.value_b, abs=1e-12)
    assert cmp.difference.ci_low > 0 and cmp.p_value < 0.05
    y, a, _ = two_models
    same = paired_difference(auc_roc, a, a, y, n_boot=50, stratify=y)
    assert same.difference.value == 0 and same.p_value == 1.0


def test_bootstrap_p_value_tails() -> None:
    assert bootstrap_p_value(np.linspace(0.1, 1.0, 99)) == pytest.approx(2 / 100)
    assert bootstrap_p_value(np.linspace(-1, 1, 101)) == 1.0


def test_vectorised_paired_difference_equals_the_loop(gbsg2) -> None:
    from oncoplan.evaluate.survival_bootstrap import HARRELL_C

    other = gbsg2.risk + np.random.default_rng(0).normal(scale=0.5, size=len(gbsg2.risk))
    args = (gbsg2.risk, other, gbsg2.event, gbsg2.time)
    slow = paired_difference(harrell_c, *args, n_boot=40, seed=2, stratify=gbsg2.event)
    fast = paired_difference(HARRELL_C, *args, n_boot=40, seed=2, stratify=gbsg2.event)
    np.testing.assert_allclose(fast.difference.replicates, slow.difference.replicates, atol=1e-10)
    assert (fast.value_a, fast.value_b, fast.p_value) == pytest.approx(
        (slow.value_a, slow.value_b, slow.p_value), abs=1e-12
    )
