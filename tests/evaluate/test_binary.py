"""Binary metrics vs scikit-learn and by-hand counts; thresholds are only ever chosen on validation data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from oncoplan.errors import ConfigError
from oncoplan.evaluate import binary as bm
from oncoplan.evaluate.horizon import horizon_labels
from oncoplan.evaluate.survival import survival_at


@pytest.fixture(scope="module")
def horizon_data(gbsg2):
    """Real data: GBSG2 test half, event by 3 years vs Cox-predicted probability 1 - S(3y)."""
    h = 3 * 365.0
    lab = horizon_labels(gbsg2.event, gbsg2.time, h, censoring="exclude")
    prob = 1.0 - survival_at(gbsg2.curves, None, [h])[:, 0]
    y, p, _ = lab.select(prob)
    return y, p


def test_metrics_equal_sklearn_and_hand_counts(horizon_data) -> None:
    y, p = horizon_data
    thr = bm.Threshold.fixed(0.4)
    pred = (p >= 0.4).astype(int)
    tp = np.sum((pred == 1) & (y == 1))
    tn = np.sum((pred == 0) & (y == 0))
    fp = np.sum((pred == 1) & (y == 0))
    fn = np.sum((pred == 0) & (y == 1))
    assert bm.auc_roc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert bm.auc_pr(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert bm.brier(y, p) == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
    assert bm.accuracy(y, p, thr) == pytest.approx((tp + tn) / len(y), abs=1e-12)
    assert bm.sensitivity(y, p, thr) == pytest.approx(tp / (tp + fn), abs=1e-12)
    assert bm.specificity(y, p, thr) == pytest.approx(tn / (tn + fp), abs=1e-12)
    assert bm.precision(y, p, thr) == pytest.approx(tp / (tp + fp), abs=1e-12)
    assert bm.f1(y, p, thr) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)


def test_youden_threshold_matches_brute_force(horizon_data) -> None:
    y, p = horizon_data
    thr = bm.choose_threshold(y, p, rule="youden")
    best = max(np.unique(p), key=lambda c: (np.mean(p[y == 1] >= c) + np.mean(p[y == 0] < c), c))
    assert thr.value == pytest.approx(best)
    assert thr.chosen_on == "validation" and thr.n_validation == len(y)


def test_sensitivity_rule_reaches_target_with_best_specificity(horizon_data) -> None:
    y, p = horizon_data
    thr = bm.choose_threshold(y, p, rule="sensitivity", target_sensitivity=0.9)
    assert np.mean(p[y == 1] >= thr.value) >= 0.9
    higher = np.unique(p[p > thr.value])
    assert all(np.mean(p[y == 1] >= c) < 0.9 for c in higher)


def _shifted_split(seed: int) -> tuple[np.ndarray, ...]:
    """Validation and test sets whose optimal thresholds differ (the test scores are shifted up)."""
    rng = np.random.default_rng(seed)
    y_val = rng.integers(0, 2, 400)
    s_val = y_val + rng.normal(size=400)
    y_test = rng.integers(0, 2, 400)
    s_test = y_test + rng.normal(size=400) + 1.5
    return y_val, s_val, y_test, s_test


def test_report_uses_the_validation_threshold_not_a_test_tuned_one() -> None:
    y_val, s_val, y_test, s_test = _shifted_split(0)
    thr = bm.choose_threshold(y_val, s_val, rule="youden")
    rep = bm.binary_report(y_test, s_test, thr, n_boot=30, seed=0)
    at_val_thr = np.mean(s_test[y_test == 1] >= thr.value)
    test_tuned = bm.choose_threshold(y_test, s_test, rule="youden")
    at_test_thr = np.mean(s_test[y_test == 1] >= test_tuned.value)
    assert abs(at_val_thr - at_test_thr) > 0.05  # the two thresholds give visibly different answers
    assert rep["sensitivity"].value == pytest.approx(at_val_thr, abs=1e-12)
    # the same, but choosing the threshold on the test data is refused outright
    with pytest.raises(ConfigError, match="same data"):
        bm.binary_report(y_test, s_test, test_tuned, n_boot=10)


def test_threshold_metrics_refuse_a_bare_number() -> None:
    with pytest.raises(ConfigError, match="Threshold"):
        bm.sensitivity([0, 1], [0.2, 0.8], 0.5)  # type: ignore[arg-type]


def test_binary_report_intervals_and_stratification(horizon_data) -> None:
    y, p = horizon_data
    rep = bm.binary_report(y, p, bm.Threshold.fixed(0.4), n_boot=100, seed=1)
    assert set(rep) == {
        "auc_roc",
        "auc_pr",
        "accuracy",
        "sensitivity",
        "specificity",
        "precision",
        "f1",
        "brier",
    }
    for res in rep.values():
        assert res.ci_low <= res.value <= res.ci_high
        assert res.n_failed == 0
    # stratified on y: the prevalence is identical in every resample, so the CI of a prevalence-only metric
    # (accuracy of an all-positive rule) collapses to a point
    everyone = bm.binary_report(y, np.ones_like(p), bm.Threshold.fixed(0.5), n_boot=50)
    assert everyone["accuracy"].ci_low == everyone["accuracy"].ci_high == pytest.approx(y.mean())


def test_weighted_metrics_pass_weights_to_sklearn(horizon_data) -> None:
    y, p = horizon_data
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    assert bm.auc_roc(y, p, w) == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert bm.brier(y, p, w) == pytest.approx(np.sum(w * (p - y) ** 2) / w.sum(), abs=1e-12)
