"""Off-policy evaluation of treatment policies with a right-censored survival outcome (RMST at ``tau``).

Written by hand: no well-kept Python library offers policy value estimation for censored survival
(lifelines and scikit-survival estimate curves and models, econml/DoWhy policy tools assume uncensored
outcomes). The pieces are standard:

* **IPW Kaplan-Meier** (:func:`policy_value_ipw`): among patients whose received arm equals the policy's
  arm, a Kaplan-Meier curve with case weights ``1 / p(received arm | x)`` (Xie & Liu, Stat Med 2005;
  used for policy value by Jiang et al., JASA 2017); the value is that curve's RMST(tau). Censoring is
  handled by the Kaplan-Meier product limit itself, which is algebraically identical to inverse
  probability of censoring weighting with the (weighted) Kaplan-Meier censoring distribution (Satten &
  Datta, Am Stat 2001). The estimate is self-normalised (Hajek type) because the weighted hazard
  ``d_w(t) / n_w(t)`` does not change when all weights are scaled. Assumes no unmeasured confounding
  given the propensity model and censoring independent of survival in the reweighted population.
* **Doubly robust / AIPW** (:func:`policy_value_dr`): ``mean_i[ mu_pi(x_i) + 1{A_i = pi(x_i)} /
  p(A_i | x_i) * (Y*_i - mu_{A_i}(x_i)) ]`` where ``mu_k(x)`` is the RMST(tau) of the model's predicted
  survival curve for arm ``k`` and ``Y*_i`` a pseudo-outcome for ``min(T_i, tau)``. The plain IPCW
  pseudo-outcome is ``Y*_i = Delta_i * min(T_i, tau) / G(min(T_i, tau)-)``: ``Delta_i = 1`` when
  ``min(T, tau)`` is observed (an event, or follow-up reaching tau), ``G`` the Kaplan-Meier survival of the
  censoring time (by default within the received arm), with events taken to precede censorings at tied
  times; with ``mu = 0`` and every patient following the policy with ``p = 1`` its mean equals the
  Kaplan-Meier RMST exactly. The default is its augmented version (:func:`aipcw_rmst_pseudo_outcome`),
  which replaces the 0 of a censored patient by the model's conditional expectation and the matching
  compensator; on the semi-synthetic benchmark it cut the DR error about threefold (RMSE 50 -> 17 days
  for a treat-all policy). Consistent when either the outcome model or the propensity model is right
  (censoring model right in both cases).

Example:
    >>> import numpy as np
    >>> t = np.array([5.0, 8.0, 3.0, 9.0]); e = np.array([1, 0, 1, 1])
    >>> a = np.array(["A", "A", "B", "B"]); p = np.full(4, 0.5)
    >>> round(policy_value_ipw(t, e, a, np.array(["A"] * 4), p, tau=6.0), 3)
    5.5
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncoplan.errors import CohortError, ConfigError, describe_rows
from oncoplan.evaluate.bootstrap import bootstrap
from oncoplan.evaluate.censoring import (  # noqa: F401  (re-exported: the policy API in one place)
    _check_survival_data,
    _km_parts,
    _step_integral_at,
    aipcw_rmst_pseudo_outcome,
    censoring_survival_before,
    ipcw_rmst_pseudo_outcome,
    km_rmst,
    weighted_kaplan_meier,
)
from oncoplan.evaluate.crossfit import cross_fit_folds, cross_fit_predict  # noqa: F401
from oncoplan.evaluate.followed import FollowedComparison, recommended_vs_not  # noqa: F401
from oncoplan.recommend.rmst import rmst_from_curves

logger = logging.getLogger(__name__)


def _arm_codes(labels: np.ndarray, arms: Sequence[Any], field_name: str) -> np.ndarray:
    lab = np.asarray(labels, dtype=object)
    missing = np.flatnonzero(np.array([x is None for x in lab], dtype=bool))
    if len(missing):
        raise CohortError(
            f"{field_name} is missing (None) in {describe_rows(missing)}",
            hint="policy evaluation needs an arm for every patient; use policy_arms(..., fallback=...)",
        )
    lookup = {a: k for k, a in enumerate(arms)}
    codes = np.array([lookup.get(x, -1) for x in lab], dtype=int)
    unknown = np.flatnonzero(codes < 0)
    if len(unknown):
        raise CohortError(
            f"{field_name} has arms not in {list(arms)} in {describe_rows(unknown)}",
            hint="pass arms covering every label",
        )
    return codes


def _check_propensity(p: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    bad = np.flatnonzero(~np.isfinite(p) | (p <= 0) | (p > 1)) if p.ndim == 1 else np.array([], dtype=int)
    if p.ndim == 2:
        bad = np.flatnonzero(np.any(~np.isfinite(p) | (p < 0) | (p > 1), axis=1))
    if len(bad):
        raise CohortError(f"{name} must hold probabilities in (0, 1]; invalid in {describe_rows(bad)}")
    return p


def policy_value_ipw(
    time: np.ndarray,
    event: np.ndarray,
    received_arm: np.ndarray,
    recommended_arm: np.ndarray,
    propensity_of_received: np.ndarray,
    tau: float,
) -> float:
    """RMST(tau) under a policy by the inverse-probability-weighted Kaplan-Meier (see the module docstring).

    Args:
        time, event: observed follow-up time and event indicator per patient.
        received_arm: arm each patient received.
        recommended_arm: arm the policy assigns to each patient (no ``None``).
        propensity_of_received: ``p(received arm | x)`` per patient, in (0, 1].
        tau: RMST horizon.

    Example:
        >>> t = np.array([5.0, 8.0]); e = np.array([1, 0]); a = np.array(["A", "A"])
        >>> policy_value_ipw(t, e, a, a, np.array([0.5, 0.5]), tau=6.0)
        5.5
    """
    t, e = _check_survival_data(time, event)
    rec = np.asarray(recommended_arm, dtype=object)
    missing = np.flatnonzero(np.array([x is None for x in rec], dtype=bool))
    if len(missing):
        raise CohortError(
            f"recommended_arm is None in {describe_rows(missing)}",
            hint="use policy_arms(..., fallback=...) to choose an arm for abstentions",
        )
    follow = np.asarray(received_arm, dtype=object) == rec
    p = _check_propensity(propensity_of_received, "propensity_of_received")
    if not follow.any():
        raise CohortError("no patient received the arm the policy recommends; the IPW value is undefined")
    return km_rmst(t[follow], e[follow], tau, weights=1.0 / p[follow])


PSEUDO_OUTCOMES = ("aipcw", "ipcw")


def _dr_scores(
    a: np.ndarray, pi: np.ndarray, prop: np.ndarray, mu: np.ndarray, pseudo: np.ndarray
) -> np.ndarray:
    """Per-patient AIPW scores ``mu_pi + 1{A = pi} / p(A) * (Y* - mu_A)``; their mean is the DR value."""
    rows = np.arange(len(a))
    p_a = prop[rows, a]
    follow = a == pi
    if np.any(follow & (p_a <= 0)):
        bad = np.flatnonzero(follow & (p_a <= 0))
        raise CohortError(
            f"propensity of the received arm is 0 in {describe_rows(bad)} (who follow the policy)"
        )
    correction = np.where(follow, (pseudo - mu[rows, a]) / np.where(follow, p_a, 1.0), 0.0)
    return mu[rows, pi] + correction


def _pseudo(
    t: np.ndarray,
    e: np.ndarray,
    a: np.ndarray,
    pred: np.ndarray,
    times: np.ndarray,
    tau: float,
    kind: str,
    censoring_by_arm: bool,
) -> np.ndarray:
    if kind not in PSEUDO_OUTCOMES:
        raise ConfigError(f"pseudo_outcome must be one of {PSEUDO_OUTCOMES}, got {kind!r}")
    strata = a if censoring_by_arm else None
    if kind == "ipcw":
        return ipcw_rmst_pseudo_outcome(t, e, tau, strata)
    return aipcw_rmst_pseudo_outcome(t, e, tau, pred[np.arange(len(a)), a], times, strata)


def _dr_inputs(
    time: np.ndarray,
    event: np.ndarray,
    received_arm: np.ndarray,
    propensity: np.ndarray,
    survival_pred: np.ndarray,
    times: np.ndarray,
    tau: float,
    arms: Sequence[Any],
) -> tuple[np.ndarray, ...]:
    t, e = _check_survival_data(time, event)
    a = _arm_codes(received_arm, arms, "received_arm")
    prop = _check_propensity(propensity, "propensity")
    pred = np.asarray(survival_pred, dtype=float)
    if pred.shape[:2] != (len(t), len(arms)) or prop.shape != (len(t), len(arms)):
        raise ConfigError(
            f"survival_pred must be ({len(t)}, {len(arms)}, n_times) and propensity ({len(t)}, {len(arms)}); "
            f"got {pred.shape} and {prop.shape}"
        )
    # a model's grid may end at its last event time before tau: its curves are flat from there on, which
    # holds up to the last follow-up time (beyond it nothing was observed)
    if tau > float(np.max(t)):
        raise ConfigError(f"tau={tau:g} lies beyond the follow-up (last time {float(np.max(t)):g})")
    return t, e, a, prop, pred, rmst_from_curves(pred, times, tau, extrapolate=True)


def policy_value_dr(
    time: np.ndarray,
    event: np.ndarray,
    received_arm: np.ndarray,
    recommended_arm: np.ndarray,
    propensity: np.ndarray,
    survival_pred: np.ndarray,
    times: np.ndarray,
    tau: float,
    arms: Sequence[Any],
    *,
    pseudo_outcome: str = "aipcw",
    censoring_by_arm: bool = True,
) -> float:
    """Doubly robust (AIPW) RMST(tau) of a policy (formula in the module docstring).

    Args:
        propensity: ``(n_patients, n_arms)``, columns in the order of ``arms``.
        survival_pred: ``(n_patients, n_arms, n_times)`` predicted survival per arm (cross-fitted, ideally).
        times: grid of ``survival_pred``; must reach ``tau``.
        arms: arm labels, mapping ``received_arm``/``recommended_arm`` to columns.
        pseudo_outcome: ``"aipcw"`` (default; :func:`aipcw_rmst_pseudo_outcome`, augmented with the
            survival model, much lower variance) or ``"ipcw"`` (:func:`ipcw_rmst_pseudo_outcome`).
        censoring_by_arm: estimate the censoring distribution within each received arm.

    Example:
        >>> t = np.array([5.0, 8.0]); e = np.array([1, 0]); a = np.array(["A", "A"])
        >>> s = np.ones((2, 1, 3)) * np.array([1.0, 0.5, 0.5])
        >>> policy_value_dr(t, e, a, a, np.ones((2, 1)), s, np.array([0.0, 4.0, 10.0]), 6.0, ["A"])
        5.5
    """
    t, e, a, prop, pred, mu = _dr_inputs(
        time, event, received_arm, propensity, survival_pred, times, tau, arms
    )
    pi = _arm_codes(recommended_arm, arms, "recommended_arm")
    pseudo = _pseudo(t, e, a, pred, times, tau, pseudo_outcome, censoring_by_arm)
    return float(np.mean(_dr_scores(a, pi, prop, mu, pseudo)))


def _ipw_metric(tau: float, policy: int | None) -> Callable[..., float]:
    def metric(t: np.ndarray, e: np.ndarray, a: np.ndarray, pi: np.ndarray, prop: np.ndarray) -> float:
        follow = a == (pi if policy is None else policy)
        if not follow.any():
            raise ValueError("no patient follows the policy in this resample")
        return km_rmst(t[follow], e[follow], tau, weights=1.0 / prop[follow, a[follow]])

    return metric


def evaluate_policies(
    time: np.ndarray,
    event: np.ndarray,
    received_arm: np.ndarray,
    recommended_arm: np.ndarray,
    propensity: np.ndarray,
    arms: Sequence[Any],
    tau: float,
    *,
    survival_pred: np.ndarray | None = None,
    times: np.ndarray | None = None,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    pseudo_outcome: str = "aipcw",
    censoring_by_arm: bool = True,
) -> pd.DataFrame:
    """Values of the recommended policy, every treat-all-with-arm-k policy and the observed policy.

    Each value comes with a bootstrap CI, resampling patients within received arm. Estimators: ``ipw_km``
    for every policy (the weighted Kaplan-Meier is refitted in every resample), ``dr`` as well when
    ``survival_pred`` and ``times`` are given (per-patient AIPW scores are computed once, with the censoring
    and outcome models held fixed, and their mean is bootstrapped), and ``km`` (plain Kaplan-Meier of the
    whole cohort) for the observed policy.

    Returns:
        tidy DataFrame with columns policy, estimator, value, ci_low, ci_high, level, n_boot,
        n_followers, ess (Kish effective sample size of the IPW weights among followers);
        ``table.attrs["overlap"]`` holds :func:`oncoplan.evaluate.overlap.overlap_report` of the propensities
        (with a warning when more than 10% of patients lie outside the 0.05-0.95 band).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = rng.exponential(10, 60); e = rng.random(60) < 0.8; a = np.repeat(["A", "B"], 30)
        >>> df = evaluate_policies(t, e, a, a[::-1], np.full((60, 2), 0.5), ["A", "B"], 8.0, n_boot=20)
        >>> df.policy.tolist()
        ['recommended', 'treat_all:A', 'treat_all:B', 'observed']
    """
    t, e = _check_survival_data(time, event)
    arms = list(arms)
    a = _arm_codes(received_arm, arms, "received_arm")
    pi = _arm_codes(recommended_arm, arms, "recommended_arm")
    prop = _check_propensity(propensity, "propensity")
    if prop.shape != (len(t), len(arms)):
        raise ConfigError(f"propensity must have shape ({len(t)}, {len(arms)}), got {prop.shape}")
    if (survival_pred is None) != (times is None):
        raise ConfigError("survival_pred and times must be given together")
    scores_for = None
    if survival_pred is not None:
        _, _, _, _, pred, mu = _dr_inputs(t, e, a, prop, survival_pred, times, tau, list(range(len(arms))))
        pseudo = _pseudo(t, e, a, pred, times, tau, pseudo_outcome, censoring_by_arm)

        def scores_for(target: np.ndarray) -> np.ndarray:
            return _dr_scores(a, target, prop, mu, pseudo)

    boot_kw = {"n_boot": n_boot, "level": level, "stratify": a, "seed": seed}
    rows = []
    policies = [("recommended", None)] + [(f"treat_all:{arm}", k) for k, arm in enumerate(arms)]
    for name, policy in policies:
        target = pi if policy is None else np.full(len(a), policy)
        follow = a == target
        w = 1.0 / prop[follow, a[follow]]
        common = {
            "policy": name,
            "level": level,
            "n_boot": n_boot,
            "n_followers": int(follow.sum()),
            "ess": float(w.sum() ** 2 / np.sum(w**2)) if follow.any() else 0.0,
        }
        if not follow.any():
            logger.warning("policy %s: no patient received its arm; its value is undefined", name)
            rows.append(
                {**common, "estimator": "ipw_km", "value": np.nan, "ci_low": np.nan, "ci_high": np.nan}
            )
        else:
            res = bootstrap(
                _ipw_metric(float(tau), policy), t, e, a, pi, prop, name=f"{name} ipw_km", **boot_kw
            )
            rows.append(
                {
                    **common,
                    "estimator": "ipw_km",
                    "value": res.value,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                }
            )
        if scores_for is not None:
            res = bootstrap(np.mean, scores_for(target), name=f"{name} dr", **boot_kw)
            rows.append(
                {
                    **common,
                    "estimator": "dr",
                    "value": res.value,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                }
            )
    obs = bootstrap(lambda tt, ee: km_rmst(tt, ee, float(tau)), t, e, name="observed km", **boot_kw)
    rows.append(
        {
            "policy": "observed",
            "estimator": "km",
            "value": obs.value,
            "ci_low": obs.ci_low,
            "ci_high": obs.ci_high,
            "level": level,
            "n_boot": n_boot,
            "n_followers": len(t),
            "ess": float(len(t)),
        }
    )
    cols = ["policy", "estimator", "value", "ci_low", "ci_high", "level", "n_boot", "n_followers", "ess"]
    table = pd.DataFrame(rows)[cols]
    from oncoplan.evaluate.overlap import overlap_report  # local import: overlap imports this module

    table.attrs["overlap"] = overlap_report(prop, [str(arm) for arm in arms]).to_dict()
    return table
