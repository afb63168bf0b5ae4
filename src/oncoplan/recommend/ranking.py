"""The treatment recommendation: a pure function of per-arm predictions.

:func:`recommend` takes per-member RMST predictions (any model: a deep ensemble, posterior draws, a
bootstrap of a Cox model), optional propensities and out-of-distribution flags, and returns one
:class:`Recommendation` or :class:`~oncoplan.recommend.abstain.Abstention` per patient. It never fits,
loads or calls a model, so the same inputs always give the same outputs.

Utility of arm ``k`` for a member ``m``: ``RMST_mk(tau) - toxicity_penalty[k]`` (penalty in the time unit
of the RMST, days by convention: "this regimen's toxicity is worth N days of restricted mean survival").

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> samples = np.stack([rng.normal([1500, 1300], 10, size=(1, 2)) for _ in range(8)])  # 8 x 1 x 2
    >>> [res] = recommend(["A", "B"], samples, trained_arms=["A", "B"])
    >>> res.best_arm, res.recommended
    ('A', True)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncoplan.errors import ConfigError, ModelError
from oncoplan.recommend.abstain import (
    Abstention,
    AbstentionReason,
    RankedArm,
    gain_is_uncertain,
    overlap_violation,
)

logger = logging.getLogger(__name__)

OVERLAP_ARMS = ("compared", "all")


@dataclass(frozen=True)
class Gain:
    """Expected utility gain of the best arm over the runner-up, with its member-quantile interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """JSON-serialisable view."""
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Recommendation:
    """A recommended arm for ``patient`` with the full ranking and the gain over the runner-up.

    Example:
        >>> r = Recommendation(0, (RankedArm("A", 10.0, 9.0, 11.0), RankedArm("B", 5.0, 4.0, 6.0)),
        ...                    "A", "B", Gain(5.0, 3.0, 7.0), 0.9)
        >>> r.to_dict()["best_arm"]
        'A'
    """

    patient: int | str
    ranking: tuple[RankedArm, ...]
    best_arm: str
    runner_up: str
    gain_vs_next: Gain
    interval_level: float

    recommended = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view."""
        return {
            "patient": self.patient,
            "status": "recommend",
            "best_arm": self.best_arm,
            "runner_up": self.runner_up,
            "gain_vs_next": self.gain_vs_next.to_dict(),
            "interval_level": self.interval_level,
            "ranking": [r.to_dict() for r in self.ranking],
        }


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so results stay JSON-serialisable."""
    return value.item() if isinstance(value, np.generic) else value


def _validate_arms(
    arm_names: Sequence[str],
    trained_arms: Sequence[str],
    requested_arms: Sequence[str] | None,
    toxicity_penalty: Mapping[str, float] | None,
) -> list[int]:
    names = list(arm_names)
    if len(set(names)) != len(names):
        raise ConfigError(f"arm_names must be unique, got {names}")
    unknown = [a for a in trained_arms if a not in names]
    if unknown:
        raise ConfigError(
            f"trained_arms {unknown} have no predictions (arm_names are {names})",
            hint="pass the arms the model was trained on, in the model's output order",
        )
    candidates = names if requested_arms is None else list(requested_arms)
    missing = [a for a in candidates if a not in names]
    if missing:
        raise ConfigError(f"requested arms {missing} are not among the predicted arms {names}")
    untrained = [a for a in candidates if a not in set(trained_arms)]
    if requested_arms is not None and untrained:
        raise ModelError(
            f"cannot recommend arm(s) {untrained}: the model was not trained on them",
            hint=f"compare only trained arms: {', '.join(trained_arms)}",
        )
    if untrained:
        logger.info("arms %s are predicted but were not trained; they are excluded from rankings", untrained)
    penalty_unknown = [a for a in (toxicity_penalty or {}) if a not in names]
    if penalty_unknown:
        raise ConfigError(f"toxicity_penalty names unknown arms {penalty_unknown}")
    return [names.index(a) for a in candidates if a in set(trained_arms)]


def _validate_arrays(
    rmst_samples: np.ndarray,
    n_arms: int,
    propensity: np.ndarray | None,
    ood_flags: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    samples = np.asarray(rmst_samples, dtype=float)
    if samples.ndim != 3 or samples.shape[2] != n_arms:
        raise ConfigError(
            f"rmst_samples must have shape (n_members, n_patients, {n_arms}), got {samples.shape}"
        )
    if samples.shape[0] < 2:
        raise ConfigError(
            "rmst_samples has a single member, so the gain has no uncertainty interval",
            hint="pass ensemble members or posterior draws (n_members >= 2)",
        )
    if not np.all(np.isfinite(samples)):
        raise ConfigError("rmst_samples contains NaN or infinite values")
    n_patients = samples.shape[1]
    if propensity is not None:
        propensity = np.asarray(propensity, dtype=float)
        if propensity.shape != (n_patients, n_arms):
            raise ConfigError(f"propensity must have shape ({n_patients}, {n_arms}), got {propensity.shape}")
        if np.any(~np.isfinite(propensity)) or np.any((propensity < 0) | (propensity > 1)):
            raise ConfigError("propensity must hold probabilities in [0, 1]")
    if ood_flags is None:
        ood = np.zeros(n_patients, dtype=bool)
    else:
        ood = np.asarray(ood_flags)
        if ood.shape != (n_patients,):
            raise ConfigError(f"ood_flags must have shape ({n_patients},), got {ood.shape}")
        ood = ood.astype(bool)
    return samples, propensity, ood


def recommend(
    arm_names: Sequence[str],
    rmst_samples: np.ndarray,
    propensity: np.ndarray | None = None,
    ood_flags: np.ndarray | None = None,
    *,
    trained_arms: Sequence[str],
    toxicity_penalty: Mapping[str, float] | None = None,
    overlap_band: tuple[float, float] = (0.05, 0.95),
    interval_level: float = 0.9,
    requested_arms: Sequence[str] | None = None,
    overlap_arms: str = "compared",
    patient_ids: Sequence[int | str] | None = None,
) -> list[Recommendation | Abstention]:
    """Rank arms per patient by expected utility and recommend the best one, or abstain.

    Args:
        arm_names: names of the arms along the last axis of ``rmst_samples``.
        rmst_samples: ``(n_members, n_patients, n_arms)`` RMST(tau) per ensemble member.
        propensity: optional ``(n_patients, n_arms)`` probabilities of receiving each arm in the data the
            model learned from; needed for the overlap rule.
        ood_flags: optional ``(n_patients,)`` booleans, True where the patient is out of distribution.
        trained_arms: arms the model was trained on (required: there is no default, so an arm can never be
            recommended by accident). Other predicted arms are left out of every ranking.
        toxicity_penalty: optional ``{arm: days}`` subtracted from the arm's RMST.
        overlap_band: ``(low, high)``; a compared arm's propensity outside it triggers ``poor_overlap``.
        interval_level: level of the member-quantile intervals (0.9 = 5% to 95% quantiles).
        requested_arms: compare only these arms; asking for an untrained one raises :class:`ModelError`.
        overlap_arms: ``"compared"`` checks the best arm and the runner-up, ``"all"`` every ranked arm.
        patient_ids: labels for the results (default ``0..n_patients-1``).

    Returns:
        one :class:`Recommendation` or :class:`Abstention` per patient, in input order.

    Example:
        >>> s = np.array([[[10.0, 0.0]], [[12.0, 1.0]], [[11.0, -1.0]]])
        >>> out = recommend(["A", "B"], s, np.array([[0.5, 0.5]]), trained_arms=["A", "B"])
        >>> out[0].best_arm, round(out[0].gain_vs_next.value, 1)
        ('A', 11.0)
    """
    if not 0 < interval_level < 1:
        raise ConfigError(f"interval_level must be in (0, 1), got {interval_level}")
    if not 0 <= overlap_band[0] < overlap_band[1] <= 1:
        raise ConfigError(f"overlap_band must satisfy 0 <= low < high <= 1, got {overlap_band}")
    if overlap_arms not in OVERLAP_ARMS:
        raise ConfigError(f"overlap_arms must be one of {OVERLAP_ARMS}, got {overlap_arms!r}")
    names = list(arm_names)
    cand = _validate_arms(names, trained_arms, requested_arms, toxicity_penalty)
    samples, prop, ood = _validate_arrays(rmst_samples, len(names), propensity, ood_flags)
    n_patients = samples.shape[1]
    ids = list(range(n_patients)) if patient_ids is None else [_plain(x) for x in patient_ids]
    if len(ids) != n_patients:
        raise ConfigError(f"patient_ids has {len(ids)} entries for {n_patients} patients")

    penalty = np.array([float((toxicity_penalty or {}).get(a, 0.0)) for a in names])
    utility = samples[:, :, cand] - penalty[cand]  # members x patients x candidates
    alpha = 1.0 - interval_level
    mean = utility.mean(axis=0)
    low, high = np.quantile(utility, [alpha / 2, 1 - alpha / 2], axis=0)
    order = np.argsort(-mean, axis=1, kind="stable")
    rows = np.arange(n_patients)
    if len(cand) >= 2:  # gain of the best over the runner-up, per member, for every patient at once
        gain = utility[:, rows, order[:, 0]] - utility[:, rows, order[:, 1]]
        gain_low, gain_high = np.quantile(gain, [alpha / 2, 1 - alpha / 2], axis=0)
        parts = zip(gain.mean(axis=0), gain_low, gain_high, strict=True)
        gains = [Gain(float(m), float(lo), float(hi)) for m, lo, hi in parts]
    else:
        gains = [Gain(0.0, 0.0, 0.0)] * n_patients

    results: list[Recommendation | Abstention] = []
    for i in range(n_patients):
        ranking = tuple(
            RankedArm(names[cand[j]], float(mean[i, j]), float(low[i, j]), float(high[i, j]))
            for j in order[i]
        )
        results.append(
            _decide(
                i,
                ids[i],
                ranking,
                gains[i],
                order[i],
                cand,
                names,
                prop,
                ood[i],
                overlap_band,
                overlap_arms,
                interval_level,
            )
        )
    n_abstain = sum(not r.recommended for r in results)
    logger.info("recommend: %d patients, %d abstentions", n_patients, n_abstain)
    return results


def _decide(
    i: int,
    pid: int | str,
    ranking: tuple[RankedArm, ...],
    g: Gain,
    order_i: np.ndarray,
    cand: list[int],
    names: list[str],
    prop: np.ndarray | None,
    is_ood: bool,
    band: tuple[float, float],
    overlap_arms: str,
    level: float,
) -> Recommendation | Abstention:
    if is_ood:
        return Abstention(
            pid,
            AbstentionReason.OUT_OF_DISTRIBUTION,
            "patient flagged out of distribution of the training cohort",
            ranking,
        )
    if len(cand) < 2:
        trained = [names[k] for k in cand]
        return Abstention(
            pid,
            AbstentionReason.ARM_NOT_TRAINED,
            f"only {len(cand)} trained arm(s) to compare ({trained}); need at least two",
            ranking,
        )
    best, nxt = int(order_i[0]), int(order_i[1])
    if prop is not None:
        checked = [cand[best], cand[nxt]] if overlap_arms == "compared" else list(cand)
        detail = overlap_violation(prop[i], names, checked, band)
        if detail is not None:
            return Abstention(pid, AbstentionReason.POOR_OVERLAP, detail, ranking)
    if gain_is_uncertain(g.low, g.high):
        return Abstention(
            pid,
            AbstentionReason.UNCERTAIN_GAIN,
            f"gain of {names[cand[best]]} over {names[cand[nxt]]} is {g.value:.1f} with "
            f"{round(level * 100)}% interval {g.low:.1f} to {g.high:.1f}, which contains 0",
            ranking,
        )
    return Recommendation(pid, ranking, names[cand[best]], names[cand[nxt]], g, level)


def recommendations_to_frame(results: Sequence[Recommendation | Abstention]) -> pd.DataFrame:
    """One row per patient: patient, status, best_arm, reason, gain, gain_low, gain_high, detail.

    Example:
        >>> recommendations_to_frame([]).columns.tolist()[:3]
        ['patient', 'status', 'best_arm']
    """
    rows = []
    for r in results:
        rec = isinstance(r, Recommendation)
        rows.append(
            {
                "patient": r.patient,
                "status": "recommend" if rec else "abstain",
                "best_arm": r.best_arm if rec else None,
                "reason": None if rec else AbstentionReason(r.reason).value,
                "gain": r.gain_vs_next.value if rec else np.nan,
                "gain_low": r.gain_vs_next.low if rec else np.nan,
                "gain_high": r.gain_vs_next.high if rec else np.nan,
                "detail": None if rec else r.detail,
            }
        )
    cols = ["patient", "status", "best_arm", "reason", "gain", "gain_low", "gain_high", "detail"]
    return pd.DataFrame(rows, columns=cols)


def policy_arms(
    results: Sequence[Recommendation | Abstention],
    fallback: str | Sequence[str] | np.ndarray | None = None,
) -> np.ndarray:
    """Arm per patient for policy evaluation; abstentions get ``fallback`` (an arm, or one per patient).

    With ``fallback=None`` abstentions stay ``None`` and policy evaluation will refuse them, so a treatment
    is never filled in silently. A common explicit choice is the received arm (``fallback=received``):
    "follow the recommendation when there is one, otherwise usual care".

    Example:
        >>> policy_arms([], fallback="A").tolist()
        []
    """
    n = len(results)
    if fallback is None or isinstance(fallback, str):
        fb = np.full(n, fallback, dtype=object)
    else:
        fb = np.asarray(fallback, dtype=object)
        if fb.shape != (n,):
            raise ConfigError(f"fallback must be one arm or {n} arms, got shape {fb.shape}")
    out = np.empty(n, dtype=object)
    for i, r in enumerate(results):
        out[i] = r.best_arm if isinstance(r, Recommendation) else fb[i]
    return out
