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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from oncoplan.errors import CohortError, ConfigError, ModelError, describe_rows
from oncoplan.evaluate.bootstrap import bootstrap
from oncoplan.recommend.rmst import rmst_from_curves

logger = logging.getLogger(__name__)


def _check_survival_data(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.ndim != 1 or e.shape != t.shape:
        raise CohortError(f"time and event must be 1-d of equal length, got {t.shape} and {e.shape}")
    bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if len(bad):
        raise CohortError(f"time must be finite and >= 0; invalid in {describe_rows(bad)}")
    return t, e.astype(bool)


def _km_parts(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=weights * event, minlength=len(ut))
    c = np.bincount(inv, weights=weights * ~event, minlength=len(ut))
    total = np.bincount(inv, weights=weights, minlength=len(ut))
    at_risk = total[::-1].cumsum()[::-1]
    return ut, d, c, at_risk


def weighted_kaplan_meier(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival with case weights, on the timeline ``0`` + unique observed times.

    ``S(t) = prod_{u <= t} (1 - d_w(u) / n_w(u))`` with weighted event counts ``d_w`` and weighted risk sets
    ``n_w``; the same estimator as ``lifelines.KaplanMeierFitter().fit(..., weights=weights)``, vectorised.

    Example:
        >>> weighted_kaplan_meier(np.array([1.0, 2.0]), np.array([1, 1]))[1].tolist()
        [1.0, 0.5, 0.0]
    """
    t, e = _check_survival_data(time, event)
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != t.shape or np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ConfigError("weights must be finite, > 0 and one per patient")
    ut, d, _, at_risk = _km_parts(t, e, w)
    surv = np.cumprod(1.0 - d / at_risk)
    if ut[0] > 0:
        return np.concatenate([[0.0], ut]), np.concatenate([[1.0], surv])
    return ut, surv


def km_rmst(time: np.ndarray, event: np.ndarray, tau: float, weights: np.ndarray | None = None) -> float:
    """RMST(tau) of the (weighted) Kaplan-Meier curve; beyond the last time the curve is held flat.

    Example:
        >>> km_rmst(np.array([1.0, 2.0]), np.array([1, 1]), tau=3.0)
        1.5
    """
    grid, surv = weighted_kaplan_meier(time, event, weights)
    return float(rmst_from_curves(surv[None, :], grid, tau, extrapolate=True)[0])


def censoring_survival_before(
    time: np.ndarray, event: np.ndarray, query: np.ndarray, strata: np.ndarray | None = None
) -> np.ndarray:
    """``G(q-) = P(C >= q)`` from the Kaplan-Meier of the censoring times (events precede ties).

    At a time with ``d`` events, ``c`` censorings and ``n`` at risk the censoring hazard is ``c / (n - d)``.
    With ``strata`` the censoring curve is estimated within each stratum and ``query[i]`` is read off the
    curve of stratum ``strata[i]``.

    Example:
        >>> t, e = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
        >>> censoring_survival_before(t, e, np.array([3.0])).tolist()
        [0.5]
    """
    t, e = _check_survival_data(time, event)
    q = np.asarray(query, dtype=float)

    def g_before(mask: np.ndarray, q_sub: np.ndarray) -> np.ndarray:
        ut, d, c, at_risk = _km_parts(t[mask], e[mask], np.ones(int(mask.sum())))
        denom = at_risk - d
        hazard = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
        g_after = np.cumprod(1.0 - hazard)
        idx = np.searchsorted(ut, q_sub, side="left") - 1
        return np.where(idx >= 0, g_after[np.maximum(idx, 0)], 1.0)

    if strata is None:
        return g_before(np.ones(len(t), dtype=bool), q)
    groups = np.asarray(strata)
    if groups.shape != t.shape or q.shape != t.shape:
        raise ConfigError("with strata, query and strata must have one entry per patient")
    out = np.ones(len(q))
    for g in np.unique(groups):
        mask = groups == g
        out[mask] = g_before(mask, q[mask])
    return out


def ipcw_rmst_pseudo_outcome(
    time: np.ndarray, event: np.ndarray, tau: float, strata: np.ndarray | None = None
) -> np.ndarray:
    """IPCW pseudo-outcome ``Delta * min(T, tau) / G(min(T, tau)-)`` whose mean estimates E[min(T, tau)].

    Example:
        >>> ipcw_rmst_pseudo_outcome(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), tau=5.0).tolist()
        [1.0, 0.0, 6.0]
    """
    t, e = _check_survival_data(time, event)
    y = np.minimum(t, float(tau))
    observed = e | (t >= tau)
    g = censoring_survival_before(t, e, y, strata)
    return np.where(observed, y / np.where(observed, g, 1.0), 0.0)


def _step_integral_at(values: np.ndarray, knots: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S(u) and int_0^u S for step curves ``values`` (rows) on ``knots`` (starting at 0) at points ``u``."""
    cum = np.concatenate(
        [np.zeros((len(values), 1)), np.cumsum(values[:, :-1] * np.diff(knots), axis=1)], axis=1
    )
    m = np.searchsorted(knots, u, side="right") - 1
    return values[:, m], cum[:, m] + values[:, m] * (u - knots[m])


def aipcw_rmst_pseudo_outcome(
    time: np.ndarray,
    event: np.ndarray,
    tau: float,
    survival_received: np.ndarray,
    times: np.ndarray,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """Augmented IPCW pseudo-outcome for ``min(T, tau)`` (Tsiatis 2006, ch. 9; Bai et al. 2017).

    ``Y* = Delta Y / G(Y-) + (1 - Delta) Q(C) / G(C) - sum_{u < min(Y~, tau), at risk} Q(u) dL_C(u) / G(u)``
    with ``Q(u) = E[min(T, tau) | T > u, x, a] = u + int_u^tau S(s) ds / S(u)`` read off the patient's
    predicted survival curve for the arm received (``survival_received``, ``(n_patients, n_times)`` on
    ``times``) and ``G``/``Lambda_C`` the censoring Kaplan-Meier (within ``strata``). Unbiased when either the
    censoring or the survival model is right; with a right survival model censored patients get their
    conditional expectation instead of 0, which cuts the variance of the IPCW pseudo-outcome.

    Example:
        >>> t, e = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
        >>> s = np.array([[1.0, 0.5, 0.0, 0.0]] * 3)
        >>> aipcw_rmst_pseudo_outcome(t, e, 5.0, s, np.array([0.0, 1.0, 2.0, 5.0])).round(3).tolist()
        [1.0, 2.0, 4.0]
    """
    t, e = _check_survival_data(time, event)
    grid = np.asarray(times, dtype=float)
    curves = np.asarray(survival_received, dtype=float)
    if curves.shape != (len(t), len(grid)):
        raise ConfigError(f"survival_received must have shape ({len(t)}, {len(grid)}), got {curves.shape}")
    rmst_tau = rmst_from_curves(curves, grid, tau)
    if grid[0] > 0:
        knots, values = np.concatenate([[0.0], grid]), np.concatenate([np.ones((len(t), 1)), curves], axis=1)
    else:
        knots, values = grid, curves
    y = np.minimum(t, float(tau))
    observed = e | (t >= tau)
    pseudo = ipcw_rmst_pseudo_outcome(t, e, tau, strata)
    groups = np.zeros(len(t), dtype=int) if strata is None else np.asarray(strata)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        ut, d, c, at_risk = _km_parts(t[idx], e[idx], np.ones(len(idx)))
        denom = at_risk - d
        lam = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
        g_after = np.cumprod(1.0 - lam)
        jump = (c > 0) & (ut < tau)
        uc, lam_c, g_c = ut[jump], lam[jump], g_after[jump]
        if len(uc) == 0:
            continue
        for rows in np.array_split(idx, max(1, len(idx) * len(uc) // 2_000_000)):
            surv_u, int_u = _step_integral_at(values[rows], knots, uc)
            q = uc[None, :] + np.divide(
                rmst_tau[rows, None] - int_u, surv_u, out=np.zeros_like(int_u), where=surv_u > 0
            )
            cens = ~observed[rows]
            at_risk_c = np.where(cens[:, None], uc[None, :] <= y[rows, None], uc[None, :] < y[rows, None])
            comp = np.sum(np.where(at_risk_c, q * (lam_c / g_c)[None, :], 0.0), axis=1)
            pos = np.clip(np.searchsorted(uc, y[rows]), 0, len(uc) - 1)
            q_c = q[np.arange(len(rows)), pos]
            pseudo[rows] += np.where(cens, q_c / g_c[pos], 0.0) - comp
    return pseudo


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
    return t, e, a, prop, pred, rmst_from_curves(pred, times, tau)


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


@dataclass(frozen=True)
class FollowedComparison:
    """Patients treated as recommended vs not (the DeepSurv-style view; descriptive, not causal).

    ``hazard_ratio`` is followed vs not followed (below 1: followers fare better).
    """

    n_followed: int
    n_not_followed: int
    logrank_p: float
    hazard_ratio: float
    hr_ci_low: float
    hr_ci_high: float
    level: float
    km: pd.DataFrame = field(repr=False)
    rmst_followed: float | None = None
    rmst_not_followed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (the KM curves as a list of records)."""
        out = {
            k: getattr(self, k)
            for k in (
                "n_followed",
                "n_not_followed",
                "logrank_p",
                "hazard_ratio",
                "hr_ci_low",
                "hr_ci_high",
                "level",
                "rmst_followed",
                "rmst_not_followed",
            )
        }
        out["km"] = self.km.to_dict(orient="records")
        return out


def recommended_vs_not(
    time: np.ndarray,
    event: np.ndarray,
    received: np.ndarray,
    recommended: np.ndarray,
    *,
    tau: float | None = None,
    level: float = 0.95,
) -> FollowedComparison:
    """Kaplan-Meier of patients whose received arm matched the recommendation vs the others.

    Uses lifelines: ``KaplanMeierFitter`` per group, ``logrank_test`` and ``CoxPHFitter`` on the
    followed indicator. The two groups differ in more than the treatment (confounding), so this view is
    descriptive; use :func:`evaluate_policies` for a causal policy value.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> t = rng.exponential(10, 80); e = np.ones(80, bool); a = np.repeat(["A", "B"], 40)
        >>> res = recommended_vs_not(t, e, a, np.array(["A"] * 80))
        >>> res.n_followed, res.n_not_followed
        (40, 40)
    """
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    t, e = _check_survival_data(time, event)
    followed = np.asarray(received, dtype=object) == np.asarray(recommended, dtype=object)
    if followed.all() or not followed.any():
        raise CohortError("all patients are in one group (followed or not); nothing to compare")
    curves, rmst = [], {}
    for label, mask in (("followed", followed), ("not_followed", ~followed)):
        kmf = KaplanMeierFitter(alpha=1 - level).fit(t[mask], e[mask], label=label)
        ci = kmf.confidence_interval_survival_function_
        curves.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": kmf.timeline,
                    "survival": kmf.survival_function_[label].to_numpy(),
                    "ci_low": ci.iloc[:, 0].to_numpy(),
                    "ci_high": ci.iloc[:, 1].to_numpy(),
                }
            )
        )
        rmst[label] = km_rmst(t[mask], e[mask], tau) if tau is not None else None
    lr = logrank_test(t[followed], t[~followed], e[followed], e[~followed])
    df = pd.DataFrame({"time": t, "event": e.astype(int), "followed": followed.astype(int)})
    cph = CoxPHFitter(alpha=1 - level).fit(df, duration_col="time", event_col="event")
    log_ci = cph.confidence_intervals_.loc["followed"].to_numpy()
    return FollowedComparison(
        n_followed=int(followed.sum()),
        n_not_followed=int((~followed).sum()),
        logrank_p=float(lr.p_value),
        hazard_ratio=float(cph.hazard_ratios_["followed"]),
        hr_ci_low=float(np.exp(log_ci[0])),
        hr_ci_high=float(np.exp(log_ci[1])),
        level=level,
        km=pd.concat(curves, ignore_index=True),
        rmst_followed=rmst["followed"],
        rmst_not_followed=rmst["not_followed"],
    )


def cross_fit_folds(
    n_samples: int, n_folds: int = 5, seed: int | None = 0, stratify: np.ndarray | None = None
) -> np.ndarray:
    """Fold id (``0..n_folds-1``) per patient; shuffled, stratified on ``stratify`` when given.

    Example:
        >>> np.bincount(cross_fit_folds(10, n_folds=5, seed=0)).tolist()
        [2, 2, 2, 2, 2]
    """
    if n_folds < 2 or n_folds > n_samples:
        raise ConfigError(f"n_folds must be in [2, n_samples={n_samples}], got {n_folds}")
    folds = np.empty(n_samples, dtype=int)
    dummy = np.zeros(n_samples)
    if stratify is None:
        splits = KFold(n_folds, shuffle=True, random_state=seed).split(dummy)
    else:
        strat = np.asarray(stratify)
        if strat.shape != (n_samples,):
            raise ConfigError(f"stratify must have shape ({n_samples},), got {strat.shape}")
        levels, counts = np.unique(strat, return_counts=True)
        if counts.min() < n_folds:
            raise CohortError(
                f"stratum {levels[counts.argmin()]!r} has {counts.min()} patients, "
                f"fewer than n_folds={n_folds}",
                hint="use fewer folds or merge small strata",
            )
        splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(dummy, strat)
    for k, (_, test_idx) in enumerate(splits):
        folds[test_idx] = k
    return folds


def cross_fit_predict(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_samples: int,
    n_folds: int = 5,
    seed: int | None = 0,
    stratify: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold predictions: every patient is scored by a model fitted on the other folds only.

    Args:
        fit_predict: ``fit_predict(train_idx, test_idx)`` fits on ``train_idx`` and returns predictions for
            ``test_idx`` (first axis of length ``len(test_idx)``, any trailing shape).
        n_samples: number of patients.
        n_folds, seed, stratify: see :func:`cross_fit_folds`.

    Returns:
        array ``(n_samples, ...)`` of out-of-fold predictions in patient order.

    Example:
        >>> out = cross_fit_predict(lambda tr, te: np.full(len(te), len(tr)), 10, n_folds=5)
        >>> out.tolist() == [8] * 10
        True
    """
    folds = cross_fit_folds(n_samples, n_folds, seed, stratify)
    out: np.ndarray | None = None
    filled = np.zeros(n_samples, dtype=bool)
    for k in range(n_folds):
        test_idx = np.flatnonzero(folds == k)
        train_idx = np.flatnonzero(folds != k)
        pred = np.asarray(fit_predict(train_idx.copy(), test_idx.copy()))
        if pred.ndim == 0 or pred.shape[0] != len(test_idx):
            raise ModelError(
                f"fit_predict returned {pred.shape} for fold {k} with {len(test_idx)} test patients",
                hint="return one prediction row per test index, in the order of test_idx",
            )
        if out is None:
            out = np.empty((n_samples,) + pred.shape[1:], dtype=pred.dtype)
        out[test_idx] = pred
        filled[test_idx] = True
    if out is None or not filled.all():  # pragma: no cover - guaranteed by the fold construction
        raise ModelError("cross-fitting left patients without an out-of-fold prediction")
    return out
