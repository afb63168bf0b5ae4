"""When oncoplan declines to recommend a treatment, and why.

An :class:`Abstention` is a first-class result, not an error: it says which safety rule fired
(:class:`AbstentionReason`) and carries the ranking that *would* have been shown, so a clinician sees
the numbers together with the reason they are not a recommendation.

Rules (checked in this order by :func:`oncoplan.recommend.ranking.recommend`):

1. ``out_of_distribution`` - the patient was flagged out of the training distribution.
2. ``arm_not_trained`` - fewer than two trained arms are left to compare.
3. ``poor_overlap`` - the propensity of a compared arm lies outside the overlap band, so the
   observational data carry little information about that arm for patients like this one.
4. ``uncertain_gain`` - the interval of the gain of the best arm over the runner-up contains zero.

Example:
    >>> a = Abstention(patient=0, reason=AbstentionReason.UNCERTAIN_GAIN, detail="gain interval -3 to 12")
    >>> a.to_dict()["reason"]
    'uncertain_gain'
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class AbstentionReason(str, enum.Enum):  # noqa: UP042 - enum.StrEnum needs Python 3.11, we support 3.10
    """Why no treatment is recommended for a patient."""

    UNCERTAIN_GAIN = "uncertain_gain"
    POOR_OVERLAP = "poor_overlap"
    OUT_OF_DISTRIBUTION = "out_of_distribution"
    ARM_NOT_TRAINED = "arm_not_trained"


class RankedArm(NamedTuple):
    """One arm in a ranking: expected utility and its interval over ensemble members."""

    arm: str
    expected_value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view."""
        return {"arm": self.arm, "expected_value": self.expected_value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Abstention:
    """No recommendation for ``patient``; ``reason`` names the rule, ``detail`` explains it in words.

    Example:
        >>> Abstention(patient="p1", reason=AbstentionReason.POOR_OVERLAP, detail="p(B)=0.01").recommended
        False
    """

    patient: int | str
    reason: AbstentionReason
    detail: str
    ranking: tuple[RankedArm, ...] = field(default=())

    recommended = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (``reason`` as its string value)."""
        return {
            "patient": self.patient,
            "status": "abstain",
            "reason": AbstentionReason(self.reason).value,
            "detail": self.detail,
            "ranking": [r.to_dict() for r in self.ranking],
        }


def overlap_violation(
    propensity_row: np.ndarray,
    arm_names: Sequence[str],
    arm_indices: Sequence[int],
    band: tuple[float, float],
) -> str | None:
    """Describe which of ``arm_indices`` have a propensity outside ``band`` (``None`` if all inside).

    Example:
        >>> overlap_violation(np.array([0.97, 0.02, 0.01]), ["A", "B", "C"], [0, 1], (0.05, 0.95))
        'propensity outside the overlap band [0.05, 0.95]: p(A)=0.970, p(B)=0.020'
    """
    low, high = band
    bad = [k for k in arm_indices if not low <= float(propensity_row[k]) <= high]
    if not bad:
        return None
    parts = ", ".join(f"p({arm_names[k]})={float(propensity_row[k]):.3f}" for k in bad)
    return f"propensity outside the overlap band [{low:g}, {high:g}]: {parts}"


def gain_is_uncertain(low: float, high: float) -> bool:
    """True when the gain interval ``[low, high]`` contains zero (a gain of exactly 0 counts as uncertain).

    Example:
        >>> gain_is_uncertain(-1.0, 5.0), gain_is_uncertain(0.5, 5.0)
        (True, False)
    """
    return bool(low <= 0.0 <= high)
