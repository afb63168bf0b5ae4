"""Every abstention rule fires on its own case, in the documented order, and serialises cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oncoplan.errors import CohortError
from oncoplan.evaluate.policy import policy_value_ipw
from oncoplan.recommend.abstain import Abstention, AbstentionReason, gain_is_uncertain, overlap_violation
from oncoplan.recommend.ranking import Recommendation, policy_arms, recommend

ARMS = ["A", "B", "C"]


def _members(means, spread, members=30, seed=0):
    rng = np.random.default_rng(seed)
    means = np.asarray(means, dtype=float)
    return means[None] + spread * rng.standard_normal((members,) + means.shape)


CLEAR = [[1500.0, 1200.0, 1000.0]]  # A beats B by 300 days


def test_uncertain_gain():
    s = _members([[1500.0, 1490.0, 1000.0]], spread=40.0)
    [res] = recommend(ARMS, s, trained_arms=ARMS)
    assert isinstance(res, Abstention) and not res.recommended
    assert res.reason is AbstentionReason.UNCERTAIN_GAIN
    assert "contains 0" in res.detail and "A over B" in res.detail
    assert [r.arm for r in res.ranking][0] == "A"  # the numbers are still shown
    [confident] = recommend(ARMS, _members(CLEAR, spread=40.0), trained_arms=ARMS)
    assert isinstance(confident, Recommendation)


def test_uncertain_gain_depends_on_interval_level():
    s = _members([[1500.0, 1450.0, 1000.0]], spread=30.0, members=200, seed=3)
    gain = s[:, 0, 0] - s[:, 0, 1]
    assert np.quantile(gain, 0.25) > 0 > np.quantile(gain, 0.01)  # the case is decided by the level
    [narrow] = recommend(ARMS, s, trained_arms=ARMS, interval_level=0.5)
    [wide] = recommend(ARMS, s, trained_arms=ARMS, interval_level=0.98)
    assert narrow.recommended and wide.reason is AbstentionReason.UNCERTAIN_GAIN


@pytest.mark.parametrize("p_row", [[0.97, 0.02, 0.01], [0.5, 0.02, 0.48], [0.96, 0.03, 0.01]])
def test_poor_overlap_for_best_or_runner_up(p_row):
    [res] = recommend(ARMS, _members(CLEAR, 10.0), np.array([p_row]), trained_arms=ARMS)
    assert res.reason is AbstentionReason.POOR_OVERLAP
    assert "p(" in res.detail and "[0.05, 0.95]" in res.detail


def test_overlap_of_a_third_arm_matters_only_with_overlap_arms_all():
    p = np.array([[0.5, 0.48, 0.02]])  # C (ranked last) is rarely given to patients like this
    s = _members(CLEAR, 10.0)
    [compared] = recommend(ARMS, s, p, trained_arms=ARMS)
    [strict] = recommend(ARMS, s, p, trained_arms=ARMS, overlap_arms="all")
    assert compared.recommended and compared.best_arm == "A"
    assert strict.reason is AbstentionReason.POOR_OVERLAP and "p(C)=0.020" in strict.detail
    [wide_band] = recommend(ARMS, s, p, trained_arms=ARMS, overlap_arms="all", overlap_band=(0.01, 0.99))
    assert wide_band.recommended


def test_out_of_distribution():
    s = _members(CLEAR * 3, 10.0)
    res = recommend(ARMS, s, np.full((3, 3), 1 / 3), np.array([False, True, False]), trained_arms=ARMS)
    assert [r.recommended for r in res] == [True, False, True]
    assert res[1].reason is AbstentionReason.OUT_OF_DISTRIBUTION


def test_arm_not_trained():
    s = _members([[1000.0, 1500.0, 1200.0]], 10.0)
    [single] = recommend(ARMS, s, trained_arms=["A"])
    assert single.reason is AbstentionReason.ARM_NOT_TRAINED and "need at least two" in single.detail
    [none] = recommend(ARMS, s, trained_arms=[])
    assert none.reason is AbstentionReason.ARM_NOT_TRAINED
    # B has the best predictions but was not trained: it is left out, never recommended
    [res] = recommend(ARMS, s, trained_arms=["A", "C"])
    assert res.best_arm == "C" and [r.arm for r in res.ranking] == ["C", "A"]


def test_rule_precedence():
    s = _members([[1500.0, 1495.0, 1000.0]], spread=40.0)  # uncertain gain ...
    p = np.array([[0.97, 0.02, 0.01]])  # ... and poor overlap ...
    ood = np.array([True])  # ... and out of distribution
    assert recommend(ARMS, s, p, ood, trained_arms=ARMS)[0].reason is AbstentionReason.OUT_OF_DISTRIBUTION
    assert recommend(ARMS, s, p, ood, trained_arms=["A"])[0].reason is AbstentionReason.OUT_OF_DISTRIBUTION
    assert recommend(ARMS, s, p, trained_arms=["A"])[0].reason is AbstentionReason.ARM_NOT_TRAINED
    assert recommend(ARMS, s, p, trained_arms=ARMS)[0].reason is AbstentionReason.POOR_OVERLAP
    assert recommend(ARMS, s, trained_arms=ARMS)[0].reason is AbstentionReason.UNCERTAIN_GAIN


def test_abstention_serialises_and_is_never_filled_in():
    s = _members([[1500.0, 1200.0, 1000.0], [1500.0, 1499.0, 1000.0]], spread=30.0)
    results = recommend(ARMS, s, trained_arms=ARMS, patient_ids=["p1", "p2"])
    payload = json.loads(json.dumps([r.to_dict() for r in results]))
    assert payload[1] == {**payload[1], "patient": "p2", "status": "abstain", "reason": "uncertain_gain"}
    assert len(payload[1]["ranking"]) == 3
    arms = policy_arms(results)
    assert arms.tolist() == ["A", None]
    with pytest.raises(CohortError, match="row 1"):
        policy_value_ipw(np.array([5.0, 6.0]), np.array([1, 1]), np.array(["A", "B"]), arms, np.ones(2), 4.0)
    assert policy_arms(results, fallback="B").tolist() == ["A", "B"]
    assert policy_arms(results, fallback=np.array(["C", "C"])).tolist() == ["A", "C"]


def test_helpers():
    assert gain_is_uncertain(-1.0, 1.0) and gain_is_uncertain(0.0, 3.0) and not gain_is_uncertain(0.1, 3.0)
    assert overlap_violation(np.array([0.5, 0.5]), ["A", "B"], [0, 1], (0.05, 0.95)) is None
    assert AbstentionReason("poor_overlap") is AbstentionReason.POOR_OVERLAP
    assert {r.value for r in AbstentionReason} == {
        "uncertain_gain",
        "poor_overlap",
        "out_of_distribution",
        "arm_not_trained",
    }
